// Descriptors for JavaScript: pipes, dup, a non-blocking read, O_PATH opens, FIFOs, and
// ptys (from the host's devpts or a container's own).
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <vector>

#include "addon.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace ns {


// pipe() -> [read end, write end], both close-on-exec.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return ThrowErrno(env, errno, "pipe2");
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, fds[0]));
  a.Set(1u, Napi::Number::New(env, fds[1]));
  return a;
}

// seqpacketPair() -> two connected AF_UNIX SOCK_SEQPACKET sockets, both close-on-exec
// (socketpair(2)): one message per send, with descriptors (a pool member's run record).
Napi::Value SeqpacketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) return ThrowErrno(env, errno, "socketpair");
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, fds[0]));
  a.Set(1u, Napi::Number::New(env, fds[1]));
  return a;
}

// dup(fd) -> a new close-on-exec descriptor for the same open file.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return ThrowErrno(env, errno, "fcntl F_DUPFD_CLOEXEC");
  return Napi::Number::New(env, fd);
}

// writeAll(fd, buffer) -> true once all of `buffer` is written (write(2) until done; a
// blocking descriptor), false on EPIPE (the reader is gone; Node ignores SIGPIPE). One call
// for what fs.writeSync's checks and loop did: a pool member's run record, on the caller's time.
Napi::Value WriteAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) return ThrowPlan(env, "writeAll(fd, buffer) expected");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> b = info[1].As<Napi::Buffer<char>>();
  const char* p = b.Data();
  size_t left = b.Length();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) return Napi::Boolean::New(env, false);
      return ThrowErrno(env, errno, "write");
    }
    p += n;
    left -= (size_t)n;
  }
  return Napi::Boolean::New(env, true);
}

// readAvailable(fd, max) -> Buffer with what can be read now (poll with a zero timeout
// first, so it never blocks), or null when nothing is available, at end of file or on EIO.
Napi::Value ReadAvailable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  size_t max = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 65536;
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  int r;
  do {
    r = poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r <= 0 || !(p.revents & POLLIN)) return env.Null();
  std::vector<char> buf(max);
  ssize_t n;
  do {
    n = read(fd, buf.data(), max);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return env.Null();
  return Napi::Buffer<char>::Copy(env, buf.data(), (size_t)n);
}

// openPath(path) -> an O_PATH|O_CLOEXEC descriptor (opening a FIFO this way is neither a
// reader nor a writer of it).
Napi::Value OpenPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "open " + path);
  return Napi::Number::New(env, fd);
}

// mkfifo(path, mode): mkfifo(3) (Node has no binding for it).
Napi::Value Mkfifo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (mkfifo(path.c_str(), (mode_t)info[1].As<Napi::Number>().Uint32Value()) < 0)
    return ThrowErrno(env, errno, "mkfifo " + path);
  return env.Undefined();
}

// eventfd(2) with EFD_CLOEXEC, blocking: a cgroup v1 notification target (cgroup.event_control).
Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = eventfd(info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : 0, EFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "eventfd");
  return Napi::Number::New(env, fd);
}

Napi::Value SetWinsize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  int fd = info[0].As<Napi::Number>().Int32Value();
  ws.ws_col = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_row = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return ThrowErrno(env, errno, "ioctl TIOCSWINSZ");
  return env.Undefined();
}

// ttyOpost(fd, on) -> whether OPOST (output processing: ONLCR ...) was set before: sets or
// clears it in the terminal's termios (tcsetattr TCSANOW). For a terminal the caller relays a
// pty to: libuv's raw mode keeps ONLCR, so \n already made \r\n by the pty became \r\r\n
// (runc's cfmakeraw clears OPOST).
Napi::Value TtyOpost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean()) return ThrowPlan(env, "ttyOpost(fd, on: boolean) expected");
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct termios t;
  if (tcgetattr(fd, &t) < 0) return ThrowErrno(env, errno, "tcgetattr");
  bool was = (t.c_oflag & OPOST) != 0;
  if (info[1].As<Napi::Boolean>().Value())
    t.c_oflag |= OPOST;
  else
    t.c_oflag &= ~OPOST;
  if (tcsetattr(fd, TCSANOW, &t) < 0) return ThrowErrno(env, errno, "tcsetattr");
  return Napi::Boolean::New(env, was);
}

// The ptmx of the devpts instance mounted at <root>/dev/pts, opened without following any
// symlink and without leaving <root> (openat2 RESOLVE_IN_ROOT), and checked to be on devpts.
static int OpenContainerPtmx(const std::string& root, std::string* what) {
  int rootfd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return *what = "open " + root, -1;
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_RDWR | O_NOCTTY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = (int)syscall(SYS_openat2, rootfd, "dev/pts/ptmx", &how, sizeof how);
  int e = errno;
  close(rootfd);
  if (fd < 0) return errno = e, *what = "openat2 " + root + "/dev/pts/ptmx", -1;
  struct statfs sf;
  if (fstatfs(fd, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC) {
    close(fd);
    return errno = EXDEV, *what = root + "/dev/pts/ptmx is not on a devpts file system", -1;
  }
  return fd;
}

// ptyPeer(master) -> a new descriptor of the pty's slave (TIOCGPTPEER: no path lookup, works
// for a pty of another devpts instance, e.g. a container's console), O_RDWR|O_NOCTTY|O_CLOEXEC.
Napi::Value PtyPeer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowPlan(env, "ptyPeer(master) expected");
  int slave = ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return ThrowErrno(env, errno, "ioctl TIOCGPTPEER");
  return Napi::Number::New(env, slave);
}

// openPty(cols, rows, root?) -> { master, slave, path }; both ends O_CLOEXEC|O_NOCTTY.
// With `root` (e.g. /proc/PID/root) the pty comes from that container's own devpts, so its
// name (`path`, as the container sees it) resolves inside the container.
Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int master;
  if (info.Length() > 2 && info[2].IsString()) {
    std::string what;
    master = OpenContainerPtmx(info[2].As<Napi::String>().Utf8Value(), &what);
    if (master < 0) return ThrowErrno(env, errno, what);
  } else {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return ThrowErrno(env, errno, "posix_openpt");
  }
  char name[128];
  if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0) {
    int e = errno;
    close(master);
    return ThrowErrno(env, e, "unlockpt");
  }
  // TIOCGPTPEER opens the slave from the master, never by a path someone could swap.
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    int e = errno;
    close(master);
    return ThrowErrno(env, e, std::string("ioctl TIOCGPTPEER ") + name);
  }
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_col = (unsigned short)(info.Length() > 0 ? info[0].ToNumber().Uint32Value() : 80);
  ws.ws_row = (unsigned short)(info.Length() > 1 ? info[1].ToNumber().Uint32Value() : 24);
  ioctl(master, TIOCSWINSZ, &ws);
  Napi::Object r = Napi::Object::New(env);
  r.Set("master", Napi::Number::New(env, master));
  r.Set("slave", Napi::Number::New(env, slave));
  r.Set("path", Napi::String::New(env, name));
  return r;
}

}  // namespace ns
