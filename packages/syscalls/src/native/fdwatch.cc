// Readable watchers over any descriptor (a listening or connected unix socket of `ns serve`):
// libuv polls the descriptor and JavaScript is called each time it can be read, until the
// watcher is stopped. The watcher owns the descriptor: it is closed in the uv_close callback,
// once libuv is done with it (descriptor numbers are reused), as watch.cc does for pidfds.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <unordered_map>
#include <vector>

#include "addon.h"

namespace ns {

namespace {

struct FdWatcher {
  uv_poll_t poll;
  int fd;
  bool dead = false;  // the environment is being torn down: never call into JS again
  bool ownsFd = true;  // false when watching never started: the caller keeps its descriptor
  size_t readMax = 0;  // > 0: read here, and pass what was read (null at end of file) to JS
  napi_env env;
  napi_async_context context = nullptr;
  Napi::FunctionReference onReadable;
};

std::unordered_map<int, FdWatcher*>& FdWatchers() {
  static thread_local std::unordered_map<int, FdWatcher*> map;
  return map;
}

void OnFdWatcherClosed(uv_handle_t* h) {
  FdWatcher* w = (FdWatcher*)h->data;
  if (w->dead) {
    w->onReadable.SuppressDestruct();
  } else if (w->context) {
    napi_async_destroy(w->env, w->context);
  }
  if (w->ownsFd) close(w->fd);
  delete w;
}

void StopFdWatcher(FdWatcher* w) {
  FdWatchers().erase(w->fd);
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t*)&w->poll, OnFdWatcherClosed);
}

void OnFdReadable(uv_poll_t* h, int status, int events) {
  FdWatcher* w = (FdWatcher*)h->data;
  if (w->dead) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  napi_value result;
  napi_value arg = nullptr;
  if (w->readMax > 0) {
    // One read(2) of what is there (the descriptor is non-blocking): data, or end of file or
    // an error, where the watcher stops and closes the descriptor before JS hears of it.
    char stack[4096];
    std::vector<char> heap;
    char* buf = stack;
    if (w->readMax > sizeof stack) {
      heap.resize(w->readMax);
      buf = heap.data();
    }
    ssize_t n;
    do {
      n = read(w->fd, buf, w->readMax);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n > 0) arg = Napi::Buffer<char>::Copy(env, buf, (size_t)n);
    else arg = env.Null();
  }
  // An error on the descriptor (status < 0) is reported as readable: the next read says what.
  // End of file in read mode: JS hears of it first (the news a reply pipe carries), then the
  // watcher is stopped (epoll_ctl, uv_close): its teardown is not on the way to the caller.
  // JS cannot reach it meanwhile: it is taken out of the map first (unwatchFd says false).
  bool last = arg != nullptr && w->readMax > 0 && Napi::Value(env, arg).IsNull();
  if (last) FdWatchers().erase(w->fd);
  napi_status st = napi_make_callback(env, w->context, env.Global(), w->onReadable.Value(), arg ? 1 : 0, arg ? &arg : nullptr, &result);
  if (last) {
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t*)&w->poll, OnFdWatcherClosed);  // w lives on until its close callback
  }
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

}  // namespace

// watchReadable(fd, onReadable, readMax?): call onReadable() each time `fd` can be read (or is
// at end of file / in error), until unwatchFd(fd). The watcher takes `fd` over: unwatchFd
// closes it. With readMax > 0 the watcher makes `fd` non-blocking and reads it itself, at most
// readMax bytes a call: onReadable(Buffer) with data, onReadable(null) at end of file or on an
// error, the watcher then stopped and `fd` closed already (a reply pipe read with no JS read
// call and no unwatchFd call on the way).
// Throws EEXIST when `fd` is watched already; on another failure `fd` is left open.
Napi::Value WatchReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction())
    return ThrowPlan(env, "watchReadable(fd, onReadable) expected");
  int fd = info[0].As<Napi::Number>().Int32Value();
  size_t readMax = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  if (readMax > (1u << 20)) return ThrowPlan(env, "watchReadable: readMax past 1 MiB");
  if (FdWatchers().count(fd)) return ThrowErrno(env, EEXIST, "uv_poll_start", "already watched");
  if (readMax > 0) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return ThrowErrno(env, errno, "fcntl O_NONBLOCK");
  }
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  FdWatcher* w = new FdWatcher();
  w->fd = fd;
  w->readMax = readMax;
  w->env = env;
  w->onReadable = Napi::Persistent(info[1].As<Napi::Function>());
  napi_async_init(env, Napi::Object::New(env), Napi::String::New(env, "NsFdWatch"), &w->context);
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    napi_async_destroy(env, w->context);
    delete w;
    return ThrowErrno(env, -rc, "uv_poll_init");
  }
  rc = uv_poll_start(&w->poll, UV_READABLE, OnFdReadable);
  if (rc != 0) {
    // The handle is initialized: it must be closed through libuv; the caller keeps its fd.
    w->ownsFd = false;
    uv_close((uv_handle_t*)&w->poll, OnFdWatcherClosed);
    return ThrowErrno(env, -rc, "uv_poll_start");
  }
  FdWatchers()[fd] = w;
  return env.Undefined();
}

// unwatchFd(fd): stop the watcher of `fd` and close `fd` (in the uv_close callback). A
// descriptor that is not watched is left alone (false).
Napi::Value UnwatchFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowPlan(env, "unwatchFd(fd) expected");
  auto it = FdWatchers().find(info[0].As<Napi::Number>().Int32Value());
  if (it == FdWatchers().end()) return Napi::Boolean::New(env, false);
  StopFdWatcher(it->second);
  return Napi::Boolean::New(env, true);
}

// refFd(fd, on): whether the watcher of `fd` keeps the event loop alive (uv_ref, uv_unref; a
// new watcher does). False when `fd` is not watched.
Napi::Value RefFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber()) return ThrowPlan(env, "refFd(fd, on) expected");
  auto it = FdWatchers().find(info[0].As<Napi::Number>().Int32Value());
  if (it == FdWatchers().end()) return Napi::Boolean::New(env, false);
  if (info[1].ToBoolean().Value())
    uv_ref((uv_handle_t*)&it->second->poll);
  else
    uv_unref((uv_handle_t*)&it->second->poll);
  return Napi::Boolean::New(env, true);
}

// Environment teardown: stop every fd watcher without calling into JavaScript again.
void CloseFdWatchers() {
  std::vector<FdWatcher*> watchers;
  for (auto& [fd, w] : FdWatchers()) watchers.push_back(w);
  for (FdWatcher* w : watchers) {
    w->dead = true;
    StopFdWatcher(w);
  }
}

}  // namespace ns
