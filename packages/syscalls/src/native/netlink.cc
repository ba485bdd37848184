// netlinkRequest(): one request/answer exchange on an AF_NETLINK socket, optionally made in
// another network namespace. The messages themselves are built and parsed in TypeScript (the
// rtnetlink(7) encoding in @ns/namespaces): this only sends bytes and collects the replies.
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "addon.h"

namespace ns {

namespace {

// A netlink socket of `protocol` in the network namespace `netnsFd` (-1: this thread's own).
// The socket keeps the namespace it was made in; this thread goes back to its own at once.
int NetlinkSocket(Napi::Env env, int protocol, int netnsFd) {
  int self = -1;
  if (netnsFd >= 0) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return ThrowErrno(env, errno, "open /proc/thread-self/ns/net"), -1;
    if (setns(netnsFd, CLONE_NEWNET) < 0) {
      int e = errno;
      close(self);
      return ThrowErrno(env, e, "setns CLONE_NEWNET"), -1;
    }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  int e = errno;
  if (self >= 0) {
    // Node's main thread must never stay in a container's network namespace.
    if (setns(self, CLONE_NEWNET) < 0) Napi::Error::Fatal("netlinkRequest", "setns back to the caller's network namespace failed");
    close(self);
  }
  if (fd < 0) return ThrowErrno(env, e, "socket AF_NETLINK"), -1;
  struct timeval tv = {5, 0};  // a kernel that never answers must not hang the event loop for ever
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

}  // namespace

// netlinkRequest(protocol: number, request: Buffer, netnsFd: number) -> Buffer
// Sends `request` (one or more nlmsghdr messages, each asking for an ack with NLM_F_ACK or a
// dump) to the kernel and returns every reply message, concatenated, once each request's
// sequence number has had its NLMSG_ERROR (an ack or an error) or NLMSG_DONE. Throws on socket
// errors (EAGAIN after 5 s without an answer); errors the kernel reports for a message are in
// the replies, for the caller to read.
Napi::Value NetlinkRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber())
    return ThrowPlan(env, "netlinkRequest(protocol, request: Buffer, netnsFd) expected");
  int protocol = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> req = info[1].As<Napi::Buffer<uint8_t>>();
  int netnsFd = info[2].As<Napi::Number>().Int32Value();
  // The sequence numbers to wait for, read from the request (checked: whole headers only).
  std::set<uint32_t> pending;
  for (size_t off = 0; off + sizeof(nlmsghdr) <= req.Length();) {
    nlmsghdr h;
    memcpy(&h, req.Data() + off, sizeof h);
    if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > req.Length()) return ThrowPlan(env, "netlinkRequest: malformed request");
    pending.insert(h.nlmsg_seq);
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  if (pending.empty()) return ThrowPlan(env, "netlinkRequest: empty request");

  int fd = NetlinkSocket(env, protocol, netnsFd);
  if (fd < 0) return env.Undefined();
  sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd, req.Data(), req.Length(), 0, (sockaddr*)&kernel, sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "sendto netlink");
  }
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 16);
  while (!pending.empty()) {
    do {
      n = recv(fd, buf.data(), buf.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      close(fd);
      return ThrowErrno(env, e, "recv netlink");
    }
    for (size_t off = 0; off + sizeof(nlmsghdr) <= (size_t)n;) {
      nlmsghdr h;
      memcpy(&h, buf.data() + off, sizeof h);
      if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > (size_t)n) break;
      if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_DONE) pending.erase(h.nlmsg_seq);
      off += NLMSG_ALIGN(h.nlmsg_len);
    }
    out.insert(out.end(), buf.data(), buf.data() + n);
  }
  close(fd);
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

}  // namespace ns
