// Exit watchers: a child's pidfd polled by libuv, waitid(P_PIDFD) once it is readable, and
// the exit reported to JavaScript. Nothing here ever calls waitpid(-1) or handles SIGCHLD,
// so Node's own children are never reaped by us. Also kill/ref by pidfd.
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <unordered_map>
#include <vector>

#include "addon.h"
#include "start.h"
#include "plan.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace ns {

namespace {

struct Watcher {
  uv_poll_t poll;
  int pidfd;
  int statusfd = -1;  // the plan's memfd when an init reports the program's status there
  bool dead = false;  // the environment is being torn down: never call into JS again
  napi_env env;
  napi_async_context context = nullptr;
  Napi::FunctionReference onExit;
};

std::unordered_map<int, Watcher*>& Watchers() {
  static thread_local std::unordered_map<int, Watcher*> map;
  return map;
}

// The pidfd is closed only here, once libuv is done with it (descriptor numbers are reused).
void OnWatcherClosed(uv_handle_t* h) {
  Watcher* w = (Watcher*)h->data;
  if (w->dead) {
    // After environment teardown: no N-API call may run; leave the references alone.
    w->onExit.SuppressDestruct();
  } else if (w->context) {
    napi_async_destroy(w->env, w->context);
  }
  close(w->pidfd);
  if (w->statusfd >= 0) close(w->statusfd);
  delete w;
}

// The program's wait status as the init recorded it in the launch header (init/reaper.cc), once
// the init has exited: false when there is no header, or the init did not get to record it
// (killed first). A status that is neither an exit nor a death by signal is not taken.
bool ProgramStatus(int statusfd, int* status, uint32_t* maxrss) {
  if (statusfd < 0) return false;
  ns_launch h;
  if (pread(statusfd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.magic != NS_LAUNCH_MAGIC || h.exited != 1) return false;
  int st = h.wstatus;
  if (!WIFEXITED(st) && !(WIFSIGNALED(st) && WTERMSIG(st) > 0 && WTERMSIG(st) < 65)) return false;
  *status = st;
  *maxrss = h.maxrss_kib;
  return true;
}

void OnPidfdReadable(uv_poll_t* h, int status, int events) {
  Watcher* w = (Watcher*)h->data;
  if (w->dead) return;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (syscall(SYS_waitid, P_PIDFD, w->pidfd, &si, WEXITED | WNOHANG, nullptr) < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
  } else if (si.si_pid == 0) {
    return;  // not exited yet
  }
  uv_poll_stop(&w->poll);
  Watchers().erase(w->pidfd);
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  Napi::Value code = env.Null(), sig = env.Null();
  int program = 0;
  uint32_t maxrss = 0;  // KiB; 0: not known (no init, or it did not get to say)
  if (ProgramStatus(w->statusfd, &program, &maxrss)) {
    // The init reaped the program and said how it ended: that, not the init's own status
    // (its exit code cannot tell an exit from a signal; SIGKILL may have ended it since).
    if (WIFEXITED(program))
      code = Napi::Number::New(env, WEXITSTATUS(program));
    else
      sig = Napi::Number::New(env, WTERMSIG(program));
  } else if (si.si_code == CLD_EXITED) {
    code = Napi::Number::New(env, si.si_status);
  } else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
    sig = Napi::Number::New(env, si.si_status);
  }
  Napi::FunctionReference cb = std::move(w->onExit);
  napi_value result;
  // The largest resident set of what the init reaped (never the child's own waitid rusage: the
  // clone of Node keeps Node's high-water mark across its execs).
  napi_value argv[3] = {code, sig, maxrss > 0 ? Napi::Number::New(env, (double)maxrss) : env.Undefined()};
  napi_status st = napi_make_callback(env, w->context, env.Global(), cb.Value(), 3, argv, &result);
  uv_close((uv_handle_t*)&w->poll, OnWatcherClosed);
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

Watcher* Lookup(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return nullptr;
  auto it = Watchers().find(info[0].As<Napi::Number>().Int32Value());
  return it == Watchers().end() ? nullptr : it->second;
}

}  // namespace

void WaitGone(int pidfd) {
  struct pollfd p = {pidfd, POLLIN, 0};
  int64_t deadline = NowMs() + 10000;
  for (;;) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return;
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    return;  // exited (readable), or an error: nothing more to wait for here
  }
}

void ReapNow(int pidfd) {
  siginfo_t si;
  int r;
  while ((r = (int)syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, nullptr)) < 0 && errno == EINTR) {
  }
  // Another process's child (cloned by an ns front): its parent reaps it; wait until it has
  // exited, so that what the caller removes next (its cgroup) is empty.
  if (r < 0 && errno == ECHILD) WaitGone(pidfd);
}

bool WatchExit(Napi::Env env, int pidfd, Napi::Function onExit, int statusfd) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  Watcher* w = new Watcher();
  w->pidfd = pidfd;
  w->statusfd = statusfd;
  w->env = env;
  w->onExit = Napi::Persistent(onExit);
  napi_async_init(env, Napi::Object::New(env), Napi::String::New(env, "NsContainer"), &w->context);
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, pidfd);
  if (rc == 0) rc = uv_poll_start(&w->poll, UV_READABLE, OnPidfdReadable);
  if (rc != 0) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    ReapNow(pidfd);
    close(pidfd);
    if (statusfd >= 0) close(statusfd);
    napi_async_destroy(env, w->context);
    delete w;
    ThrowErrno(env, -rc, "uv_poll_start");
    return false;
  }
  Watchers()[pidfd] = w;
  return true;
}

// Environment teardown (process exit, worker termination): stop every watcher before the
// environment is gone. A child exiting right then must not make a callback into a dying
// JavaScript environment (it crashed `ns run -d` now and then), and no handle may stay open.
void CloseWatchers() {
  std::vector<Watcher*> watchers;
  for (auto& [fd, w] : Watchers()) watchers.push_back(w);
  Watchers().clear();
  for (Watcher* w : watchers) {
    w->dead = true;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t*)&w->poll, OnWatcherClosed);
  }
}

// kill(pidfd, signal): pidfd_send_signal(2); never reaches a reused pid.
Napi::Value Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Watcher* w = Lookup(info);
  if (!w) return ThrowErrno(env, ESRCH, "pidfd_send_signal");
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (syscall(SYS_pidfd_send_signal, w->pidfd, sig, nullptr, 0) < 0) return ThrowErrno(env, errno, "pidfd_send_signal");
  return env.Undefined();
}

// ref(pidfd, on): whether the watcher keeps the event loop alive.
Napi::Value Ref(const Napi::CallbackInfo& info) {
  Watcher* w = Lookup(info);
  if (w) {
    if (info.Length() > 1 && info[1].ToBoolean())
      uv_ref((uv_handle_t*)&w->poll);
    else
      uv_unref((uv_handle_t*)&w->poll);
  }
  return info.Env().Undefined();
}

// release(pidfd): stop watching a child without ever reaping it, and close its pidfd. Its
// exit then goes to whoever inherits it once this process exits (the nearest subreaper:
// conmon, containerd's shim), as runc leaves a detached exec; the exit callback never runs.
Napi::Value Release(const Napi::CallbackInfo& info) {
  Watcher* w = Lookup(info);
  if (w) {
    Watchers().erase(w->pidfd);
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t*)&w->poll, OnWatcherClosed);
  }
  return info.Env().Undefined();
}

// pidfdOpen(pid) -> a close-on-exec pidfd (pidfd_open(2)); the caller closes it.
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  long fd = syscall(SYS_pidfd_open, info[0].As<Napi::Number>().Int32Value(), 0);
  if (fd < 0) return ThrowErrno(env, errno, "pidfd_open");
  return Napi::Number::New(env, (double)fd);
}

// pidfdSignal(pidfd, signal): pidfd_send_signal(2) on any pidfd.
Napi::Value PidfdSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) < 0) return ThrowErrno(env, errno, "pidfd_send_signal");
  return env.Undefined();
}

}  // namespace ns
