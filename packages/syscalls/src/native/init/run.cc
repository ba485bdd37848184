// ns-init: the plan's loop, the messages to the parent, and the steps that change how the
// plan itself runs (sync, cloneParent, detach, waitFifo, procRoot).
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "init.h"

namespace {

struct k_rlimit64 {
  uint64_t cur;
  uint64_t max;
};

__attribute__((noreturn)) void fail(const ns_child_ctx* c, int32_t step, long rc) {
  ns_send(c, step, (int32_t)-rc, c->fail_value);
  ns_quit(1);
}

}  // namespace

long ns_sync(const ns_child_ctx* c, int32_t index, int32_t value) {
  if (c->errfd < 0) return -EBADF;  // detached: nobody to wait for
  ns_send(c, index, NS_MSG_SYNC, value);
  return ns_await_go(c);
}

long ns_await_go(const ns_child_ctx* c) {
  if (c->errfd < 0) return -EBADF;
  char b;
  long r;
  do {
    r = NS_RAW3(SYS_read, c->syncfd, &b, 1);
  } while (r == -EINTR);
  if (r == 1) return 0;
  return r < 0 ? r : -ECANCELED;
}

namespace {

// Joining a pid namespace with setns(2) only affects children: fork into it. The new
// process is a sibling of this one (CLONE_PARENT: a child of the caller of spawn(), which
// watches and reaps it) and runs the rest of the plan; this one reports its pid and exits.
// No CLONE_VM: this process's memory is small and its own, a copy costs little.
// The new process may be visible to a container (it enters the pid namespace of a running
// one for execIn): it never gets the parent's pidfd, the plan's memfd or ns-init's image,
// which are closed first (the parent is checked for the last time just before the fork).
long do_clone_parent(ns_child_ctx* c, int32_t index) {
  ns_watch_parent(c);
  const int drop[3] = {c->parentfd, c->planfd, c->initfd};
  for (int k = 0; k < 3; k++)
    if (drop[k] >= 0) NS_RAW1(SYS_close, drop[k]);
  c->parentfd = c->planfd = c->initfd = -1;
  long pid = NS_RAW5(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) return pid;
  if (pid == 0) {
    ns_watch_parent(c);  // the parent-death signal is not inherited by a fork
    return 0;
  }
  ns_send(c, index, NS_MSG_CHILD, (int32_t)pid);
  ns_quit(0);
}

// Blocks until `ns start` opens the FIFO for reading (runc's exec.fifo), then says so. The
// O_PATH descriptor is reopened through procfs, which only the container's /proc may serve
// by now: what opened must be that very FIFO, or nothing is written (a rootfs with no /proc
// mount could plant a file at the path).
long do_wait_fifo(const ns_child_ctx* c, const ns_step* s) {
  struct stat want, got;
  long r = NS_RAW2(SYS_fstat, s->i[0], &want);
  if (r < 0) return r;
  if (!S_ISFIFO(want.st_mode)) return -EINVAL;
  char path[64];
  ns_fd_path(c->proc ? c->proc : "/proc", s->i[0], path, sizeof path);
  long fd;
  do {
    fd = NS_RAW4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0);
  } while (fd == -EINTR);
  if (fd < 0) return fd;
  r = NS_RAW2(SYS_fstat, fd, &got);
  if (r < 0 || got.st_dev != want.st_dev || got.st_ino != want.st_ino) {
    NS_RAW1(SYS_close, fd);
    return r < 0 ? r : -EXDEV;
  }
  NS_RAW1(SYS_close, s->i[0]);
  char b = '0';
  r = NS_RAW3(SYS_write, fd, &b, 1);
  NS_RAW1(SYS_close, fd);
  return r < 0 ? r : 0;
}

// close_range(2), or one close(2) at a time on kernels without it (before 5.9) or under a
// seccomp profile older than it (EPERM).
void close_range(unsigned first, unsigned last) {
  if (first > last) return;
  long r = NS_RAW3(SYS_close_range, first, last, 0);
  if (r != -ENOSYS && r != -EPERM) return;
  for (unsigned fd = first; fd <= last && fd < 65536; fd++) NS_RAW1(SYS_close, fd);
}

// A created container waits for start: from here on it needs none of its descriptors but
// the standard ones and the exec FIFO of the next waitFifo step. The pipes to the parent,
// its pidfd, the plan's memfd, ns-init's own and the sources of the stdio step are closed:
// a process waiting for start holds nothing of the host's.
void close_for_detach(ns_child_ctx* c, uint32_t index, long keep) {
  long fifo = -1;
  for (uint32_t k = index + 1; k < c->nsteps; k++)
    if (c->steps[k].op == NS_OP_WAIT_FIFO) {
      fifo = c->steps[k].i[0];
      break;
    }
  // The stdio step placed the caller's extra descriptors at 3 .. 3+keep-1: they stay.
  const long first = 3 + (keep > 0 ? keep : 0);
  if (fifo > first) close_range((unsigned)first, (unsigned)fifo - 1);
  close_range(fifo >= first ? (unsigned)fifo + 1 : (unsigned)first, ~0U);
  c->errfd = c->syncfd = c->parentfd = c->planfd = c->initfd = -1;
}

// Execute ns-init again, from its sealed memfd, and go on at the next step: after
// unshare(CLONE_NEWUSER) and setresuid(0) there, so that its memory belongs to the new user
// namespace (an exec records the user namespace it happens in). ns-init stays non-dumpable,
// and then its /proc files may be opened by who holds CAP_SYS_PTRACE in that namespace: the
// namespace's owner (an unprivileged creator that joins a created container with `exec`),
// never a container's process without that capability.
long do_reexec(ns_child_ctx* c, int32_t index) {
  if (c->initfd < 0 || c->planfd < 0) return -EBADF;
  ns_launch* h = c->shared;
  h->errfd = c->errfd;
  h->syncfd = c->syncfd;
  h->parentfd = c->parentfd;
  h->resume = (uint32_t)index + 1;
  const int keep[4] = {c->errfd, c->syncfd, c->parentfd, c->planfd};
  for (int k = 0; k < 4; k++) ns_cloexec(keep[k], false);
  char num[16];
  int n = 0;
  char digits[12];
  long v = c->planfd;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int k = 0; k < n; k++) num[k] = digits[n - 1 - k];
  num[n] = 0;
  const char* argv[3] = {"ns-init", num, nullptr};
  const char* envp[1] = {nullptr};
  long r = NS_RAW5(SYS_execveat, c->initfd, "", argv, envp, AT_EMPTY_PATH);
  for (int k = 0; k < 4; k++) ns_cloexec(keep[k], true);
  return r;
}

long for_each_cap(uint64_t mask, long option, long arg2, bool ignore_einval) {
  for (int cap = 0; cap < 64; cap++) {
    if (!((mask >> cap) & 1)) continue;
    long r = option == PR_CAPBSET_DROP ? NS_RAW2(SYS_prctl, option, cap) : NS_RAW5(SYS_prctl, option, arg2, cap, 0, 0);
    if (r < 0 && !(ignore_einval && r == -EINVAL)) return r;
  }
  return 0;
}

// SIOCSIFFLAGS IFF_UP on the interface named `name` (`lo` in a new network namespace, as runc
// brings it up): a datagram socket to carry the ioctls, closed again. struct ifreq spelled out
// (16-byte name, then the flags; 40 bytes in all) to stay clear of libc's <net/if.h>.
static long link_up(const char* name) {
  struct {
    char name[16];
    short flags;
    char pad[22];
  } ifr = {};
  for (int i = 0; i < 15 && name[i]; i++) ifr.name[i] = name[i];
  long fd = NS_RAW3(SYS_socket, 2 /* AF_INET */, 2 /* SOCK_DGRAM */ | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  long r = NS_RAW3(SYS_ioctl, fd, 0x8913 /* SIOCGIFFLAGS */, &ifr);
  if (r >= 0 && !(ifr.flags & 1 /* IFF_UP */)) {
    ifr.flags |= 1;
    r = NS_RAW3(SYS_ioctl, fd, 0x8914 /* SIOCSIFFLAGS */, &ifr);
  }
  NS_RAW1(SYS_close, fd);
  return r < 0 ? r : 0;
}

long run_step(ns_child_ctx* c, int32_t index, const ns_step* s) {
  switch (s->op) {
    case NS_OP_MOUNT:
      return ns_do_mount(c, s);
    case NS_OP_UMOUNT2:
      return NS_RAW2(SYS_umount2, s->s[0], s->i[0]);
    case NS_OP_MKDIR:
    case NS_OP_TOUCH:
    case NS_OP_MKNOD:
    case NS_OP_SYMLINK:
    case NS_OP_CHOWN:
      return ns_do_create(s);
    case NS_OP_FCHOWN: {
      // runc's fixStdioPermissions: an unmapped id or owner (EINVAL, EPERM) or a read-only
      // file system (EROFS) leaves the descriptor as it is.
      long r = NS_RAW3(SYS_fchown, s->i[0], s->i[1], s->i[2]);
      return r == -EINVAL || r == -EPERM || r == -EROFS ? 0 : r;
    }
    case NS_OP_CHROOT: {
      long r = NS_RAW1(SYS_chroot, s->s[0]);
      return r < 0 ? r : NS_RAW1(SYS_chdir, "/");
    }
    case NS_OP_CHMOD:
      return NS_RAW3(SYS_fchmodat, AT_FDCWD, s->s[0], s->i[0]);
    case NS_OP_PIVOT_ROOT:
      return ns_do_pivot_root(s);
    case NS_OP_MOVE_ROOT:
      return ns_do_move_root(s);
    case NS_OP_DETACH_MOUNT:
      return ns_do_detach_mount(s);
    case NS_OP_IDMAP_OPEN:
      return ns_do_idmap_open(s);
    case NS_OP_IDMAP_MOVE:
      return ns_do_idmap_move(s);
    case NS_OP_PIVOT_ROOT_KEEP:
      return NS_RAW2(SYS_pivot_root, s->s[0], s->s[1]);
    case NS_OP_CHDIR:
      return NS_RAW1(SYS_chdir, s->s[0]);
    case NS_OP_SETHOSTNAME:
      return NS_RAW2(SYS_sethostname, s->s[0], ns_slen(s->s[0]));
    case NS_OP_SETDOMAINNAME:
      return NS_RAW2(SYS_setdomainname, s->s[0], ns_slen(s->s[0]));
    case NS_OP_LINK_UP:
      return link_up(s->s[0]);
    case NS_OP_SETNS:
      return ns_do_setns(s);
    case NS_OP_UNSHARE:
      return NS_RAW1(SYS_unshare, s->i[0]);
    case NS_OP_WRITE_FILE:
      return ns_do_write_file(s);
    case NS_OP_PRCTL:
      return NS_RAW5(SYS_prctl, s->i[0], s->i[1], s->i[2], s->i[3], s->i[4]);
    case NS_OP_CAPBSET_DROP:
      // EINVAL: a number this kernel does not know; "everything not kept" may name them.
      return for_each_cap((uint64_t)s->i[0], PR_CAPBSET_DROP, 0, true);
    case NS_OP_CAPSET:
      return ns_do_capset(s);
    case NS_OP_AMBIENT_RAISE:
      return for_each_cap((uint64_t)s->i[0], PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, false);
    case NS_OP_SETGROUPS:
      return NS_RAW2(SYS_setgroups, s->vlen[0], s->iv);
    case NS_OP_SETRESGID:
    case NS_OP_SETRESUID: {
      long r = NS_RAW3(s->op == NS_OP_SETRESUID ? SYS_setresuid : SYS_setresgid, s->i[0], s->i[1], s->i[2]);
      if (r == 0) {
        // A change of ids sets the dumpable flag to fs.suid_dumpable (which may be 1) and
        // clears the parent-death signal (prctl(2)): back to non-dumpable, the signal set
        // again, and a stop if the parent died meanwhile (as runc restores it after setuid).
        NS_RAW5(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
        ns_watch_parent(c);
      }
      return r;
    }
    case NS_OP_SETRLIMIT: {
      k_rlimit64 lim;
      lim.cur = (uint64_t)s->i[1];
      lim.max = (uint64_t)s->i[2];
      return NS_RAW4(SYS_prlimit64, 0, s->i[0], &lim, 0);
    }
    case NS_OP_IOPRIO_SET:
      return NS_RAW3(SYS_ioprio_set, s->i[0], s->i[1], s->i[2]);
    case NS_OP_SCHED_SETATTR:
      return ns_do_sched_setattr(s);
    case NS_OP_PERSONALITY: {
      long r = NS_RAW1(SYS_personality, s->i[0]);  // the previous persona, or -errno
      return r < 0 ? r : 0;
    }
    case NS_OP_JOIN_SESSION_KEYRING:
      return ns_do_join_session_keyring(s);
    case NS_OP_UMASK:
      NS_RAW1(SYS_umask, s->i[0]);
      return 0;
    case NS_OP_SETSID: {
      long r = NS_RAW0(SYS_setsid);
      return r < 0 ? r : 0;
    }
    case NS_OP_IOCTL:
      return NS_RAW3(SYS_ioctl, s->i[0], s->i[1], s->i[2]);
    case NS_OP_STDIO:
      return ns_do_stdio(c, s);
    case NS_OP_CLOSE_FROM:
      return ns_do_close_from(s);
    case NS_OP_EXECVE:
      return ns_do_execve(c, index, s);
    case NS_OP_EXEC_CHECK:
      return ns_do_exec_check(s);
    case NS_OP_SECCOMP:
      return ns_do_seccomp(s);
    case NS_OP_HOOK:
      return ns_do_hook(c, s);
    case NS_OP_SECCOMP_NOTIFY:
      return ns_do_seccomp_notify(c, index, s);
    case NS_OP_SYNC:
      // i[0]: the parent wrote the go-ahead before this step (spawn()'s answered early sync).
      return s->i[0] != 0 ? ns_await_go(c) : ns_sync(c, index, 0);
    case NS_OP_CLONE_PARENT:
      return do_clone_parent(c, index);
    case NS_OP_PROC_ROOT:
      c->proc = s->s[0];
      return 0;
    case NS_OP_DETACH:
      // spawn() returns on this message; from here on failures only end the process.
      ns_send(c, index, NS_MSG_DETACH);
      close_for_detach(c, (uint32_t)index, s->i[0]);
      return 0;
    case NS_OP_REEXEC:
      return do_reexec(c, index);
    case NS_OP_WAIT_FIFO:
      return do_wait_fifo(c, s);
    case NS_OP_INIT:
      return ns_do_init(c, s);
    case NS_OP_AWAIT_RUN:
      return ns_do_await_run(c, index, s);
    case NS_OP_OPEN_CONSOLE:
      return ns_do_open_console(c, index, s);
    default:
      return -ENOSYS;
  }
}

}  // namespace

void ns_cloexec(int fd, bool on) {
  if (fd >= 0) NS_RAW3(SYS_fcntl, fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

__attribute__((noreturn)) void ns_quit(int status) {
  for (;;) NS_RAW1(SYS_exit_group, status);
}

void ns_send(const ns_child_ctx* c, int32_t step, int32_t code, int32_t value) {
  if (c->errfd < 0) return;  // detached: nobody listens any more
  ns_msg m;
  m.step = step;
  m.code = code;
  m.value = value;
  // 12 bytes on a pipe are written whole or not at all; a failure means the parent is gone.
  NS_RAW3(SYS_write, c->errfd, &m, sizeof m);
}

// Die with the thread that spawned us; and if the parent already died before this took
// effect, stop here (its pidfd polls readable once it has exited).
void ns_watch_parent(const ns_child_ctx* c) {
  if (c->pdeathsig) {
    long r = NS_RAW2(SYS_prctl, PR_SET_PDEATHSIG, c->pdeathsig);
    if (r < 0) fail(c, NS_STEP_PREAMBLE, r);
  }
  if (c->parentfd >= 0) {
    struct pollfd p;
    p.fd = c->parentfd;
    p.events = POLLIN;
    p.revents = 0;
    struct {
      long sec;
      long nsec;
    } now = {0, 0};
    if (NS_RAW5(SYS_ppoll, &p, 1, &now, 0, 8) > 0) ns_quit(1);
  }
}

__attribute__((noreturn)) void ns_run_from(ns_child_ctx* c, uint32_t first) {
  for (uint32_t k = first; k < c->nsteps; k++) {
    const ns_step* s = &c->steps[k];
    long r = run_step(c, (int32_t)k, s);
    if (r == -ENOENT && (s->flags & NS_STEP_IGNORE_MISSING)) r = 0;
    if (r == -EINVAL && (s->flags & NS_STEP_IGNORE_INVALID)) r = 0;
    if (r < 0) fail(c, (int32_t)k, r);
  }
  ns_quit(1);
}

size_t ns_slen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
