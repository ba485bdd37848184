// Declarations shared by the addon's files (N-API glue of @ns/syscalls):
//   errors.cc  errno errors for JavaScript        image.cc        the sealed memfd of ns-init
//   stub.cc    the clone of Node, until it execs   start.cc        checking a plan, cloning
//   spawn.cc   spawn(), outcomes                   spawn_async.cc  spawnAsync()
//   spawn_via.cc  cloning through an ns front (ns serve)
//   watch.cc   exit watchers over pidfds           fds.cc          pipes, ptys, FIFOs, reads
//   bpf.cc     cgroup v2 device filters            addon.cc        exports and teardown
//   nsfd.cc    the type of a namespace descriptor
//   unix.cc    descriptors over unix sockets       seccomp_notify.cc  seccomp listeners
//   fdwatch.cc readable watchers over descriptors
#pragma once
#include <napi.h>
#include <stdint.h>

#include <string>

namespace ns {

// Throw an Error for a failed system call: `errno` (negative, as Node's), `syscall`, the C
// library's text as the message, and an optional `detail` (the kernel's own words, such as
// a verifier log). src/native.ts names the code (ENOENT ...) and turns it into an NsError.
// Returns undefined for `return Throw...;`.
Napi::Value ThrowErrno(Napi::Env env, int err, const std::string& syscall, const std::string& detail = "");

// Throw a TypeError with code ERR_NS_PLAN (a malformed plan buffer or arguments).
Napi::Value ThrowPlan(Napi::Env env, const std::string& why);
// poll(2) for input with a timeout (unix.cc): 1 readable, 0 timed out, -errno.
int PollIn(int fd, int timeoutMs);

// A new sealed, executable memfd holding ns-init (close-on-exec; the caller closes it).
// Returns -1 with errno set and `*what` naming the call that failed.
int InitImageFd(std::string* what);

// Wait for (reap) the child behind `pidfd`; for a process that is not our child (cloned by
// an ns front), wait until it has exited (WaitGone).
void ReapNow(int pidfd);

// Wait until the process behind `pidfd` has exited (the pidfd is readable), at most 10 s.
void WaitGone(int pidfd);

// Watch `pidfd` with libuv and call `onExit(code, signal)` once the child has exited (it is
// reaped then; the pidfd is closed in the uv_close callback). With `statusfd` (the plan's memfd
// of a child whose plan had an init step; taken over, closed with the pidfd), the status is the
// one the init recorded there for the program (ns_launch.exited/wstatus), when it did. Throws on
// failure (pending exception, returns false), after killing and reaping the child.
bool WatchExit(Napi::Env env, int pidfd, Napi::Function onExit, int statusfd = -1);

// Environment teardown of the watchers and of the children still being set up.
void CloseWatchers();
void ClosePendingSpawns();
void CloseFdWatchers();

// The exported functions, by file.
Napi::Value Spawn(const Napi::CallbackInfo& info);
Napi::Value SpawnAsync(const Napi::CallbackInfo& info);
Napi::Value Kill(const Napi::CallbackInfo& info);
Napi::Value Ref(const Napi::CallbackInfo& info);
Napi::Value Release(const Napi::CallbackInfo& info);
Napi::Value PidfdOpen(const Napi::CallbackInfo& info);
Napi::Value PidfdSignal(const Napi::CallbackInfo& info);
Napi::Value Pipe(const Napi::CallbackInfo& info);
Napi::Value SeqpacketPair(const Napi::CallbackInfo& info);
Napi::Value PtyPeer(const Napi::CallbackInfo& info);
Napi::Value TtyOpost(const Napi::CallbackInfo& info);
Napi::Value Dup(const Napi::CallbackInfo& info);
Napi::Value ReadAvailable(const Napi::CallbackInfo& info);
Napi::Value WriteAll(const Napi::CallbackInfo& info);
Napi::Value OpenPath(const Napi::CallbackInfo& info);
Napi::Value Mkfifo(const Napi::CallbackInfo& info);
Napi::Value Eventfd(const Napi::CallbackInfo& info);
Napi::Value SetWinsize(const Napi::CallbackInfo& info);
Napi::Value OpenPty(const Napi::CallbackInfo& info);
Napi::Value AttachDeviceFilter(const Napi::CallbackInfo& info);
Napi::Value DeviceFilterCount(const Napi::CallbackInfo& info);
Napi::Value NsType(const Napi::CallbackInfo& info);
Napi::Value NetlinkRequest(const Napi::CallbackInfo& info);
Napi::Value UnixConnect(const Napi::CallbackInfo& info);
Napi::Value UnixListen(const Napi::CallbackInfo& info);
Napi::Value UnixAccept(const Napi::CallbackInfo& info);
Napi::Value SendFd(const Napi::CallbackInfo& info);
Napi::Value SendFds(const Napi::CallbackInfo& info);
Napi::Value RecvFd(const Napi::CallbackInfo& info);
Napi::Value RecvFds(const Napi::CallbackInfo& info);
Napi::Value PeerCred(const Napi::CallbackInfo& info);
Napi::Value WatchReadable(const Napi::CallbackInfo& info);
Napi::Value UnwatchFd(const Napi::CallbackInfo& info);
Napi::Value RefFd(const Napi::CallbackInfo& info);
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info);
Napi::Value SeccompNotifRecv(const Napi::CallbackInfo& info);
Napi::Value SeccompNotifSend(const Napi::CallbackInfo& info);

}  // namespace ns

// stub.cc: what the clone of Node runs until it execs ns-init (raw system calls only).
struct ns_stub_ctx {
  int initfd;               // the memfd of ns-init
  char* const* argv;        // ns-init's argv: {"ns-init", "<plan memfd>", NULL}
  char* const* envp;        // empty: nothing of the creator's environment goes along
  int errfd;                // where a failure before the exec is reported (step NS_STEP_INIT)
  int parentfd;             // pidfd of this process, or -1
  int pdeathsig;            // PR_SET_PDEATHSIG, 0 for none
  const int* keep;          // descriptors ns-init inherits (all others are close-on-exec)
  uint32_t nkeep;
};
extern "C" int ns_stub_main(void* arg);
