// ns-init: the openConsole step. The container's console is a pty of its own devpts instance
// (mounted at /dev/pts in the staged new root), as runc makes it in its init: the master goes
// to the parent (a sync message with its descriptor number, taken with pidfd_getfd(2)), the
// slave becomes 0, 1, 2 and the controlling terminal, and is bound onto /dev/console. Paths,
// the size and the owner were decided in TypeScript (plan/console.ts).
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "init.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#define NS_DEVPTS_SUPER_MAGIC 0x1cd1

// s[0] the ptmx of the container's devpts (staged path), s[1] /dev/console (staged path),
// i[0] columns, i[1] rows, i[2] uid and i[3] gid the slave is given (-1: left as made).
long ns_do_open_console(ns_child_ctx* c, int32_t index, const ns_step* s) {
  if (c->errfd < 0) return -EBADF;  // nobody to take the master
  long master = ns_open_nofollow(s->s[0], O_RDWR | O_NOCTTY);
  if (master < 0) return master;
  long r;
  long slave = -1;
  struct statfs fs;
  int unlock = 0;
  struct winsize ws = {};
  ws.ws_col = (unsigned short)s->i[0];
  ws.ws_row = (unsigned short)s->i[1];
  char path[64];
  long target = -1;
  char tbuf[512];
  // Only a devpts ptmx: a file planted in the rootfs is not a terminal to hand out.
  r = NS_RAW2(SYS_fstatfs, master, &fs);
  if (r == 0 && fs.f_type != NS_DEVPTS_SUPER_MAGIC) r = -EXDEV;
  if (r == 0) r = NS_RAW3(SYS_ioctl, master, TIOCSPTLCK, &unlock);
  if (r == 0) r = NS_RAW3(SYS_ioctl, master, TIOCSWINSZ, &ws);
  if (r == 0) r = slave = NS_RAW3(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (r >= 0 && s->i[2] >= 0) r = NS_RAW3(SYS_fchown, slave, s->i[2], s->i[3]);
  if (r >= 0) r = NS_RAW2(SYS_fchmod, slave, 0620);
  // /dev/console: the slave bound there, through its /proc/self/fd magic link, onto the very
  // file opened without following symlinks.
  if (r >= 0) r = target = ns_open_nofollow(s->s[1], O_PATH);
  if (r >= 0 && c->proc) {
    const char* src = ns_fd_path(c->proc, slave, path, sizeof path);
    const char* dst = ns_fd_path(c->proc, target, tbuf, sizeof tbuf);
    r = NS_RAW5(SYS_mount, src, dst, 0, MS_BIND, 0);
  } else if (r >= 0) {
    r = -EINVAL;  // no /proc to name the slave by: the plan has a procRoot step first
  }
  for (int k = 0; r >= 0 && k < 3; k++) r = NS_RAW3(SYS_dup3, slave, k, 0);
  if (r >= 0) r = NS_RAW3(SYS_ioctl, 0, TIOCSCTTY, 0);
  if (target >= 0) NS_RAW1(SYS_close, target);
  if (slave >= 0) NS_RAW1(SYS_close, slave);
  if (r >= 0) r = ns_sync(c, index, (int32_t)master);
  NS_RAW1(SYS_close, master);
  return r < 0 ? r : 0;
}
