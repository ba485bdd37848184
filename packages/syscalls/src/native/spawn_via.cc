// Cloning through a front (docs/cli-start.md, "create through the front"): a warm `ns serve`
// plans a container, but the container's process must be the child of the `ns` its client
// started (a shim is a subreaper and learns the container's exit by reaping it). So instead
// of cloning, Start() sends the front, over the call's connection, what the clone needs: the
// descriptors ns-init inherits (each to sit at the same number in the child as here: the plan
// and its memfd header name them by number), ns-init's sealed memfd among them, the clone
// flags and the parent-death signal. The front clones, its child execs ns-init, and the front
// answers with the child's pid and a pidfd of it. From there the set-up goes on as for a child
// of ours: the error pipe, the sync steps and the memfd are the same.
//
// Wire format (one sendmsg each; little-endian; defined with packages/syscalls/front/clone.c):
//   request  'S', u32 body length, then the body: u32 clone flags, u32 pdeathsig,
//            i32 initfd, i32 planfd, i32 errfd, u32 n, i32 numbers[n], u32 cgroup (0 or 1);
//            SCM_RIGHTS: the n descriptors, numbers[k] being the number descriptor k must have
//            in the child, then with cgroup 1 a cgroup2 directory to clone the child into
//            (clone3 CLONE_INTO_CGROUP: the front's only, never the child's).
//   answer   'P' (or 'C': born in that cgroup), i32 pid, with the child's pidfd (SCM_RIGHTS);
//            or 'E', i32 errno (no child).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "scm.h"
#include "start.h"

namespace ns {

namespace {

constexpr int kAnswerTimeoutMs = 10000;

void PutU32(std::vector<uint8_t>* b, uint32_t v) {
  for (int k = 0; k < 4; k++) b->push_back((uint8_t)(v >> (8 * k)));
}

int32_t GetI32(const uint8_t* p) {
  return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

// Wait until `fd` is ready for `events`, at most `ms`: 0 ready, else an errno.
int WaitFor(int fd, short events, int ms) {
  struct pollfd p = {fd, events, 0};
  for (;;) {
    int r = poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return ETIMEDOUT;
    return 0;
  }
}

}  // namespace

pid_t ParentOf(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
  char* end = strrchr(buf, ')');
  int ppid = -1;
  char state;
  if (!end || sscanf(end + 1, " %c %d", &state, &ppid) != 2) return -1;
  return (pid_t)ppid;
}

int CloneVia(int via, const CloneRequest& req, pid_t* pid, int* pidfd, pid_t* front, bool* intoCgroup) {
  struct ucred cred;
  socklen_t clen = sizeof cred;
  if (getsockopt(via, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) return errno;
  *front = cred.pid;

  std::vector<uint8_t> body;
  PutU32(&body, req.flags);
  PutU32(&body, req.pdeathsig);
  PutU32(&body, (uint32_t)req.initfd);
  PutU32(&body, (uint32_t)req.planfd);
  PutU32(&body, (uint32_t)req.errfd);
  PutU32(&body, req.nfds);
  for (uint32_t k = 0; k < req.nfds; k++) PutU32(&body, (uint32_t)req.fds[k]);
  bool cg = req.cgroupfd >= 0 && req.nfds < NS_SCM_MAX_FDS;
  PutU32(&body, cg ? 1 : 0);
  std::vector<int> fds(req.fds, req.fds + req.nfds);
  if (cg) fds.push_back(req.cgroupfd);
  std::vector<uint8_t> msgbuf{'S'};
  PutU32(&msgbuf, (uint32_t)body.size());
  msgbuf.insert(msgbuf.end(), body.begin(), body.end());

  for (;;) {
    ssize_t n = ns_scm_send(via, msgbuf.data(), msgbuf.size(), fds.data(), fds.size(), MSG_NOSIGNAL);
    if (n == (ssize_t)msgbuf.size()) break;
    if (n >= 0) return EPROTO;  // a short send cannot be resumed with its descriptors
    if (errno != EAGAIN) return errno;
    int w = WaitFor(via, POLLOUT, kAnswerTimeoutMs);
    if (w) return w;
  }

  // The answer: 'P' or 'C' + pid with the pidfd, or 'E' + errno (5 bytes either way).
  uint8_t answer[5];
  size_t have = 0;
  int got = -1;
  bool quitSkipped = false;
  while (have < sizeof answer) {
    int w = WaitFor(via, POLLIN, kAnswerTimeoutMs);
    if (w) {
      if (got >= 0) close(got);
      return w;
    }
    int fds[NS_SCM_MAX_FDS];
    size_t nfds = 0;
    int flags = 0;
    ssize_t n = ns_scm_recv(via, answer + have, sizeof answer - have, MSG_DONTWAIT, fds, NS_SCM_MAX_FDS, &nfds, &flags);
    if (n < 0 && errno == EAGAIN) continue;
    // A front whose wait for 'R' ran out as the 'R' came sent 'Q' (it gives up) before it read
    // the 'R' and went on (front/handoff.c): that one byte comes before its answer, and means
    // nothing now.
    if (n > 0 && have == 0 && !quitSkipped && answer[0] == 'Q') {
      quitSkipped = true;
      memmove(answer, answer + 1, (size_t)--n);
      if (n == 0) {
        for (size_t k = 0; k < nfds; k++) close(fds[k]);  // a 'Q' carries none
        continue;
      }
    }
    // Only the first message's first descriptor, with a 'P': any other is closed.
    for (size_t k = 0; k < nfds; k++) {
      if (got < 0 && have == 0 && (answer[0] == 'P' || answer[0] == 'C'))
        got = fds[k];
      else
        close(fds[k]);
    }
    if (n <= 0) {
      int e = n == 0 ? EPIPE : errno;  // the front went away
      if (got >= 0) close(got);
      return e;
    }
    have += (size_t)n;
  }
  int32_t value = GetI32(answer + 1);
  if (answer[0] == 'E') {
    if (got >= 0) close(got);
    return value > 0 ? value : EPROTO;
  }
  if ((answer[0] != 'P' && answer[0] != 'C') || got < 0 || value <= 0 || (answer[0] == 'C' && !cg)) {
    if (got >= 0) close(got);
    return EPROTO;
  }
  *pid = value;
  *pidfd = got;
  *intoCgroup = answer[0] == 'C';
  return 0;
}

}  // namespace ns
