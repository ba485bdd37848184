// Descriptors over AF_UNIX sockets (SCM_RIGHTS, unix(7)): one sendmsg(2) or recvmsg(2) with
// its control message, shared by the addon (unix.cc, spawn_via.cc) and the native front
// (packages/syscalls/front: handoff.c, clone.c). Plain C, static inline, no allocation.
#pragma once
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

// At most this many descriptors in one message here (the addon's kMaxKeep).
#define NS_SCM_MAX_FDS 128

// One sendmsg(2) of `data` (len >= 1: a message needs data to carry its control part) with
// `fds[0..n)` (n <= NS_SCM_MAX_FDS) as one SCM_RIGHTS message, retried on EINTR. Returns the
// byte count, or -1 with errno (EINVAL for too many descriptors).
static inline ssize_t ns_scm_send(int sock, const void* data, size_t len, const int* fds, size_t n, int flags) {
  if (n > NS_SCM_MAX_FDS) {
    errno = EINVAL;
    return -1;
  }
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * NS_SCM_MAX_FDS)];
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov;
  iov.iov_base = (void*)data;
  iov.iov_len = len;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (n > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
  }
  ssize_t r;
  do {
    r = sendmsg(sock, &msg, flags);
  } while (r < 0 && errno == EINTR);
  return r;
}

// One recvmsg(2) of up to `len` bytes into `data` with `flags` | MSG_CMSG_CLOEXEC, retried on
// EINTR. Every SCM_RIGHTS descriptor received goes to `fds` (its count in `*nfds`); those past
// `maxfds` are closed. `*msgflags` gets the message's flags, with MSG_CTRUNC also when some
// were closed here for want of room. Returns the byte count (0 at end of file), or -1 with errno.
static inline ssize_t ns_scm_recv(int sock, void* data, size_t len, int flags, int* fds, size_t maxfds, size_t* nfds, int* msgflags) {
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * NS_SCM_MAX_FDS)];
  } control;
  struct iovec iov;
  iov.iov_base = data;
  iov.iov_len = len;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t r;
  do {
    r = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  *nfds = 0;
  *msgflags = r < 0 ? 0 : msg.msg_flags;
  if (r < 0) return r;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < maxfds) {
        fds[(*nfds)++] = fd;
      } else {
        close(fd);
        *msgflags |= MSG_CTRUNC;
      }
    }
  }
  return r;
}
