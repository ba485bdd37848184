// ns-init: the awaitRun step of a pre-created container (a pool member, @ns/namespaces
// createPool). Everything but the command is set up; the process waits here for one run
// record from the parent, then does chdir(2) and execve(2) as the chdir and execve steps do.
// A member of a pool with per-run stdio reads its record with recvmsg(2) from a SOCK_SEQPACKET
// socket instead: the record's message carries the run's descriptors (SCM_RIGHTS), which go
// onto 0, 1 and 2 as the record's stdio mask says.
// Every decision (the execvp candidates, the environment, the working directory, the record's
// size) was made in TypeScript; this only reads, checks bounds and calls.
//
// The record (little-endian, written by encodeRunRecord in src/run-record.ts):
//   u32 bytes (of what follows), u32 npaths, u32 argc, u32 envc, u32 stdio (bit k: descriptor
//   k is replaced by the next one received), then NUL-terminated strings: cwd, paths[npaths], argv[argc], envp[envc].
// Replies on the reply descriptor are ns_msg: {step, errno, NS_RUN_*} when reading the record,
// the chdir or every execve fails, or {step, NS_RUN_UNUSED, 0} from a member that goes away
// without taking a run (its idle timeout: the pool may have written a record meanwhile, and
// must try another member). End of file with no message (the descriptor is close-on-exec)
// means the program runs: no acknowledgement, which would cost the pool a wake-up per start.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "init.h"

namespace {

// Static: ns-init allocates nothing. Sizes are checked by the TypeScript encoder too.
// The head (u32 bytes) and the record, as one message arrives on a socket.
char message[4 + NS_RUN_MAX_BYTES];
char* const record = message + 4;
const char* ptrs[NS_RUN_MAX_STRINGS + 3];

// read(2) until `len` bytes or end of file; the count read, or -errno.
long read_full(int fd, char* buf, uint32_t len) {
  uint32_t got = 0;
  while (got < len) {
    long r = NS_RAW3(SYS_read, fd, buf + got, len - got);
    if (r == -EINTR) continue;
    if (r < 0) return r;
    if (r == 0) break;
    got += (uint32_t)r;
  }
  return got;
}

uint32_t u32(const char* p) {
  const unsigned char* b = (const unsigned char*)p;
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

// The run's descriptors received with the record (at most one per stdio descriptor).
int received[3];
int nreceived = 0;

// One recvmsg(2) of the whole record with its descriptors (MSG_CMSG_CLOEXEC: none reaches
// the program unless placed on 0-2). The bytes received (0 at end of file), or -errno;
// -EPROTO when the control part was cut (more descriptors than stdio has) or not SCM_RIGHTS.
long recv_record(int fd) {
  struct iovec iov = {message, sizeof message};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * 3)];
  } control;
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  long r;
  do {
    r = NS_RAW3(SYS_recvmsg, fd, &msg, MSG_CMSG_CLOEXEC);
  } while (r == -EINTR);
  if (r < 0) return r;
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) return -EPROTO;
    int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int k = 0; k < n; k++) {
      int got;
      __builtin_memcpy(&got, CMSG_DATA(cm) + k * sizeof(int), sizeof got);
      if (nreceived < 3)
        received[nreceived++] = got;
      else
        NS_RAW1(SYS_close, got);
    }
  }
  if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) return -EPROTO;
  return r;
}

__attribute__((noreturn)) void fail_run(ns_child_ctx* c, int32_t index, long err, int32_t phase) {
  ns_send(c, index, (int32_t)-err, phase);
  ns_quit(1);
}

// Wait until the record's descriptor is readable: false when `ms` (> 0) passed first.
bool wait_readable(int fd, int64_t ms) {
  struct pollfd p;
  struct {
    long sec;
    long nsec;
  } left = {(long)(ms / 1000), (long)(ms % 1000) * 1000000L};
  for (;;) {
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    long r = NS_RAW5(SYS_ppoll, &p, 1, ms > 0 ? &left : nullptr, 0, 8);
    if (r > 0) return true;  // data, or the parent's end closed (read gives 0)
    if (r == 0) return false;
    if (r != -EINTR) return true;  // let the read report it
    // ppoll(2) writes the time left back into `left` on Linux: go on waiting for that.
  }
}

}  // namespace

long ns_do_await_run(ns_child_ctx* c, int32_t index, const ns_step* s) {
  int rfd = (int)s->i[0];
  int wfd = (int)s->i[1];
  // Neither descriptor may reach the program: at execve the reply one closes (end of file
  // for the parent), the record one with it.
  ns_cloexec(rfd, true);
  ns_cloexec(wfd, true);
  // From here on messages go to the pool, on the reply descriptor.
  c->errfd = wfd;
  // Idle past the timeout, or the pool closed its end (or died): go away, saying so.
  if (!wait_readable(rfd, s->i[2])) {
    ns_send(c, index, NS_RUN_UNUSED, 0);
    ns_quit(NS_RUN_IDLE_EXIT);
  }
  uint32_t bytes;
  if (s->i[3]) {
    long r = recv_record(rfd);
    if (r == 0) {
      ns_send(c, index, NS_RUN_UNUSED, 0);
      ns_quit(NS_RUN_IDLE_EXIT);
    }
    if (r < 4) fail_run(c, index, r < 0 ? r : -EPROTO, NS_RUN_RECORD);
    bytes = u32(message);
    if (bytes < 16 || bytes > NS_RUN_MAX_BYTES) fail_run(c, index, -E2BIG, NS_RUN_RECORD);
    if ((long)bytes != r - 4) fail_run(c, index, -EPROTO, NS_RUN_RECORD);
  } else {
    long r = read_full(rfd, message, 4);
    if (r == 0) {
      ns_send(c, index, NS_RUN_UNUSED, 0);
      ns_quit(NS_RUN_IDLE_EXIT);
    }
    if (r != 4) fail_run(c, index, r < 0 ? r : -EPROTO, NS_RUN_RECORD);
    bytes = u32(message);
    if (bytes < 16 || bytes > NS_RUN_MAX_BYTES) fail_run(c, index, -E2BIG, NS_RUN_RECORD);
    r = read_full(rfd, record, bytes);
    if (r != (long)bytes) fail_run(c, index, r < 0 ? r : -EPROTO, NS_RUN_RECORD);
  }
  NS_RAW1(SYS_close, rfd);

  // The run's stdio: each received descriptor onto the next descriptor the mask names.
  uint32_t mask = u32(record + 12);
  int placed = 0;
  for (int k = 0; k < 3; k++) {
    if (!(mask & (1u << k))) continue;
    if (placed >= nreceived) fail_run(c, index, -EPROTO, NS_RUN_RECORD);
    long d = NS_RAW3(SYS_dup3, received[placed], k, 0);
    if (d < 0) fail_run(c, index, d, NS_RUN_RECORD);
    NS_RAW1(SYS_close, received[placed]);
    placed++;
  }
  if ((mask & ~7u) || placed != nreceived) fail_run(c, index, -EPROTO, NS_RUN_RECORD);

  uint32_t npaths = u32(record), argc = u32(record + 4), envc = u32(record + 8);
  uint64_t nstr = (uint64_t)npaths + argc + envc + 1;
  if (npaths == 0 || argc == 0 || nstr > NS_RUN_MAX_STRINGS) fail_run(c, index, -E2BIG, NS_RUN_RECORD);
  // Split the strings: each must end inside the record.
  const char* cwd = nullptr;
  const char** paths = ptrs;
  const char** argv = ptrs + npaths + 1;
  const char** envp = argv + argc + 1;
  uint32_t at = 16;
  for (uint64_t k = 0; k < nstr; k++) {
    const char* str = record + at;
    while (at < bytes && record[at]) at++;
    if (at >= bytes) fail_run(c, index, -EPROTO, NS_RUN_RECORD);
    at++;
    if (k == 0)
      cwd = str;
    else if (k <= npaths)
      paths[k - 1] = str;
    else if (k <= (uint64_t)npaths + argc)
      argv[k - 1 - npaths] = str;
    else
      envp[k - 1 - npaths - argc] = str;
  }
  paths[npaths] = nullptr;
  argv[argc] = nullptr;
  envp[envc] = nullptr;

  long r = NS_RAW1(SYS_chdir, cwd);
  if (r < 0) fail_run(c, index, r, NS_RUN_CHDIR);
  // As the execve step (execvp(3)): ENOENT, ENOTDIR and EACCES move on to the next candidate.
  long err = -ENOENT;
  bool eacces = false;
  for (uint32_t k = 0; k < npaths; k++) {
    r = NS_RAW3(SYS_execve, paths[k], argv, envp);
    if (r == -EACCES) {
      eacces = true;
    } else if (r != -ENOENT && r != -ENOTDIR) {
      err = r;
      break;
    }
    err = r;
  }
  fail_run(c, index, eacces && (err == -ENOENT || err == -ENOTDIR || err == -EACCES) ? -EACCES : err, NS_RUN_EXECVE);
}
