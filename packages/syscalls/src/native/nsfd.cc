// Namespace descriptors for JavaScript: what kind of namespace a descriptor refers to, so that a
// namespace joined by path (linux.namespaces[].path) is checked before anything is spawned.
#include <errno.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>

#include "addon.h"

#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO(0xb7, 0x3)
#endif

namespace ns {

// nsType(fd) -> the CLONE_NEW* flag of the namespace `fd` refers to (ioctl NS_GET_NSTYPE,
// ioctl_ns(2)). Throws ENOTTY (or EINVAL) when `fd` is not a namespace file of nsfs.
Napi::Value NsType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowPlan(env, "nsType: expected a descriptor");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) return ThrowErrno(env, errno, "ioctl NS_GET_NSTYPE");
  return Napi::Number::New(env, type);
}

}  // namespace ns
