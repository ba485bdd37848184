// The module of @ns/syscalls: its exports, and the teardown that keeps a dying environment
// from being called back. The work is in the other files (see addon.h).
#include "addon.h"
#include "plan.h"

namespace {

// Environment teardown (process exit, worker termination): stop every watcher and every
// child being set up before the environment is gone.
void OnEnvCleanup(void*) {
  ns::CloseWatchers();
  ns::ClosePendingSpawns();
  ns::CloseFdWatchers();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  napi_add_env_cleanup_hook(env, OnEnvCleanup, nullptr);
  exports.Set("spawn", Napi::Function::New(env, ns::Spawn, "spawn"));
  exports.Set("spawnAsync", Napi::Function::New(env, ns::SpawnAsync, "spawnAsync"));
  exports.Set("kill", Napi::Function::New(env, ns::Kill, "kill"));
  exports.Set("ref", Napi::Function::New(env, ns::Ref, "ref"));
  exports.Set("release", Napi::Function::New(env, ns::Release, "release"));
  exports.Set("pidfdOpen", Napi::Function::New(env, ns::PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSignal", Napi::Function::New(env, ns::PidfdSignal, "pidfdSignal"));
  exports.Set("readAvailable", Napi::Function::New(env, ns::ReadAvailable, "readAvailable"));
  exports.Set("writeAll", Napi::Function::New(env, ns::WriteAll, "writeAll"));
  exports.Set("openPath", Napi::Function::New(env, ns::OpenPath, "openPath"));
  exports.Set("mkfifo", Napi::Function::New(env, ns::Mkfifo, "mkfifo"));
  exports.Set("eventfd", Napi::Function::New(env, ns::Eventfd, "eventfd"));
  exports.Set("dup", Napi::Function::New(env, ns::Dup, "dup"));
  exports.Set("pipe", Napi::Function::New(env, ns::Pipe, "pipe"));
  exports.Set("seqpacketPair", Napi::Function::New(env, ns::SeqpacketPair, "seqpacketPair"));
  exports.Set("ptyPeer", Napi::Function::New(env, ns::PtyPeer, "ptyPeer"));
  exports.Set("ttyOpost", Napi::Function::New(env, ns::TtyOpost, "ttyOpost"));
  exports.Set("openPty", Napi::Function::New(env, ns::OpenPty, "openPty"));
  exports.Set("setWinsize", Napi::Function::New(env, ns::SetWinsize, "setWinsize"));
  exports.Set("attachDeviceFilter", Napi::Function::New(env, ns::AttachDeviceFilter, "attachDeviceFilter"));
  exports.Set("deviceFilterCount", Napi::Function::New(env, ns::DeviceFilterCount, "deviceFilterCount"));
  exports.Set("nsType", Napi::Function::New(env, ns::NsType, "nsType"));
  exports.Set("netlinkRequest", Napi::Function::New(env, ns::NetlinkRequest, "netlinkRequest"));
  exports.Set("unixConnect", Napi::Function::New(env, ns::UnixConnect, "unixConnect"));
  exports.Set("unixListen", Napi::Function::New(env, ns::UnixListen, "unixListen"));
  exports.Set("unixAccept", Napi::Function::New(env, ns::UnixAccept, "unixAccept"));
  exports.Set("sendFd", Napi::Function::New(env, ns::SendFd, "sendFd"));
  exports.Set("sendFds", Napi::Function::New(env, ns::SendFds, "sendFds"));
  exports.Set("recvFd", Napi::Function::New(env, ns::RecvFd, "recvFd"));
  exports.Set("recvFds", Napi::Function::New(env, ns::RecvFds, "recvFds"));
  exports.Set("peerCred", Napi::Function::New(env, ns::PeerCred, "peerCred"));
  exports.Set("watchReadable", Napi::Function::New(env, ns::WatchReadable, "watchReadable"));
  exports.Set("unwatchFd", Napi::Function::New(env, ns::UnwatchFd, "unwatchFd"));
  exports.Set("refFd", Napi::Function::New(env, ns::RefFd, "refFd"));
  exports.Set("pidfdGetfd", Napi::Function::New(env, ns::PidfdGetfd, "pidfdGetfd"));
  exports.Set("seccompNotifRecv", Napi::Function::New(env, ns::SeccompNotifRecv, "seccompNotifRecv"));
  exports.Set("seccompNotifSend", Napi::Function::New(env, ns::SeccompNotifSend, "seccompNotifSend"));
  exports.Set("stepBytes", Napi::Number::New(env, NS_STEP_BYTES));
  return exports;
}

}  // namespace

NODE_API_MODULE(ns_syscalls, Init)
