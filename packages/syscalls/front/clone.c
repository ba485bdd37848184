// The front's side of cloning for a warm `ns serve` (docs/cli-start.md, "create through the
// front"; wire format in packages/syscalls/src/native/spawn_via.cc, which sends the request).
// The server has planned the container; the front only clones, so that the container's process
// is the child of the `ns` a client started, and execs ns-init in the child exactly as the
// addon's stub does (stub.cc): default signal dispositions, nothing blocked, the parent-death
// signal, only the named descriptors across the exec, execveat(2) of the sealed ns-init memfd.
// Its exe is then that memfd, never this front nor the host's node (CVE-2019-5736).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "clone.h"
#include "../src/native/scm.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/native/sysnums.h"


#define NS_STEP_INIT (-2)  // plan.h: the clone could not exec ns-init

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_i32(unsigned char *p, int32_t v) {
  uint32_t u = (uint32_t)v;
  for (int k = 0; k < 4; k++) p[k] = (unsigned char)(u >> (8 * k));
}

// The child: put every descriptor at its number, then exec ns-init. Never returns.
static void child_exec(uint32_t pdeathsig, int initfd, int planfd, int errfd, const int32_t *numbers, const int *got, size_t n) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);  // KILL, STOP and glibc's own fail: fine
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (pdeathsig && prctl(PR_SET_PDEATHSIG, (unsigned long)pdeathsig) < 0) _exit(127);

  // Lift every received descriptor above all the numbers first, so no dup2 overwrites one
  // not yet placed; everything else becomes close-on-exec, the placed ones are not.
  int base = 3;
  for (size_t k = 0; k < n; k++) {
    if (numbers[k] >= base) base = numbers[k] + 1;
    if (got[k] >= base) base = got[k] + 1;
  }
  int high[NS_FRONT_MAX_FDS];
  for (size_t k = 0; k < n; k++) {
    high[k] = fcntl(got[k], F_DUPFD_CLOEXEC, base);
    if (high[k] < 0) _exit(127);
  }
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (size_t k = 0; k < n; k++)
    if (dup2(high[k], numbers[k]) < 0) _exit(127);

  char plan[16];
  int len = 0;
  char digits[16];
  unsigned v = (unsigned)planfd;
  do digits[len++] = (char)('0' + v % 10);
  while ((v /= 10) && len < 15);
  for (int k = 0; k < len; k++) plan[k] = digits[len - 1 - k];
  plan[len] = 0;
  char *argv[] = {(char *)"ns-init", plan, NULL};
  char *envp[] = {NULL};
  syscall(SYS_execveat, initfd, "", argv, envp, AT_EMPTY_PATH);
  // As stub.cc reports it: { step NS_STEP_INIT, errno, 0 } on the error pipe.
  int32_t m[3] = {NS_STEP_INIT, errno, 0};
  ssize_t w = write(errfd, m, sizeof m);
  (void)w;
  _exit(127);
}

// Send the answer: 'P' and the pid with the pidfd, or 'E' and an errno.
static int answer(int s, char tag, int32_t value, int pidfd) {
  unsigned char buf[5];
  buf[0] = (unsigned char)tag;
  put_i32(buf + 1, value);
  return ns_scm_send(s, buf, sizeof buf, &pidfd, pidfd >= 0 ? 1 : 0, MSG_NOSIGNAL) == (ssize_t)sizeof buf ? 0 : -1;
}

// clone3(2) into the cgroup2 directory `cgroupfd` (CLONE_INTO_CGROUP, Linux >= 5.7), fork-like
// (no CLONE_VM, the child on a copy of this stack): the pid (0 in the child), or -errno.
static long clone_into_cgroup(uint32_t flags, int cgroupfd, int *pidfd) {
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
  } args;
  memset(&args, 0, sizeof args);
  args.flags = (uint64_t)flags | CLONE_PIDFD | CLONE_INTO_CGROUP;
  args.pidfd = (uint64_t)(uintptr_t)pidfd;
  args.exit_signal = SIGCHLD;
  args.cgroup = (uint64_t)cgroupfd;
  long r = syscall(SYS_clone3, &args, sizeof args);
  return r < 0 ? -errno : r;
}

int ns_front_clone(int s, const unsigned char *body, size_t len, const int *got, size_t ngot, struct ns_front_child *child) {
  // u32 flags, u32 pdeathsig, i32 initfd, i32 planfd, i32 errfd, u32 n, i32 numbers[n], u32 cgroup
  if (len < 28) return -1;
  uint32_t flags = get_u32(body), pdeathsig = get_u32(body + 4);
  int initfd = (int32_t)get_u32(body + 8), planfd = (int32_t)get_u32(body + 12), errfd = (int32_t)get_u32(body + 16);
  uint32_t n = get_u32(body + 20);
  if (n > NS_FRONT_MAX_FDS || len != 28 + 4 * (size_t)n || pdeathsig >= NSIG) return -1;
  uint32_t cg = get_u32(body + 24 + 4 * (size_t)n);
  if (cg > 1 || ngot != n + cg) return -1;
  int32_t numbers[NS_FRONT_MAX_FDS];
  int init = -1, plan = -1, err = -1;
  for (uint32_t k = 0; k < n; k++) {
    numbers[k] = (int32_t)get_u32(body + 24 + 4 * k);
    if (numbers[k] < 0) return -1;
    if (numbers[k] == initfd) init = numbers[k];
    if (numbers[k] == planfd) plan = numbers[k];
    if (numbers[k] == errfd) err = numbers[k];
  }
  // ns-init's image, its plan and its error pipe must be among what the child gets.
  if (init < 0 || plan < 0 || err < 0) return -1;
  // Only namespace flags (and CLONE_PARENT-free): the front adds what the answer needs.
  const uint32_t allowed = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (flags & ~allowed) return answer(s, 'E', EINVAL, -1);

  int pidfd = -1;
  // Born in the container's cgroup when the server sent it (cgroup v2) and the kernel can; else
  // a plain clone, and the server's sync step moves the child (naming what the kernel refuses).
  long pid = cg ? clone_into_cgroup(flags, got[n], &pidfd) : -ENOSYS;
  int into = pid >= 0;
  if (pid < 0) {
    pidfd = -1;
    pid = syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), 0L, &pidfd, 0L, 0L);
    if (pid < 0) return answer(s, 'E', errno, -1);
  }
  if (pid == 0) child_exec(pdeathsig, init, plan, err, numbers, got, n);
  child->pid = (int)pid;
  child->pidfd = pidfd;
  return answer(s, into ? 'C' : 'P', (int32_t)pid, pidfd);
}

void ns_front_child_done(struct ns_front_child *child, int status, int keep) {
  if (child->pid <= 0) return;
  if (status != 0) {
    // A failed create: the server has killed what it set up; take what is ours down and reap
    // it, and whatever it forked into our care (CLONE_PARENT), so no zombie reaches the client.
    syscall(SYS_pidfd_send_signal, child->pidfd, SIGKILL, NULL, 0);
    while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR) {
    }
  } else if (child->pid != keep) {
    // It handed the container to a process it forked (CLONE_PARENT, also ours) and exits.
    while (waitpid(child->pid, NULL, __WALL) < 0 && errno == EINTR) {
    }
  }
  close(child->pidfd);
  child->pid = 0;
  child->pidfd = -1;
}
