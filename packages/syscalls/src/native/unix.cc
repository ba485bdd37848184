// Descriptors over AF_UNIX sockets (SCM_RIGHTS, unix(7)): connect to and listen on a socket
// path, send one descriptor with a payload and receive it, as runc's cmsg.go SendRawFd /
// RecvFile (the console socket, the seccomp listener). Node's net module cannot pass
// descriptors; these are the raw calls behind @ns/syscalls' unix.ts.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

#include "addon.h"
#include "scm.h"

namespace ns {

namespace {

// A sockaddr_un for `path`; false when it does not fit sun_path (108 bytes with the NUL).
bool UnixAddress(const std::string& path, struct sockaddr_un* addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// One sendmsg(2) of `payload` (at least one byte: a message needs data to carry its control
// part) with `fds[0..n)` (n <= 16) as one SCM_RIGHTS message; MSG_NOSIGNAL, retried on EINTR.
// Throws EPIPE / ECONNRESET when the peer is gone, EMSGSIZE on a short write.
Napi::Value SendWithFds(Napi::Env env, int sock, const int* fds, uint32_t n, const Napi::Buffer<uint8_t>& payload) {
  char one = 0;
  const void* data = payload.Length() > 0 ? (const void*)payload.Data() : (const void*)&one;
  size_t len = payload.Length() > 0 ? payload.Length() : 1;
  ssize_t r = ns_scm_send(sock, data, len, fds, n, MSG_NOSIGNAL);
  if (r < 0) return ThrowErrno(env, errno, "sendmsg");
  if ((size_t)r != len) return ThrowErrno(env, EMSGSIZE, "sendmsg", "short write");
  return env.Undefined();
}

// One recvmsg(2) into `data` (its whole size) with `flags` | MSG_CMSG_CLOEXEC, retried on
// EINTR: the byte count, or -1 with errno. The SCM_RIGHTS descriptors received (at most 16
// kept; MSG_CTRUNC in `msgFlags` when more came, closed) are appended to `fds`.
ssize_t RecvWithFds(int sock, std::vector<char>& data, int flags, std::vector<int>& fds, int* msgFlags) {
  int got[16];
  size_t n = 0;
  ssize_t r = ns_scm_recv(sock, data.data(), data.size(), flags, got, 16, &n, msgFlags);
  fds.insert(fds.end(), got, got + n);
  return r;
}

}  // namespace

// unixConnect(path) -> a connected SOCK_STREAM socket (close-on-exec), as runc's
// net.Dial("unix", path). Throws ENAMETOOLONG for a path past sun_path, ECONNREFUSED when
// nobody listens, EAGAIN when the listener's queue is full (the connect is non-blocking, as
// Go's: a listener that never accepts must not hang the caller), ENOENT as connect(2) says.
// The socket is blocking again once connected.
Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowPlan(env, "unixConnect: expected a path");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  if (!UnixAddress(path, &addr)) return ThrowErrno(env, ENAMETOOLONG, "connect " + path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  int r;
  do {
    r = connect(fd, (struct sockaddr*)&addr, sizeof addr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "connect " + path);
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "fcntl F_SETFL");
  }
  return Napi::Number::New(env, fd);
}

// unixListen(path, backlog?) -> a listening SOCK_STREAM socket bound at `path` (close-on-exec).
Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowPlan(env, "unixListen: expected a path");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int backlog = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 16;
  struct sockaddr_un addr;
  if (!UnixAddress(path, &addr)) return ThrowErrno(env, ENAMETOOLONG, "bind " + path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "bind " + path);
  }
  if (listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "listen " + path);
  }
  return Napi::Number::New(env, fd);
}

// poll(2) `fd` for input for at most `timeoutMs` (-1: for ever), again after EINTR: 1 when it is
// readable (or at end of file / in error: the next read says), 0 when the time ran out, -errno.
int PollIn(int fd, int timeoutMs) {
  struct pollfd p = {fd, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, timeoutMs);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

// unixAccept(fd, timeoutMs) -> an accepted connection (close-on-exec), or null when none came
// within `timeoutMs` (poll(2) first: never blocks longer; -1 waits for ever).
Napi::Value UnixAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowPlan(env, "unixAccept: expected a descriptor");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int timeout = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
  int r = PollIn(fd, timeout);
  if (r < 0) return ThrowErrno(env, -r, "poll");
  if (r == 0) return env.Null();
  int c;
  do {
    c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  } while (c < 0 && errno == EINTR);
  if (c < 0) return ThrowErrno(env, errno, "accept4");
  return Napi::Number::New(env, c);
}

// sendFd(socket, fd, payload: Buffer) : one sendmsg(2) carrying `payload` as data and `fd` as
// SCM_RIGHTS, as runc's SendRawFd (the payload is the file's name, or the seccomp state JSON).
// Throws EPIPE / ECONNRESET when the peer is gone (MSG_NOSIGNAL: no SIGPIPE).
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsBuffer())
    return ThrowPlan(env, "sendFd(socket, fd, payload: Buffer) expected");
  int fd = info[1].As<Napi::Number>().Int32Value();
  return SendWithFds(env, info[0].As<Napi::Number>().Int32Value(), &fd, 1, info[2].As<Napi::Buffer<uint8_t>>());
}

// sendFds(socket, fds: number[], payload: Buffer): one sendmsg(2) of `payload` with every
// descriptor of `fds` (0 to 16) in one SCM_RIGHTS control message; MSG_NOSIGNAL.
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsArray() || !info[2].IsBuffer())
    return ThrowPlan(env, "sendFds(socket, fds: number[], payload: Buffer) expected");
  Napi::Array list = info[1].As<Napi::Array>();
  uint32_t n = list.Length();
  if (n > 16) return ThrowPlan(env, "sendFds: at most 16 descriptors");
  int fds[16];
  for (uint32_t k = 0; k < n; k++) {
    Napi::Value v = list.Get(k);
    if (!v.IsNumber()) return ThrowPlan(env, "sendFds: fds must be numbers");
    fds[k] = v.As<Napi::Number>().Int32Value();
  }
  return SendWithFds(env, info[0].As<Napi::Number>().Int32Value(), fds, n, info[2].As<Napi::Buffer<uint8_t>>());
}

// recvFd(socket, maxBytes?) -> { fd, data: Buffer } | null: one recvmsg(2) (MSG_CMSG_CLOEXEC),
// as runc's RecvFile. `fd` is -1 when the message carried none; every descriptor past the
// first is closed (the sender may not make us hold more). null at end of file.
Napi::Value RecvFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowPlan(env, "recvFd(socket, maxBytes?) expected");
  int sock = info[0].As<Napi::Number>().Int32Value();
  size_t max = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 4096;
  std::vector<char> data(max == 0 ? 1 : max);
  std::vector<int> fds;
  int flags = 0;
  ssize_t n = RecvWithFds(sock, data, 0, fds, &flags);
  if (n < 0) return ThrowErrno(env, errno, "recvmsg");
  for (size_t k = 1; k < fds.size(); k++) close(fds[k]);
  int got = fds.empty() ? -1 : fds[0];
  if (n == 0 && got < 0) return env.Null();
  Napi::Object r = Napi::Object::New(env);
  r.Set("fd", Napi::Number::New(env, got));
  r.Set("data", Napi::Buffer<char>::Copy(env, data.data(), (size_t)n));
  if (flags & (MSG_TRUNC | MSG_CTRUNC)) r.Set("truncated", Napi::Boolean::New(env, true));
  return r;
}

}  // namespace ns

namespace ns {

// peerCred(socket) -> { pid, uid, gid } of the process that connected (SO_PEERCRED, as it was
// at connect(2) time; unix(7)). The pid is as this process's pid namespace sees it (0 if not).
Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowPlan(env, "peerCred(socket) expected");
  int sock = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return ThrowErrno(env, errno, "getsockopt SO_PEERCRED");
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, cred.pid));
  r.Set("uid", Napi::Number::New(env, cred.uid));
  r.Set("gid", Napi::Number::New(env, cred.gid));
  return r;
}

// recvFds(socket, maxBytes, maxFds) -> { data: Buffer, fds: number[], truncated? } | null: one
// recvmsg(2) that never waits (MSG_DONTWAIT; null when nothing is there yet). Descriptors come
// close-on-exec; those past `maxFds` (at most 16) are closed. Empty data and no descriptor: end
// of file. `truncated` when the control part was cut (MSG_CTRUNC: the kernel closed the rest).
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    return ThrowPlan(env, "recvFds(socket, maxBytes, maxFds) expected");
  int sock = info[0].As<Napi::Number>().Int32Value();
  size_t max = info[1].As<Napi::Number>().Uint32Value();
  uint32_t maxFds = info[2].As<Napi::Number>().Uint32Value();
  std::vector<char> data(max == 0 ? 1 : max);
  std::vector<int> got;
  int flags = 0;
  ssize_t n = RecvWithFds(sock, data, MSG_DONTWAIT, got, &flags);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Null();
  if (n < 0) return ThrowErrno(env, errno, "recvmsg");
  Napi::Array fds = Napi::Array::New(env);
  for (size_t k = 0; k < got.size(); k++) {
    if (k < maxFds)
      fds.Set((uint32_t)k, Napi::Number::New(env, got[k]));
    else
      close(got[k]);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("data", Napi::Buffer<char>::Copy(env, data.data(), (size_t)n));
  r.Set("fds", fds);
  if (flags & MSG_CTRUNC) r.Set("truncated", Napi::Boolean::New(env, true));
  return r;
}

}  // namespace ns
