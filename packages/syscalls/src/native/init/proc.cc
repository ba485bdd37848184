// ns-init: the process's descriptors, namespaces joined by descriptor, capabilities, and
// the final execve(2).
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <unistd.h>

#include "init.h"
#include "../sysnums.h"

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

namespace {

// Move an internal descriptor out of the way of the stdio targets [0, n).
long lift_fd(int* fd, int n) {
  if (*fd < 0 || *fd >= n) return 0;
  long r = NS_RAW3(SYS_fcntl, *fd, F_DUPFD_CLOEXEC, n);
  if (r < 0) return r;
  NS_RAW1(SYS_close, *fd);
  *fd = (int)r;
  return 0;
}

// The descriptor slot of a step after the stdio step that names one of the parent's
// descriptors by number (those that crossed the exec into ns-init: see start.cc CheckPlan),
// or null.
int64_t* named_fd(ns_step* s) {
  switch (s->op) {
    case NS_OP_SETNS:
      return &s->i[1];  // -1: joined by path
    case NS_OP_WAIT_FIFO:
    case NS_OP_IDMAP_OPEN:
    case NS_OP_IDMAP_MOVE:
      return &s->i[0];
    default:
      return nullptr;
  }
}

// Move each descriptor that a step after `at` names, and that the stdio step is about to
// replace or close (a number below n), above n: every step naming that number then names the
// copy (the idmapOpen and idmapMove of one mount share theirs). The copies are close-on-exec,
// as they only serve ns-init's own steps. A reexec step decodes the plan again, with the old
// numbers: every plan has its reexec before its stdio step (namespaces plan/namespaces.ts).
long lift_named_fds(ns_child_ctx* c, uint32_t at, int n) {
  for (uint32_t k = at + 1; k < c->nsteps; k++) {
    int64_t* slot = named_fd(&c->steps[k]);
    if (slot == nullptr || *slot < 0 || *slot >= n) continue;
    const int64_t old = *slot;
    long r = NS_RAW3(SYS_fcntl, old, F_DUPFD_CLOEXEC, n);
    if (r < 0) return r;
    for (uint32_t j = k; j < c->nsteps; j++) {
      int64_t* other = named_fd(&c->steps[j]);
      if (other != nullptr && *other == old) *other = r;
    }
  }
  return 0;
}

}  // namespace

long ns_do_stdio(ns_child_ctx* c, const ns_step* s) {
  uint32_t n = s->vlen[0];
  if (n > 64) return -EINVAL;
  long r;
  if ((r = lift_fd(&c->errfd, (int)n)) < 0) return r;
  if ((r = lift_fd(&c->syncfd, (int)n)) < 0) return r;
  if ((r = lift_fd(&c->parentfd, (int)n)) < 0) return r;
  if ((r = lift_fd(&c->planfd, (int)n)) < 0) return r;
  if ((r = lift_fd(&c->initfd, (int)n)) < 0) return r;
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
  // After the sources were copied (one may be named by a later step too): the slots are
  // replaced or closed below, so the copy is all that later step will find.
  if ((r = lift_named_fds(c, (uint32_t)(s - c->steps), (int)n)) < 0) return r;
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

// sched_setattr(2) of this process with SCHED_ATTR_SIZE_VER1 (the utilization clamps 0).
// Slot 0 holds the policy (low 32 bits) and the real-time priority (high 32 bits).
long ns_do_sched_setattr(const ns_step* s) {
  struct {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
  } attr;
  attr.size = sizeof attr;  // 56
  attr.sched_policy = (uint32_t)((uint64_t)s->i[0] & 0xffffffffu);
  attr.sched_priority = (uint32_t)((uint64_t)s->i[0] >> 32);
  attr.sched_flags = (uint64_t)s->i[1];
  attr.sched_nice = (int32_t)s->i[2];
  attr.sched_runtime = (uint64_t)s->i[3];
  attr.sched_deadline = (uint64_t)s->i[4];
  attr.sched_period = (uint64_t)s->i[5];
  attr.sched_util_min = 0;
  attr.sched_util_max = 0;
  return NS_RAW3(SYS_sched_setattr, 0, &attr, 0);
}

long ns_do_close_from(const ns_step* s) {
  // Before 5.9 no close_range (ENOSYS), before 5.11 no CLOSE_RANGE_CLOEXEC (EINVAL), and a
  // seccomp profile older than it may fail it with EPERM: then one fcntl at a time.
  long r = NS_RAW3(SYS_close_range, (unsigned)s->i[0], ~0U, CLOSE_RANGE_CLOEXEC);
  if (r != -ENOSYS && r != -EINVAL && r != -EPERM) return r;
  struct {
    uint64_t cur, max;
  } lim;
  r = NS_RAW4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &lim);
  if (r < 0) return r;
  for (uint64_t fd = (uint64_t)s->i[0]; fd < lim.cur && fd < (1u << 20); fd++) NS_RAW3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
  return 0;
}

long ns_do_setns(const ns_step* s) {
  if (s->i[1] >= 0) {
    // The parent's descriptor of a namespace: of no use once joined (nor to a container).
    long r = NS_RAW2(SYS_setns, s->i[1], s->i[0]);
    if (r == 0) NS_RAW1(SYS_close, s->i[1]);
    return r;
  }
  long fd = NS_RAW4(SYS_openat, AT_FDCWD, s->s[0], O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  long r = NS_RAW2(SYS_setns, fd, s->i[0]);
  NS_RAW1(SYS_close, fd);
  return r;
}

long ns_do_write_file(const ns_step* s) {
  long fd = NS_RAW4(SYS_openat, AT_FDCWD, s->s[0], O_WRONLY | O_TRUNC | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  size_t len = ns_slen(s->s[1]);
  long r = NS_RAW3(SYS_write, fd, s->s[1], len);
  NS_RAW1(SYS_close, fd);
  if (r < 0) return r;
  return (size_t)r == len ? 0 : -EIO;
}

long ns_do_capset(const ns_step* s) {
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

// Whether execve would be allowed to run `path`, judged as execve judges it: with the
// effective ids and capabilities the process has now (faccessat2 AT_EACCESS). Plain
// access(2) uses the real ids, and no capabilities for a non-root user: it refused a program
// that the user may run only through CAP_DAC_OVERRIDE (runc#3715). faccessat when a kernel
// lacks faccessat2 or a seccomp profile older than it fails it with ENOSYS or EPERM (as Go's
// exec.LookPath falls back; the plan checked that the profile allows faccessat then).
static long access_exec(const char* path) {
  long r = NS_RAW4(SYS_faccessat2, AT_FDCWD, path, X_OK, AT_EACCESS);
  if (r == -ENOSYS || r == -EPERM) r = NS_RAW3(SYS_faccessat, AT_FDCWD, path, X_OK);
  return r;
}

// execve's candidates, as execvp(3) tries them: 0 for the first executable one, else
// EACCES if any candidate gave it, else the last error (ENOENT ...).
long ns_do_exec_check(const ns_step* s) {
  long err = -ENOENT;
  bool eacces = false;
  for (uint32_t k = 0; k < s->vlen[0]; k++) {
    long r = access_exec(s->v[0][k]);
    if (r == 0) return 0;
    if (r == -EACCES) eacces = true;
    err = r;
  }
  return eacces ? -EACCES : err;
}

// seccomp(2) SECCOMP_SET_MODE_FILTER: the plan's u32 words are `struct sock_filter[]` as it is
// laid out in memory on little-endian machines (u16 code, u8 jt, u8 jf, u32 k), two words an
// instruction. ns-init is single-threaded: no SECCOMP_FILTER_FLAG_TSYNC is needed.
long ns_do_seccomp(const ns_step* s) {
  uint32_t words = s->vlen[0];
  if (words == 0 || (words & 1) || words / 2 > BPF_MAXINSNS) return -EINVAL;
  struct sock_fprog prog;
  prog.len = (unsigned short)(words / 2);
  prog.filter = (struct sock_filter*)s->iv;
  return NS_RAW3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->i[0], &prog);
}

// seccomp(2) with SECCOMP_FILTER_FLAG_NEW_LISTENER (seccomp_unotify(2)): the filter has
// SCMP_ACT_NOTIFY rules and the kernel returns a listener descriptor. Its number goes to the
// parent at a sync message (the parent takes a copy with pidfd_getfd(2) and hands it to the
// seccomp agent at linux.seccomp.listenerPath, as runc does); once the parent says go on,
// this process closes its own copy. Every call from here on is filtered: the profile must
// allow write, read and close (plan/seccomp.ts checks it).
long ns_do_seccomp_notify(ns_child_ctx* c, int32_t index, const ns_step* s) {
  uint32_t words = s->vlen[0];
  if (words == 0 || (words & 1) || words / 2 > BPF_MAXINSNS) return -EINVAL;
  if (c->errfd < 0) return -EBADF;  // nobody to take the listener
  struct sock_fprog prog;
  prog.len = (unsigned short)(words / 2);
  prog.filter = (struct sock_filter*)s->iv;
  long fd = NS_RAW3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->i[0] | SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0) return fd;
  long r = ns_sync(c, index, (int32_t)fd);
  NS_RAW1(SYS_close, fd);
  return r;
}

long ns_do_execve(ns_child_ctx* c, int32_t index, const ns_step* s) {
  // End of file on the error pipe (close-on-exec) after this, with no failure reported, means
  // the program runs. Memory shared with the parent: no message, so it is not woken for it.
  __atomic_store_n(&c->shared->execing, 1, __ATOMIC_RELEASE);
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
