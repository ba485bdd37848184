// The cloned child: walks the plan making raw system calls only.
//
// It runs on its own stack but in Node's address space (CLONE_VM), so: no allocation, no
// locks, no errno, no glibc wrappers, no JavaScript. Every call is NS_RAW*; failures are
// reported to the parent as {step, errno} and the child exits.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "plan.h"
#include "raw.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace {

struct k_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

struct k_rlimit64 {
  uint64_t cur;
  uint64_t max;
};

__attribute__((noreturn)) void quit(int status) {
  for (;;) NS_RAW1(SYS_exit_group, status);
}

__attribute__((noreturn)) void die(void) { quit(1); }

void send_msg(const ns_child_ctx* c, int32_t step, int32_t code, int32_t value = 0) {
  if (c->errfd < 0) return;  // detached: nobody listens any more
  ns_msg m;
  m.step = step;
  m.code = code;
  m.value = value;
  // A short write cannot happen for 12 bytes on a pipe; a failed one means the parent is gone.
  NS_RAW3(SYS_write, c->errfd, &m, sizeof m);
}

__attribute__((noreturn)) void fail(const ns_child_ctx* c, int32_t step, long rc) {
  send_msg(c, step, (int32_t)-rc);
  die();
}

size_t slen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

// Move an internal descriptor out of the way of the stdio targets [0, n).
long lift_fd(int* fd, int n) {
  if (*fd < 0 || *fd >= n) return 0;
  long r = NS_RAW3(SYS_fcntl, *fd, F_DUPFD_CLOEXEC, n);
  if (r < 0) return r;
  NS_RAW1(SYS_close, *fd);
  *fd = (int)r;
  return 0;
}

long do_stdio(ns_child_ctx* c, const ns_step* s) {
  uint32_t n = s->vlen[0];
  if (n > 64) return -EINVAL;
  long r;
  if ((r = lift_fd(&c->errfd, (int)n)) < 0) return r;
  if ((r = lift_fd(&c->syncfd, (int)n)) < 0) return r;
  if ((r = lift_fd(&c->parentfd, (int)n)) < 0) return r;
  int tmp[64];
  for (uint32_t i = 0; i < n; i++) {
    int src = (int)s->iv[i];
    if (src == -1) {
      tmp[i] = -1;
      continue;
    }
    r = NS_RAW3(SYS_fcntl, src, F_DUPFD_CLOEXEC, n);
    if (r < 0) return r;
    tmp[i] = (int)r;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (tmp[i] == -1) {
      NS_RAW1(SYS_close, i);
      continue;
    }
    r = NS_RAW3(SYS_dup3, tmp[i], i, 0);
    if (r < 0) return r;
    NS_RAW1(SYS_close, tmp[i]);
    // As libuv's uv_spawn: the standard descriptors are blocking for the new program (a
    // non-blocking pipe shared with Node would make its writes fail with EAGAIN).
    if (i < 3) {
      long fl = NS_RAW2(SYS_fcntl, i, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK)) NS_RAW3(SYS_fcntl, i, F_SETFL, fl & ~O_NONBLOCK);
    }
  }
  return 0;
}

long do_close_from(const ns_step* s) {
  long r = NS_RAW3(SYS_close_range, (unsigned)s->i[0], ~0U, CLOSE_RANGE_CLOEXEC);
  if (r != -ENOSYS && r != -EINVAL) return r;
  k_rlimit64 lim;
  r = NS_RAW4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &lim);
  if (r < 0) return r;
  for (uint64_t fd = (uint64_t)s->i[0]; fd < lim.cur && fd < (1u << 20); fd++)
    NS_RAW3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
  return 0;
}

long do_pivot_root(const ns_step* s) {
  long r = NS_RAW1(SYS_chdir, s->s[0]);
  if (r < 0) return r;
  r = NS_RAW2(SYS_pivot_root, ".", ".");
  if (r < 0) return r;
  // The old root is now stacked on "."; keep its unmount from propagating anywhere.
  r = NS_RAW5(SYS_mount, 0, ".", 0, MS_SLAVE | MS_REC, 0);
  if (r < 0) return r;
  r = NS_RAW2(SYS_umount2, ".", MNT_DETACH);
  if (r < 0) return r;
  return NS_RAW1(SYS_chdir, "/");
}

long do_setns(const ns_step* s) {
  if (s->i[1] >= 0) return NS_RAW2(SYS_setns, s->i[1], s->i[0]);
  long fd = NS_RAW4(SYS_openat, AT_FDCWD, s->s[0], O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  long r = NS_RAW2(SYS_setns, fd, s->i[0]);
  NS_RAW1(SYS_close, fd);
  return r;
}

long do_write_file(const ns_step* s) {
  long fd = NS_RAW4(SYS_openat, AT_FDCWD, s->s[0], O_WRONLY | O_TRUNC | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  size_t len = slen(s->s[1]);
  long r = NS_RAW3(SYS_write, fd, s->s[1], len);
  NS_RAW1(SYS_close, fd);
  if (r < 0) return r;
  return (size_t)r == len ? 0 : -EIO;
}

long do_capset(const ns_step* s) {
  struct __user_cap_header_struct hdr;
  struct __user_cap_data_struct data[2];
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  for (int k = 0; k < 2; k++) {
    data[k].effective = (uint32_t)((uint64_t)s->i[0] >> (32 * k));
    data[k].permitted = (uint32_t)((uint64_t)s->i[1] >> (32 * k));
    data[k].inheritable = (uint32_t)((uint64_t)s->i[2] >> (32 * k));
  }
  return NS_RAW2(SYS_capset, &hdr, data);
}

// access(X_OK) of each candidate, as execve would try them: 0 for the first executable one,
// else EACCES if any candidate gave it, else the last error (ENOENT ...).
long do_exec_check(const ns_step* s) {
  long err = -ENOENT;
  bool eacces = false;
  for (uint32_t k = 0; k < s->vlen[0]; k++) {
    long r = NS_RAW3(SYS_faccessat, AT_FDCWD, s->v[0][k], X_OK);
    if (r == 0) return 0;
    if (r == -EACCES) eacces = true;
    err = r;
  }
  return eacces ? -EACCES : err;
}

long do_execve(ns_child_ctx* c, const ns_step* s) {
  // The parent reads this once the error pipe reaches end of file (close-on-exec): no
  // message, so it is not woken while the exec is still under way.
  __atomic_store_n(&c->execing, 1, __ATOMIC_RELEASE);
  long err = -ENOENT;
  bool eacces = false;
  for (uint32_t k = 0; k < s->vlen[0]; k++) {
    long r = NS_RAW3(SYS_execve, s->v[0][k], s->v[1], s->v[2]);
    if (r == -EACCES) {
      eacces = true;
    } else if (r != -ENOENT && r != -ENOTDIR) {
      return r;
    }
    err = r;
  }
  return eacces ? -EACCES : err;
}

long do_sync(const ns_child_ctx* c, int32_t index) {
  send_msg(c, index, NS_MSG_SYNC);
  char b;
  long r;
  do {
    r = NS_RAW3(SYS_read, c->syncfd, &b, 1);
  } while (r == -EINTR);
  if (r == 1) return 0;
  return r < 0 ? r : -ECANCELED;
}

long do_clone_parent(ns_child_ctx* c, int32_t index);

// statfs(2) f_flags (ST_*) as mount(2) flags (MS_*).
long mount_flags_of(const char* target, long* out) {
  struct statfs sf;
  long r = NS_RAW2(SYS_statfs, target, &sf);
  if (r < 0) return r;
  long f = 0;
  unsigned long st = (unsigned long)sf.f_flags;
  if (st & ST_RDONLY) f |= MS_RDONLY;
  if (st & ST_NOSUID) f |= MS_NOSUID;
  if (st & ST_NODEV) f |= MS_NODEV;
  if (st & ST_NOEXEC) f |= MS_NOEXEC;
  if (st & ST_NOATIME) f |= MS_NOATIME;
  if (st & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (st & ST_RELATIME) f |= MS_RELATIME;
  if (!(st & (ST_NOATIME | ST_RELATIME))) f |= MS_STRICTATIME;
#ifdef ST_NOSYMFOLLOW
  if (st & ST_NOSYMFOLLOW) f |= MS_NOSYMFOLLOW;
#endif
  *out = f;
  return 0;
}

struct k_open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
#define K_RESOLVE_NO_SYMLINKS 0x04
#define K_RESOLVE_NO_MAGICLINKS 0x02

// open(2) `path` with `flags`, refusing to follow any symlink on the way (openat2
// RESOLVE_NO_SYMLINKS). Paths the planner hands over were resolved inside the rootfs
// already, so a symlink found now was planted to lead the step out of it.
long open_nofollow(const char* path, long flags) {
  k_open_how how;
  how.flags = (uint64_t)flags | O_CLOEXEC;
  how.mode = 0;
  how.resolve = K_RESOLVE_NO_SYMLINKS | K_RESOLVE_NO_MAGICLINKS;
  return NS_RAW4(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
}

// The parent directory of `path`, opened without following symlinks, and its last
// component copied to `name` (at most 255 bytes). Returns the descriptor or -errno.
long open_parent_nofollow(const char* path, char* name) {
  char dir[4096];
  size_t n = slen(path);
  if (n == 0 || n >= sizeof dir) return -ENAMETOOLONG;
  while (n > 1 && path[n - 1] == '/') n--;  // "a/b/" is "a/b"
  size_t slash = n;
  while (slash > 0 && path[slash - 1] != '/') slash--;
  size_t len = n - slash;
  if (len == 0 || len > 255) return -EINVAL;
  for (size_t k = 0; k < len; k++) name[k] = path[slash + k];
  name[len] = 0;
  if (slash == 0) {
    dir[0] = '.';
    dir[1] = 0;
  } else {
    size_t d = slash > 1 ? slash - 1 : 1;  // keep "/" for a top-level name
    for (size_t k = 0; k < d; k++) dir[k] = path[k];
    dir[d] = 0;
  }
  return open_nofollow(dir, O_PATH | O_DIRECTORY);
}

// "<proc>/self/fd/<fd>" into buf (no allocation).
const char* fd_path(const char* proc, long fd, char* buf, size_t size) {
  static const char mid[] = "/self/fd/";
  size_t at = 0;
  for (const char* p = proc; *p && at < size - 32; p++) buf[at++] = *p;
  for (const char* p = mid; *p; p++) buf[at++] = *p;
  char digits[24];
  int nd = 0;
  do {
    digits[nd++] = (char)('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  while (nd > 0) buf[at++] = digits[--nd];
  buf[at] = 0;
  return buf;
}

long do_mount(const ns_child_ctx* c, const ns_step* s) {
  long flags = s->i[0];
  const char* target = s->s[1];
  long tfd = -1;
  char tbuf[512];
  if ((s->flags & NS_STEP_NOFOLLOW) && target) {
    tfd = open_nofollow(target, O_PATH);
    if (tfd < 0) return tfd;
    // Mount onto the very directory just opened, through its /proc/self/fd magic link.
    if (c->proc) target = fd_path(c->proc, tfd, tbuf, sizeof tbuf);
  }
  long r = 0;
  if (s->flags & NS_STEP_PRESERVE_FLAGS) {
    long have = 0;
    r = mount_flags_of(target, &have);
    if (r < 0) {
      if (tfd >= 0) NS_RAW1(SYS_close, tfd);
      return r;
    }
    // An explicit atime mode in the step wins over the current one.
    const long atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
    if (flags & atime) have &= ~atime;
    flags |= have;
  }
  r = NS_RAW5(SYS_mount, s->s[0], target, s->s[2], flags, s->s[3]);
  if (tfd >= 0) NS_RAW1(SYS_close, tfd);
  return r;
}

// mkdir, mknod, symlink and touch relative to a parent opened without following symlinks.
long do_create(const ns_step* s) {
  const char* path = s->op == NS_OP_SYMLINK ? s->s[1] : s->s[0];
  long dirfd = AT_FDCWD;
  char name[256];
  const char* at = path;
  if (s->flags & NS_STEP_NOFOLLOW) {
    dirfd = open_parent_nofollow(path, name);
    if (dirfd < 0) return dirfd;
    at = name;
  }
  long r;
  switch (s->op) {
    case NS_OP_MKDIR:
      r = NS_RAW3(SYS_mkdirat, dirfd, at, s->i[0]);
      if (r == -EEXIST && s->i[1]) r = 0;
      break;
    case NS_OP_MKNOD:
      r = NS_RAW4(SYS_mknodat, dirfd, at, s->i[0], makedev((unsigned)s->i[1], (unsigned)s->i[2]));
      break;
    case NS_OP_SYMLINK:
      r = NS_RAW3(SYS_symlinkat, s->s[0], dirfd, at);
      if (r == -EEXIST && s->i[0]) r = 0;
      break;
    default: {  // NS_OP_TOUCH: read-only open, so an existing file on a read-only mount is fine
      r = NS_RAW4(SYS_openat, dirfd, at, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, s->i[0]);
      if (r >= 0) r = NS_RAW1(SYS_close, r);
      break;
    }
  }
  if (dirfd >= 0) NS_RAW1(SYS_close, dirfd);
  return r;
}

long run_step(ns_child_ctx* c, int32_t index, const ns_step* s) {
  switch (s->op) {
    case NS_OP_MOUNT:
      return do_mount(c, s);
    case NS_OP_UMOUNT2:
      return NS_RAW2(SYS_umount2, s->s[0], s->i[0]);
    case NS_OP_MKDIR:
    case NS_OP_TOUCH:
    case NS_OP_MKNOD:
    case NS_OP_SYMLINK:
      return do_create(s);
    case NS_OP_CHMOD:
      return NS_RAW3(SYS_fchmodat, AT_FDCWD, s->s[0], s->i[0]);
    case NS_OP_PIVOT_ROOT:
      return do_pivot_root(s);
    case NS_OP_PIVOT_ROOT_KEEP:
      return NS_RAW2(SYS_pivot_root, s->s[0], s->s[1]);
    case NS_OP_CHDIR:
      return NS_RAW1(SYS_chdir, s->s[0]);
    case NS_OP_SETHOSTNAME:
      return NS_RAW2(SYS_sethostname, s->s[0], slen(s->s[0]));
    case NS_OP_SETNS:
      return do_setns(s);
    case NS_OP_UNSHARE:
      return NS_RAW1(SYS_unshare, s->i[0]);
    case NS_OP_WRITE_FILE:
      return do_write_file(s);
    case NS_OP_PRCTL:
      return NS_RAW5(SYS_prctl, s->i[0], s->i[1], s->i[2], s->i[3], s->i[4]);
    case NS_OP_CAPBSET_DROP:
      for (int cap = 0; cap < 64; cap++) {
        if (!(((uint64_t)s->i[0] >> cap) & 1)) continue;
        long r = NS_RAW2(SYS_prctl, PR_CAPBSET_DROP, cap);
        if (r < 0 && r != -EINVAL) return r;
      }
      return 0;
    case NS_OP_CAPSET:
      return do_capset(s);
    case NS_OP_AMBIENT_RAISE:
      for (int cap = 0; cap < 64; cap++) {
        if (!(((uint64_t)s->i[0] >> cap) & 1)) continue;
        long r = NS_RAW5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
        if (r < 0) return r;
      }
      return 0;
    case NS_OP_SETGROUPS:
      return NS_RAW2(SYS_setgroups, s->vlen[0], s->iv);
    case NS_OP_SETRESGID:
      return NS_RAW3(SYS_setresgid, s->i[0], s->i[1], s->i[2]);
    case NS_OP_SETRESUID:
      return NS_RAW3(SYS_setresuid, s->i[0], s->i[1], s->i[2]);
    case NS_OP_SETRLIMIT: {
      k_rlimit64 lim;
      lim.cur = (uint64_t)s->i[1];
      lim.max = (uint64_t)s->i[2];
      return NS_RAW4(SYS_prlimit64, 0, s->i[0], &lim, 0);
    }
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
      return do_stdio(c, s);
    case NS_OP_CLOSE_FROM:
      return do_close_from(s);
    case NS_OP_EXECVE:
      return do_execve(c, s);
    case NS_OP_EXEC_CHECK:
      return do_exec_check(s);
    case NS_OP_SYNC:
      return do_sync(c, index);
    case NS_OP_CLONE_PARENT:
      return do_clone_parent(c, index);
    case NS_OP_PROC_ROOT:
      c->proc = s->s[0];
      return 0;
    case NS_OP_DETACH:
      // spawn() returns on this message; from here on failures only end the process
      // (the error pipe stays open, unwritten, until execve closes it).
      send_msg(c, index, NS_MSG_DETACH);
      c->errfd = -c->errfd - 2;  // keep the descriptor (closed at execve), stop writing
      return 0;
    case NS_OP_WAIT_FIFO: {
      // Blocks until `ns start` opens the other end (runc's exec.fifo), then says so.
      long fd;
      do {
        fd = NS_RAW4(SYS_openat, AT_FDCWD, s->s[0], O_WRONLY | O_CLOEXEC, 0);
      } while (fd == -EINTR);
      if (fd < 0) return fd;
      char b = '0';
      long r = NS_RAW3(SYS_write, fd, &b, 1);
      NS_RAW1(SYS_close, fd);
      return r < 0 ? r : 0;
    }
    default:
      return -ENOSYS;
  }
}

// Die with the thread that spawned us; and if the parent already died before this took
// effect, stop here (its pidfd polls readable once it has exited).
void watch_parent(const ns_child_ctx* c) {
  if (c->pdeathsig) {
    long r = NS_RAW2(SYS_prctl, PR_SET_PDEATHSIG, c->pdeathsig);
    if (r < 0) fail(c, NS_STEP_PREAMBLE, r);
  }
  if (c->parentfd >= 0) {
    struct pollfd p;
    p.fd = c->parentfd;
    p.events = POLLIN;
    p.revents = 0;
    struct k_timespec {
      long sec;
      long nsec;
    } now = {0, 0};
    if (NS_RAW5(SYS_ppoll, &p, 1, &now, 0, 8) > 0) die();
  }
}

__attribute__((noreturn)) void run_from(ns_child_ctx* c, uint32_t first) {
  for (uint32_t k = first; k < c->nsteps; k++) {
    const ns_step* s = &c->steps[k];
    long r = run_step(c, (int32_t)k, s);
    if (r == -ENOENT && (s->flags & NS_STEP_IGNORE_MISSING)) r = 0;
    if (r < 0) fail(c, (int32_t)k, r);
  }
  die();
}

// The process a cloneParent step makes: a sibling of its creator (its parent is the caller
// of spawn()), inside the pid namespace the creator joined. It runs the rest of the plan.
int grandchild_main(void* arg) {
  ns_child_ctx* c = (ns_child_ctx*)arg;
  watch_parent(c);
  run_from(c, c->resume);
}

long do_clone_parent(ns_child_ctx* c, int32_t index) {
  c->resume = (uint32_t)index + 1;
  // glibc's clone() is a thin assembly wrapper (it writes errno only on failure); the new
  // process shares this memory and runs on the second stack the parent mapped.
  int pid = clone(grandchild_main, c->stack2, CLONE_VM | CLONE_PARENT | SIGCHLD, c);
  if (pid < 0) return -errno;  // errno of this thread-shared TLS, written just now by clone()
  send_msg(c, index, NS_MSG_CHILD, pid);
  quit(0);
}

}  // namespace

extern "C" int ns_child_main(void* arg) {
  ns_child_ctx* c = (ns_child_ctx*)arg;

  // Node's handlers must never run here: default every disposition (ignored ones too,
  // which would survive execve), then unmask everything the parent blocked around clone.
  k_sigaction dfl;
  dfl.handler = SIG_DFL;
  dfl.flags = 0;
  dfl.restorer = 0;
  dfl.mask = 0;
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    NS_RAW4(SYS_rt_sigaction, sig, &dfl, 0, 8);
  }
  uint64_t none = 0;
  NS_RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);

  watch_parent(c);
  run_from(c, 0);
}
