// ns-init: an OCI hook run inside the container's namespaces (runtime-spec config.md
// "POSIX-platform Hooks": createContainer before pivot_root, startContainer just before the
// program's execve). Everything about the hook was decided in TypeScript (the path as it
// resolves here, argv, envp, the state JSON, the timeout, where it starts): this forks, execs,
// writes the state to the hook's stdin, and waits.
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <poll.h>
#include <signal.h>

#include "init.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace {

constexpr long kPidfd = 3;  // P_PIDFD
constexpr long kAll = 0;    // P_ALL
constexpr long kExited = 4;  // WEXITED
constexpr long kNoHang = 1;  // WNOHANG
constexpr int kMonotonic = 1;  // CLOCK_MONOTONIC

struct k_timespec {
  long sec;
  long nsec;
};

int64_t now_ms() {
  k_timespec t = {0, 0};
  NS_RAW2(SYS_clock_gettime, kMonotonic, &t);
  return (int64_t)t.sec * 1000 + t.nsec / 1000000;
}

// ppoll(2) on `n` descriptors until `deadline` (ms, CLOCK_MONOTONIC; -1: none). Returns what
// ppoll returns, 0 once the deadline has passed.
long poll_until(struct pollfd* p, unsigned n, int64_t deadline) {
  for (;;) {
    k_timespec left = {0, 0};
    k_timespec* tp = nullptr;
    if (deadline >= 0) {
      int64_t ms = deadline - now_ms();
      if (ms <= 0) return 0;
      left.sec = (long)(ms / 1000);
      left.nsec = (long)(ms % 1000) * 1000000;
      tp = &left;
    }
    long r = NS_RAW5(SYS_ppoll, p, n, tp, 0, 8);
    if (r != -EINTR) return r;
  }
}

// The hook's side of the fork: its own process group (a timeout kills what it started too),
// SIGKILL when ns-init dies, the state pipe as stdin, `out` (when open) as stdout and stderr, then the
// working directory and root the plan says, no other descriptor, execve. On failure the
// errno goes to ns-init over `ep` (close-on-exec: end of file there means the exec worked).
__attribute__((noreturn)) void hook_child(const ns_step* s, int in, int ep) {
  NS_RAW2(SYS_setpgid, 0, 0);
  NS_RAW2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  const long out = s->i[1];
  long r = NS_RAW3(SYS_dup3, in, 0, 0);  // `in` is above 2 (pipe_above_stdio)
  // `out` closed (the container's stderr may be): the hook's 1 and 2 stay as they are.
  const bool have_out = out >= 0 && NS_RAW2(SYS_fcntl, out, F_GETFD) >= 0;
  if (r >= 0 && have_out && out != 1) r = NS_RAW3(SYS_dup3, out, 1, 0);
  if (r >= 0 && have_out && out != 2) r = NS_RAW3(SYS_dup3, out, 2, 0);
  if (r >= 0 && s->s[1]) r = NS_RAW1(SYS_chdir, s->s[1]);
  if (r >= 0 && s->s[2]) r = NS_RAW1(SYS_chroot, s->s[2]);
  if (r >= 0) {
    ns_step from = {};
    from.i[0] = 3;
    r = ns_do_close_from(&from);
  }
  if (r >= 0) r = NS_RAW3(SYS_execve, s->s[0], s->v[0], s->v[1]);
  int32_t e = (int32_t)-r;
  NS_RAW3(SYS_write, ep, &e, sizeof e);
  ns_quit(127);
}

// A pipe whose both ends are above the standard descriptors: were 0, 1 or 2 closed (a stdio
// step may close one), a pipe end there would be taken for the hook's stdio.
long pipe_above_stdio(int fds[2]) {
  long r = NS_RAW2(SYS_pipe2, fds, O_CLOEXEC);
  if (r < 0) return r;
  for (int k = 0; k < 2; k++) {
    if (fds[k] > 2) continue;
    long moved = NS_RAW3(SYS_fcntl, fds[k], F_DUPFD_CLOEXEC, 3);
    if (moved < 0) {
      NS_RAW1(SYS_close, fds[0]);
      NS_RAW1(SYS_close, fds[1]);
      return moved;
    }
    NS_RAW1(SYS_close, fds[k]);
    fds[k] = (int)moved;
  }
  return 0;
}

// Write all of `b` to the non-blocking `fd`: 0 when written, or when the hook ended or closed
// its stdin first (its exit status says how it went); -ETIMEDOUT past the deadline.
long write_all(int fd, int pidfd, const char* b, size_t len, int64_t deadline) {
  while (len > 0) {
    long n = NS_RAW3(SYS_write, fd, b, len);
    if (n > 0) {
      b += n;
      len -= (size_t)n;
      continue;
    }
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return 0;  // EPIPE: the hook does not read its stdin
    struct pollfd p[2] = {{fd, POLLOUT, 0}, {pidfd, POLLIN, 0}};
    long r = poll_until(p, 2, deadline);
    if (r == 0) return -ETIMEDOUT;
    if (r < 0) return r;
    if (p[1].revents) return 0;
  }
  return 0;
}

// The state: its parts in order, with the pid the parent left in the launch header between
// the first two (the plan splits the JSON where the pid goes).
long write_state(ns_child_ctx* c, const ns_step* s, int fd, int pidfd, int64_t deadline) {
  for (uint32_t k = 0; k < s->vlen[2]; k++) {
    if (k == 1) {
      char digits[16];
      int n = 0;
      long v = __atomic_load_n(&c->shared->pid, __ATOMIC_ACQUIRE);
      if (v < 0) v = 0;
      char rev[16];
      do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
      } while (v > 0);
      for (int j = 0; j < n; j++) digits[j] = rev[n - 1 - j];
      long r = write_all(fd, pidfd, digits, (size_t)n, deadline);
      if (r < 0) return r;
    }
    long r = write_all(fd, pidfd, s->v[2][k], ns_slen(s->v[2][k]), deadline);
    if (r < 0) return r;
  }
  return 0;
}

}  // namespace

// i[0]: timeout in ms (0: none); i[1]: the descriptor the hook's stdout and stderr copy (-1:
// left as they are). s[0]: the path to execve; s[1]: chdir there first; s[2]: then chroot
// there. v[0]: argv; v[1]: envp; v[2]: the state JSON in parts (see write_state).
// Returns 0 when the hook exited with status 0. Else the errno of what failed (the exec's:
// ENOENT, EACCES ...), ETIMEDOUT (killed at its timeout; value: the timeout in ms), or
// ECANCELED with the hook's exit status as the message's value (0x100 | signal when killed).
long ns_do_hook(ns_child_ctx* c, const ns_step* s) {
  const int64_t deadline = s->i[0] > 0 ? now_ms() + s->i[0] : -1;
  int in[2], ep[2];
  long r = pipe_above_stdio(in);
  if (r < 0) return r;
  r = pipe_above_stdio(ep);
  if (r < 0) {
    NS_RAW1(SYS_close, in[0]);
    NS_RAW1(SYS_close, in[1]);
    return r;
  }
  int pidfd = -1;
  long pid = NS_RAW5(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
  if (pid == 0) hook_child(s, in[0], ep[1]);
  NS_RAW1(SYS_close, in[0]);
  NS_RAW1(SYS_close, ep[1]);
  if (pid < 0) {
    NS_RAW1(SYS_close, in[1]);
    NS_RAW1(SYS_close, ep[0]);
    return pid;
  }

  int32_t err = 0;
  long n;
  do {
    n = NS_RAW3(SYS_read, ep[0], &err, sizeof err);
  } while (n == -EINTR);
  NS_RAW1(SYS_close, ep[0]);
  if (n == (long)sizeof err) r = err > 0 ? -err : -EIO;  // could not exec (status 127 follows)

  if (r == 0) {
    // A hook that exits without reading makes the write fail with EPIPE: SIGPIPE (whose
    // disposition is the default, to end a process) is blocked meanwhile and dropped after.
    uint64_t pipe_set = 1ull << (SIGPIPE - 1), old = 0;
    NS_RAW4(SYS_rt_sigprocmask, SIG_BLOCK, &pipe_set, &old, 8);
    NS_RAW3(SYS_fcntl, in[1], F_SETFL, O_WRONLY | O_NONBLOCK);
    r = write_state(c, s, in[1], pidfd, deadline);
    NS_RAW1(SYS_close, in[1]);
    in[1] = -1;
    k_timespec zero = {0, 0};
    NS_RAW4(SYS_rt_sigtimedwait, &pipe_set, 0, &zero, 8);
    NS_RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
  }
  if (in[1] >= 0) NS_RAW1(SYS_close, in[1]);
  if (r == 0) {
    struct pollfd p = {pidfd, POLLIN, 0};
    long w = poll_until(&p, 1, deadline);
    if (w == 0) r = -ETIMEDOUT;
    else if (w < 0) r = w;
  }
  if (r == -ETIMEDOUT || (r < 0 && n != (long)sizeof err)) {
    NS_RAW2(SYS_kill, -pid, SIGKILL);  // its process group: what it started goes too
    NS_RAW4(SYS_pidfd_send_signal, pidfd, SIGKILL, 0, 0);
  }
  siginfo_t si;
  si.si_code = 0;
  si.si_status = 0;
  long w;
  do {
    w = NS_RAW5(SYS_waitid, kPidfd, pidfd, &si, kExited, 0);
  } while (w == -EINTR);
  NS_RAW1(SYS_close, pidfd);
  // What the hook left behind and ended meanwhile, reparented here when ns-init is the pid
  // namespace's init: reaped now, not left to the container's program.
  for (;;) {
    siginfo_t z;
    z.si_pid = 0;
    if (NS_RAW5(SYS_waitid, kAll, 0, &z, kExited | kNoHang, 0) != 0 || z.si_pid == 0) break;
  }
  if (r == -ETIMEDOUT) c->fail_value = (int32_t)s->i[0];
  if (r < 0) return r;
  if (w < 0) return w;
  if (si.si_code == CLD_EXITED && si.si_status == 0) return 0;
  c->fail_value = si.si_code == CLD_EXITED ? si.si_status : 0x100 | si.si_status;
  return -ECANCELED;
}
