// The front's hand-off of a call to a warm `ns serve`: see handoff.h for the wire format. No
// policy here: which verbs a server runs, and everything about them, is decided by the server
// in TypeScript; this file only carries the call there and the exit status back.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "handoff.h"

#include "clone.h"
#include "../src/native/scm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define HANDOFF_MAX_BODY (1u << 20)  // the server refuses more (protocol.ts MAX_BODY)
#define HANDOFF_START_MS 3000         // how long a call may wait for the server to start it
#define HANDOFF_QUIT_MS 1000          // how long the server may take to answer a 'Q'

// Whether `s` has something to read (or is at end of file) within `ms`.
static int readable(int s, int ms) {
  struct pollfd p = {s, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

// Connect to `path` if it is a socket owned by this user, served by a process of this user.
static int connect_own(const char *path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  // Never a symlink, never another user's socket: it would receive our descriptors.
  struct stat st;
  if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) return -1;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -1;
  int r;
  do {
    r = connect(s, (struct sockaddr *)&addr, sizeof addr);
  } while (r < 0 && errno == EINTR);
  // ENOENT / ECONNREFUSED: no server; EAGAIN: its queue is full (never wait for it).
  if (r < 0) goto fail;
  // The path was checked before connect: the peer's own credentials settle who answered.
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) goto fail;
  int fl = fcntl(s, F_GETFL);
  if (fl < 0 || fcntl(s, F_SETFL, fl & ~O_NONBLOCK) < 0) goto fail;
  return s;
fail:
  close(s);
  return -1;
}

// The request's body: the umask (octal), cwd, argv[1..], environ, each NUL-ended. NULL when
// it is too big.
static char *request_body(int argc, char **argv, const char *cwd, uint32_t *len, uint32_t *envc) {
  mode_t mask = umask(0);
  umask(mask);
  char um[8];
  snprintf(um, sizeof um, "%04o", (unsigned)(mask & 0777));
  size_t n = strlen(um) + 1 + strlen(cwd) + 1;
  for (int i = 1; i < argc; i++) n += strlen(argv[i]) + 1;
  uint32_t e = 0;
  for (char **p = environ; p && *p; p++, e++) n += strlen(*p) + 1;
  if (n > HANDOFF_MAX_BODY) return NULL;
  char *body = malloc(n);
  if (!body) return NULL;
  size_t k = 0;
  size_t l = strlen(um) + 1;
  memcpy(body + k, um, l);
  k += l;
  l = strlen(cwd) + 1;
  memcpy(body + k, cwd, l);
  k += l;
  for (int i = 1; i < argc; i++) {
    l = strlen(argv[i]) + 1;
    memcpy(body + k, argv[i], l);
    k += l;
  }
  for (char **p = environ; p && *p; p++) {
    l = strlen(*p) + 1;
    memcpy(body + k, *p, l);
    k += l;
  }
  *len = (uint32_t)n;
  *envc = e;
  return body;
}

// Send the header with descriptors 0, 1, 2, then the body. 0 on success.
static int send_request(int s, const unsigned char *header, const char *body, size_t len) {
  const int fds[3] = {0, 1, 2};
  // EBADF: one of 0, 1, 2 is closed; a short write cannot be resumed with the descriptors.
  if (ns_scm_send(s, header, 16, fds, 3, MSG_NOSIGNAL) != 16) return -1;
  size_t k = 0;
  while (k < len) {
    ssize_t n = send(s, body + k, len - k, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    k += (size_t)n;
  }
  return 0;
}

// Read up to `len` bytes unless end of file comes first; the count read, -1 on error.
static ssize_t read_full(int s, unsigned char *buf, size_t len) {
  size_t k = 0;
  while (k < len) {
    ssize_t n = read(s, buf + k, len - k);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    k += (size_t)n;
  }
  return (ssize_t)k;
}

// Receive one message's first `len` bytes with the descriptors that come with them (at most
// NS_FRONT_MAX_FDS, close-on-exec) into `fds`/`*nfds`; the count read, 0 at EOF, -1 on error
// or when descriptors were cut.
static ssize_t recv_with_fds(int s, unsigned char *buf, size_t len, int *fds, size_t *nfds) {
  int flags = 0;
  ssize_t n = ns_scm_recv(s, buf, len, 0, fds, NS_FRONT_MAX_FDS, nfds, &flags);
  if (n < 0 || (flags & MSG_CTRUNC)) return -1;
  if (n > 0 && (size_t)n < len) {
    ssize_t more = read_full(s, buf + n, len - (size_t)n);
    if (more < 0) return -1;
    n += more;
  }
  return n;
}

int ns_front_messages(int s) {
  struct ns_front_child child = {0, -1};
  unsigned char body[24 + 4 * NS_FRONT_MAX_FDS];
  for (;;) {
    unsigned char head[9];
    int fds[NS_FRONT_MAX_FDS];
    size_t nfds = 0;
    ssize_t got = recv_with_fds(s, head, 1, fds, &nfds);
    int status = -1;
    if (got == 1 && head[0] == 'X' && nfds == 0 && read_full(s, head + 1, 8) == 8) {
      status = (int)get_u32(head + 1);
      ns_front_child_done(&child, status, (int)get_u32(head + 5));
      return status;
    }
    if (got == 1 && head[0] == 'S' && child.pid == 0 && read_full(s, head + 1, 4) == 4) {
      uint32_t len = get_u32(head + 1);
      if (len <= sizeof body && read_full(s, body, len) == (ssize_t)len && ns_front_clone(s, body, len, fds, nfds, &child) == 0) {
        for (size_t k = 0; k < nfds; k++) close(fds[k]);
        continue;
      }
    }
    for (size_t k = 0; k < nfds; k++) close(fds[k]);
    ns_front_child_done(&child, 1, 0);
    return -1;
  }
}

int ns_front_handoff(int argc, char **argv, const char *root) {
  if (!root || !*root || argc < 1) return -1;
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0) return -1;  // a closed stdio: Node's way handles it
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  if (snprintf(path, sizeof path, "%s/.server", root) >= (int)sizeof path - 1) return -1;
  char *cwd = getcwd(NULL, 0);  // a removed working directory: Node's way says what it means
  if (!cwd) return -1;
  uint32_t len = 0, envc = 0;
  char *body = request_body(argc, argv, cwd, &len, &envc);
  free(cwd);
  if (!body) return -1;
  int s = connect_own(path);
  if (s < 0) {
    free(body);
    return -1;
  }
  unsigned char header[16] = {'N', 'S', 'H', '2'};
  put_u32(header + 4, len);
  put_u32(header + 8, (uint32_t)(argc - 1));
  put_u32(header + 12, envc);
  int sent = send_request(s, header, body, len);
  free(body);
  unsigned char answer[1];
  // A server that does not start the call in time (stopped, or busy with a long one): the
  // front says it gives up ('Q'), which the server reads before it would start the call and
  // then answers 'F' and runs nothing. No answer even then: the front goes on without it.
  if (sent == 0 && !readable(s, HANDOFF_START_MS)) {
    sent = send(s, "Q", 1, MSG_NOSIGNAL) == 1 && readable(s, HANDOFF_QUIT_MS) ? 0 : -1;
  }
  // Nothing ran unless the server said 'R': a refusal, a server gone or a short send all fall back.
  ssize_t got = sent == 0 ? read_full(s, answer, 1) : -1;
  if (got != 1 || answer[0] != 'R') {
    close(s);
    return -1;
  }
  int status = ns_front_messages(s);
  close(s);
  if (status < 0) {
    fprintf(stderr, "ns: the server at %s went away before the call ended\n", path);
    return 125;
  }
  return status & 0xff;
}
