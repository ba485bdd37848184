// The seccomp user-space notification side (seccomp_unotify(2)): taking a listener descriptor
// out of a child (pidfd_getfd(2), as runc takes it from runc init), and the two ioctls a
// listener answers with (SECCOMP_IOCTL_NOTIF_RECV / SEND).
#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "addon.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace ns {

// pidfdGetfd(pid, targetFd) -> a close-on-exec copy of descriptor `targetFd` of process `pid`
// (pidfd_open(2), then pidfd_getfd(2)). Needs PTRACE_MODE_ATTACH_REALCREDS over the process.
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return ThrowPlan(env, "pidfdGetfd(pid, fd) expected");
  int pid = info[0].As<Napi::Number>().Int32Value();
  int target = info[1].As<Napi::Number>().Int32Value();
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return ThrowErrno(env, errno, "pidfd_open");
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);  // O_CLOEXEC is set by the kernel
  int e = errno;
  close(pidfd);
  if (fd < 0) return ThrowErrno(env, e, "pidfd_getfd");
  return Napi::Number::New(env, fd);
}

// seccompNotifRecv(listener, timeoutMs) -> { id: bigint, pid, nr, arch, args: bigint[6] } | null:
// one SECCOMP_IOCTL_NOTIF_RECV, after waiting at most `timeoutMs` (-1: for ever) for a
// notification (null when none came). The buffer is sized as SECCOMP_GET_NOTIF_SIZES says.
Napi::Value SeccompNotifRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowPlan(env, "seccompNotifRecv(listener, timeoutMs?) expected");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int timeout = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
  int r = PollIn(fd, timeout);
  if (r < 0) return ThrowErrno(env, -r, "poll");
  if (r == 0) return env.Null();
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) return ThrowErrno(env, errno, "seccomp SECCOMP_GET_NOTIF_SIZES");
  std::vector<uint8_t> buf(sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif));
  struct seccomp_notif* n = (struct seccomp_notif*)buf.data();
  do {
    memset(buf.data(), 0, buf.size());
    r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, n);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(env, errno, "ioctl SECCOMP_IOCTL_NOTIF_RECV");
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::BigInt::New(env, (uint64_t)n->id));
  o.Set("pid", Napi::Number::New(env, n->pid));
  o.Set("nr", Napi::Number::New(env, n->data.nr));
  o.Set("arch", Napi::Number::New(env, n->data.arch));
  Napi::Array args = Napi::Array::New(env, 6);
  for (uint32_t k = 0; k < 6; k++) args.Set(k, Napi::BigInt::New(env, (uint64_t)n->data.args[k]));
  o.Set("args", args);
  return o;
}

// seccompNotifSend(listener, id: bigint, val, error, flags): SECCOMP_IOCTL_NOTIF_SEND. The
// call returns `val` when `error` is 0, else fails with -`error`; `flags` 1
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE, with val and error 0) lets the kernel run it. Throws
// ENOENT when the caller was interrupted or is gone.
Napi::Value SeccompNotifSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsBigInt())
    return ThrowPlan(env, "seccompNotifSend(listener, id: bigint, val, error, flags) expected");
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool lossless;
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  resp.val = info[2].As<Napi::Number>().Int64Value();
  resp.error = info[3].As<Napi::Number>().Int32Value();
  resp.flags = info[4].As<Napi::Number>().Uint32Value();
  int r;
  do {
    r = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(env, errno, "ioctl SECCOMP_IOCTL_NOTIF_SEND");
  return env.Undefined();
}

}  // namespace ns
