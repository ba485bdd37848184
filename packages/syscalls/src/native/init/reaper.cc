// ns-init: the `init` step, a minimal init for the container's pid 1 (tini's and catatonit's
// job, with no binary to ship). ns-init forks the process that goes on with the plan and execs
// the program; ns-init itself stays behind as the init:
// - every signal it can catch is blocked and taken with rt_sigtimedwait(2); each one but
//   SIGCHLD is sent on to the program (kill(2) of its pid, as tini without -g). The program is
//   not pid 1, so its default actions apply: SIGPIPE, SIGTERM, SIGXFSZ kill it as on the host.
// - SIGCHLD: every child is reaped (wait4(-1, WNOHANG)), orphans included: they are reparented
//   to pid 1, or to this process as a child subreaper (PR_SET_CHILD_SUBREAPER) without a pid
//   namespace of its own.
// - once the program is reaped, its wait status goes into the launch header the parent shares
//   (ns_launch.wstatus and .maxrss_kib, the largest resident set of what it reaped, then
//   .exited) and the init exits with the status a shell reports:
//   the program's exit code, or 128 + N for signal N (a pid-namespace init cannot die of a
//   signal it sends itself, so the parent reads the exact status from the header instead).
//
// The init drops every capability it has (it needs none; see drop_capabilities()).
//
// The program's process gets a process group of its own (setpgid) and, with a terminal, becomes
// its foreground group (TIOCSPGRP), as tini's isolate_child(): ^C and ^Z reach the program, not
// the init. The init closes every descriptor it holds (stdio, the pipes to the parent: the
// parent sees end of file on the error pipe once the program has exec'd) and keeps only the
// header page of the shared plan memory.
#include <errno.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "init.h"

#ifndef TIOCSPGRP
#define TIOCSPGRP 0x5410
#endif

namespace {

constexpr long kSigsetBytes = 8;  // the kernel's sigset_t: 64 signals

// The program has been reaped: say how it ended (shared memory, then the flag), and exit as a
// shell would report it. Never returns.
__attribute__((noreturn)) void finish(ns_launch* shared, int wstatus) {
  if (shared) {
    struct rusage ru;
    long r = NS_RAW2(SYS_getrusage, RUSAGE_CHILDREN, &ru);
    uint64_t kib = r == 0 && ru.ru_maxrss > 0 ? (uint64_t)ru.ru_maxrss : 0;
    __atomic_store_n(&shared->maxrss_kib, (uint32_t)(kib > 0xffffffffu ? 0xffffffffu : kib), __ATOMIC_RELAXED);
    __atomic_store_n(&shared->wstatus, wstatus, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->exited, 1u, __ATOMIC_RELEASE);
  }
  ns_quit(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + (WTERMSIG(wstatus) & 0x7f));
}

// Reap every child that has exited; finish() when one of them is the program.
void reap(ns_launch* shared, long program, int flags) {
  for (;;) {
    int st = 0;
    long p = NS_RAW4(SYS_wait4, -1, &st, flags, 0);
    if (p == -EINTR) continue;
    if (p <= 0) return;  // none left to reap now (0), or no children at all (ECHILD)
    if (p == program) finish(shared, st);
  }
}

// The init's loop: forward signals, reap children, until the program is gone.
__attribute__((noreturn)) void serve(ns_launch* shared, long program, const uint64_t* all) {
  for (;;) {
    alignas(8) unsigned char info[128];
    long sig = NS_RAW4(SYS_rt_sigtimedwait, all, info, 0, kSigsetBytes);
    if (sig == -EINTR || sig == -EAGAIN) continue;
    if (sig < 0) {
      // Signals cannot be waited for (a seccomp profile that refuses rt_sigtimedwait): no
      // forwarding, but still reap until the program is gone.
      reap(shared, program, 0);
      ns_quit(255);  // no children left, and the program was not among them
    }
    if (sig == SIGCHLD) {
      reap(shared, program, WNOHANG);
      continue;
    }
    NS_RAW2(SYS_kill, program, sig);
  }
}

// Drop what the init holds of the parent's: every descriptor (the pipes to the parent, so
// that the error pipe reaches end of file when the program execs; stdio; the sources of the
// stdio step, which ns-init inherited and only the program's execve would have closed) and the
// plan's memory past the launch header.
void release(ns_child_ctx* c) {
  if (NS_RAW3(SYS_close_range, 0, ~0U, 0) == -ENOSYS) {
    struct {
      uint64_t cur, max;
    } lim = {1024, 1024};
    NS_RAW4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &lim);
    for (uint64_t fd = 0; fd < lim.cur && fd < (1u << 20); fd++) NS_RAW1(SYS_close, fd);
  }
  c->errfd = c->syncfd = c->parentfd = c->planfd = c->initfd = -1;
  if (c->shared) {
    uint64_t total = (uint64_t)c->shared->plan_offset + c->shared->plan_bytes;
    uint64_t mapped = (total + 4095) & ~(uint64_t)4095;
    if (mapped > 4096) NS_RAW2(SYS_munmap, (char*)c->shared + 4096, mapped - 4096);
  }
}

// The init needs no privilege: kill(2) of its own child (same user ids), wait4(2),
// rt_sigtimedwait(2). It keeps none: an empty ambient, inheritable, permitted and effective
// set, as tini exec'd as the container's user would have (without this, the sets the plan gave
// a non-root user, which its execve would have cleared, stayed with pid 1). False when the
// kernel refused (a seccomp profile denying capset or prctl).
bool drop_capabilities() {
  if (NS_RAW5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return false;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
  return NS_RAW2(SYS_capset, &hdr, data) == 0;
}

}  // namespace

long ns_do_init(ns_child_ctx* c, const ns_step* s) {
  // Blocked before the fork: no signal sent to the init between the fork and its loop is lost
  // (blocked signals are queued even for a pid-namespace init, which ignores unhandled ones).
  uint64_t all = ~(uint64_t)0, old = 0;
  long r = NS_RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, kSigsetBytes);
  if (r < 0) return r;
  // Orphans of the program come to this process even when it is not pid 1 (no new pid namespace).
  NS_RAW5(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  long init = NS_RAW0(SYS_getpid);
  long pid = NS_RAW5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    NS_RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, kSigsetBytes);
    return pid;
  }
  if (pid == 0) {
    // The program's process: the rest of the plan (execve) runs here.
    NS_RAW5(SYS_prctl, PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    r = NS_RAW2(SYS_setpgid, 0, 0);
    if (r < 0) return r;
    if (s->i[0] >= 0) {
      // SIGTTOU is blocked here, so a background group may take the terminal (tcsetpgrp(3)).
      int pgrp = (int)NS_RAW0(SYS_getpid);
      r = NS_RAW3(SYS_ioctl, s->i[0], TIOCSPGRP, &pgrp);
      if (r < 0 && r != -ENOTTY && r != -ENXIO) return r;
    }
    // Die with the init (it only dies of SIGKILL): without a pid namespace of its own nothing
    // else would end the program then.
    NS_RAW2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
    if (NS_RAW0(SYS_getppid) != init) ns_quit(1);
    return NS_RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, kSigsetBytes);
  }
  ns_launch* shared = c->shared;
  release(c);
  if (!drop_capabilities()) {
    // Never an init with more privilege than asked: the program goes too (its status, SIGKILL,
    // is recorded as usual).
    NS_RAW2(SYS_kill, pid, SIGKILL);
    reap(shared, pid, 0);
    ns_quit(255);
  }
  serve(shared, pid, &all);
}
