// ns-init: mounts, pivot_root(2), and creating mount points and device nodes, never
// following a symlink the planner did not see (openat2 RESOLVE_NO_SYMLINKS).
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "init.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace {

struct k_open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
#define K_RESOLVE_NO_SYMLINKS 0x04
#define K_RESOLVE_NO_MAGICLINKS 0x02

// The kernel's dev_t encoding (as glibc's makedev, without needing it).
uint64_t make_dev(uint64_t major, uint64_t minor) {
  return ((major & 0xfffff000ull) << 32) | ((major & 0xfffull) << 8) | ((minor & 0xffffff00ull) << 12) | (minor & 0xffull);
}

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

// open(2) `path` with `flags`, refusing to follow any symlink on the way. Paths the planner
// hands over were resolved inside the rootfs already, so a symlink found now was planted to
// lead the step out of it.
long open_nofollow(const char* path, long flags) {
  return ns_open_nofollow(path, flags);
}

}  // namespace

long ns_open_nofollow(const char* path, long flags) {
  k_open_how how;
  how.flags = (uint64_t)flags | O_CLOEXEC;
  how.mode = 0;
  how.resolve = K_RESOLVE_NO_SYMLINKS | K_RESOLVE_NO_MAGICLINKS;
  return NS_RAW4(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
}

namespace {

// The parent directory of `path`, opened without following symlinks, and its last
// component copied to `name` (at most 255 bytes). Returns the descriptor or -errno.
long open_parent_nofollow(const char* path, char* name) {
  char dir[4096];
  size_t n = ns_slen(path);
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

}  // namespace

// "<proc>/self/fd/<fd>" into buf.
const char* ns_fd_path(const char* proc, long fd, char* buf, size_t size) {
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

long ns_do_pivot_root(const ns_step* s) {
  // The old root, to come back to once it is stacked on the new one: after pivot_root(".",
  // ".") the working directory is the new root, under the old one (runc does the same).
  long old = NS_RAW4(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (old < 0) return old;
  long r = NS_RAW1(SYS_chdir, s->s[0]);
  if (r == 0) r = NS_RAW2(SYS_pivot_root, ".", ".");
  if (r == 0) r = NS_RAW1(SYS_fchdir, old);
  NS_RAW1(SYS_close, old);
  if (r < 0) return r;
  // The old root: a slave tree before it is detached, so that its unmount reaches no peer
  // (with rootfsPropagation shared its mounts are the host's peers) and the new root keeps the
  // propagation it was given.
  r = NS_RAW5(SYS_mount, 0, ".", 0, MS_SLAVE | MS_REC, 0);
  if (r < 0) return r;
  r = NS_RAW2(SYS_umount2, ".", MNT_DETACH);
  if (r < 0) return r;
  return NS_RAW1(SYS_chdir, "/");
}

// runc's msMoveRoot: the mount at s->s[0] moved onto "/", then chroot(2) into it.
long ns_do_move_root(const ns_step* s) {
  long r = NS_RAW1(SYS_chdir, s->s[0]);
  if (r == 0) r = NS_RAW5(SYS_mount, ".", "/", 0, MS_MOVE, 0);
  if (r == 0) r = NS_RAW1(SYS_chroot, ".");
  if (r == 0) r = NS_RAW1(SYS_chdir, "/");
  return r;
}

// runc's msMoveRoot for a mount it leaves behind: a slave tree, then detached; covered with a
// tmpfs where the unmount is refused (a locked mount); ENOENT: gone with a parent already.
long ns_do_detach_mount(const ns_step* s) {
  long r = NS_RAW5(SYS_mount, 0, s->s[0], 0, MS_SLAVE | MS_REC, 0);
  if (r == -ENOENT) return 0;
  if (r < 0) return r;
  r = NS_RAW2(SYS_umount2, s->s[0], MNT_DETACH);
  if (r == -EINVAL || r == -EPERM) r = NS_RAW5(SYS_mount, "tmpfs", s->s[0], "tmpfs", 0, 0);
  return r;
}

long ns_do_mount(const ns_child_ctx* c, const ns_step* s) {
  long flags = s->i[0];
  const char* target = s->s[1];
  long tfd = -1;
  char tbuf[512];
  if ((s->flags & NS_STEP_NOFOLLOW) && target) {
    tfd = open_nofollow(target, O_PATH);
    if (tfd < 0) return tfd;
    // Mount onto the very directory just opened, through its /proc/self/fd magic link.
    if (c->proc) target = ns_fd_path(c->proc, tfd, tbuf, sizeof tbuf);
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

// mkdir, mknod, symlink, touch and chown relative to a parent opened without following symlinks.
long ns_do_create(const ns_step* s) {
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
      r = NS_RAW4(SYS_mknodat, dirfd, at, s->i[0], make_dev((uint64_t)s->i[1], (uint64_t)s->i[2]));
      break;
    case NS_OP_SYMLINK:
      r = NS_RAW3(SYS_symlinkat, s->s[0], dirfd, at);
      if (r == -EEXIST && s->i[0]) r = 0;
      break;
    case NS_OP_CHOWN:
      r = NS_RAW5(SYS_fchownat, dirfd, at, s->i[0], s->i[1], AT_SYMLINK_NOFOLLOW);
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
