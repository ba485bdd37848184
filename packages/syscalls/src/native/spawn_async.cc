// spawnAsync(): spawn() with the child's set-up off the event loop: its error pipe is polled
// by libuv, sync steps call back into JavaScript from the loop, and the outcome is reported
// at end of file.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <unordered_map>
#include <vector>

#include "start.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace ns {

namespace {

// A child being set up while the event loop runs: the error pipe is polled, sync steps call
// back into JavaScript from the loop, and `onReady(result)` reports the outcome at EOF.
struct Pending {
  uv_poll_t poll;
  uv_timer_t timer;     // the set-up deadline (started only with a timeout)
  int handles = 1;      // libuv handles not closed yet: freed when both are
  napi_env env;
  int errfd = -1;
  int syncfd = -1;
  Launch* launch = nullptr;  // the stub's stack and context, until EOF
  Outcome o;
  uint8_t buf[sizeof(ns_msg) * 32];
  size_t have = 0;
  bool finished = false;
  bool intoCgroup = false;  // Started::intoCgroup: told to onSync
  Napi::FunctionReference onSync, onReady, onExit;
  Napi::Reference<Napi::Value> syncError;  // an exception thrown by onSync
  napi_async_context context = nullptr;
};

std::unordered_map<Pending*, bool>& Pendings() {
  static thread_local std::unordered_map<Pending*, bool> set;
  return set;
}

void OnPendingClosed(uv_handle_t* h) {
  Pending* p = (Pending*)h->data;
  if (--p->handles > 0) return;
  close(p->errfd);
  if (p->syncfd >= 0) close(p->syncfd);
  delete p->launch;
  delete p;
}

// Close the poll and (when started) the timer; OnPendingClosed frees the record after both.
void ClosePending(Pending* p) {
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t*)&p->poll, OnPendingClosed);
  if (p->handles > 1) {
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t*)&p->timer, OnPendingClosed);
  }
}

void OnPendingDeadline(uv_timer_t* t) {
  Pending* p = (Pending*)t->data;
  if (!p->finished && !p->o.timedOut) TimedOut(&p->o);  // EOF follows: PendingFinish reports
}

void PendingMessage(Pending* p, const ns_msg& m) {
  Napi::Env env(p->env);
  if (RecordMessage(&p->o, m)) {
    if (p->o.timedOut) Abort(p->o);  // a process handed over after the deadline
    return;
  }
  if (p->o.timedOut) return;
  if (m.code == NS_MSG_DETACH) {
    // A `detach` step (a pool member waiting for its run, a created container): the child goes
    // on alone, having exec'd ns-init long ago; OnPendingReadable concludes now, as spawn() does.
    p->o.detached = true;
  } else if (m.code == NS_MSG_SYNC) {
    if (!p->onSync.IsEmpty() && p->syncError.IsEmpty()) {
      Napi::HandleScope scope(env);
      pid_t pid = p->o.realPid > 0 ? p->o.realPid : p->o.pid;  // after a cloneParent step: the process that waits
      napi_value argv[4] = {Napi::Number::New(env, m.step), Napi::Number::New(env, pid), Napi::Number::New(env, m.value), Napi::Boolean::New(env, p->intoCgroup)};
      napi_value result;
      napi_status st = napi_make_callback(env, p->context, env.Global(), p->onSync.Value(), 4, argv, &result);
      if (st == napi_pending_exception) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
        p->syncError = Napi::Persistent(Napi::Value(env, err));
        syscall(SYS_pidfd_send_signal, p->o.pidfd, SIGKILL, nullptr, 0);
        return;
      }
    }
    p->launch->SetPid(p->o.realPid > 0 ? p->o.realPid : p->o.pid);
    Go(p->syncfd);
  }
}

void PendingFinish(Pending* p) {
  p->finished = true;
  Pendings().erase(p);
  ClosePending(p);
  Napi::Env env(p->env);
  Napi::HandleScope scope(env);
  napi_value argv[2];
  if (!p->syncError.IsEmpty()) {
    ReapNow(p->o.pidfd);
    close(p->o.pidfd);
    if (p->o.realPid > 0) KillAndWaitPid(p->o.realPid, p->o.front > 0);  // our own child (CLONE_PARENT), not reaped yet
    argv[0] = p->syncError.Value();
    argv[1] = env.Undefined();
  } else {
    p->o.execing = p->launch->Execing();
    if (p->o.failedErrno == 0) p->o.statusfd = p->launch->TakeStatusFd(p->o.execing || p->o.detached);
    Napi::Value r = Conclude(env, p->o, p->onExit.Value());
    if (env.IsExceptionPending()) {
      argv[0] = env.GetAndClearPendingException().Value();
      argv[1] = env.Undefined();
    } else {
      argv[0] = env.Null();
      argv[1] = r;
    }
  }
  napi_value result;
  napi_status st = napi_make_callback(env, p->context, env.Global(), p->onReady.Value(), 2, argv, &result);
  napi_async_destroy(env, p->context);
  p->context = nullptr;
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

void OnPendingReadable(uv_poll_t* h, int status, int events) {
  Pending* p = (Pending*)h->data;
  if (p->finished) return;
  for (;;) {
    ssize_t n = read(p->errfd, p->buf + p->have, sizeof p->buf - p->have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;  // more later
    if (n <= 0) break;                      // EOF: exec'd, or the child is gone
    p->have += (size_t)n;
    size_t at = 0;
    while (p->have - at >= sizeof(ns_msg)) {
      ns_msg m;
      memcpy(&m, p->buf + at, sizeof m);
      at += sizeof m;
      PendingMessage(p, m);
      if (p->o.detached && !p->o.failedErrno) {
        PendingFinish(p);
        return;
      }
    }
    memmove(p->buf, p->buf + at, p->have - at);
    p->have -= at;
  }
  PendingFinish(p);
}

}  // namespace

// spawnAsync(plan, onSync?, onReady: (error, result) => void, onExit, timeoutMs?, cgroupFd?) -> pid of the
// first child. Returns once the child is cloned; the plan runs while the event loop does.
// onReady gets spawn()'s result ({ pid, pidfd } or a failure object) or the error thrown by
// onSync. With `timeoutMs` > 0, a set-up not done by then is killed (NS_STEP_TIMEOUT).
Napi::Value SpawnAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsBuffer() || !info[2].IsFunction() || !info[3].IsFunction())
    return ThrowPlan(env, "spawnAsync(plan: Buffer, onSync, onReady, onExit, timeoutMs?) expected");
  int64_t timeoutMs = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Int64Value() : 0;
  Started st;
  int cgroupFd = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : -1;
  if (!Start(env, info[0].As<Napi::Buffer<uint8_t>>(), &st, cgroupFd)) return env.Undefined();
  Pending* p = new Pending();
  p->intoCgroup = st.intoCgroup;
  p->env = env;
  p->errfd = st.errfd;
  p->syncfd = st.syncfd;
  p->launch = st.launch;
  p->o.pid = st.pid;
  p->o.pidfd = st.pidfd;
  if (info[1].IsFunction()) p->onSync = Napi::Persistent(info[1].As<Napi::Function>());
  p->onReady = Napi::Persistent(info[2].As<Napi::Function>());
  p->onExit = Napi::Persistent(info[3].As<Napi::Function>());
  napi_async_init(env, Napi::Object::New(env), Napi::String::New(env, "NsSpawn"), &p->context);
  fcntl(p->errfd, F_SETFL, fcntl(p->errfd, F_GETFL) | O_NONBLOCK);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  p->poll.data = p;
  int rc = uv_poll_init(loop, &p->poll, p->errfd);
  if (rc == 0) rc = uv_poll_start(&p->poll, UV_READABLE, OnPendingReadable);
  if (rc != 0) {
    // Cannot watch the child: take it down and wait for it, then free everything.
    KillAndReap(st.pidfd);
    close(p->errfd);
    close(p->syncfd);
    napi_async_destroy(env, p->context);
    delete p->launch;
    delete p;
    return ThrowErrno(env, -rc, "uv_poll_start");
  }
  if (timeoutMs > 0 && uv_timer_init(loop, &p->timer) == 0) {
    p->timer.data = p;
    p->handles = 2;
    uv_timer_start(&p->timer, OnPendingDeadline, (uint64_t)timeoutMs, 0);
    uv_unref((uv_handle_t*)&p->timer);  // the poll keeps the loop alive, not the deadline
  }
  Pendings()[p] = true;
  return Napi::Number::New(env, st.pid);
}

// Teardown: stop watching the children still being set up (PR_SET_PDEATHSIG takes them
// down with this thread). A stub may not have exec'd yet: its memory is never freed here.
void ClosePendingSpawns() {
  std::vector<Pending*> pendings;
  for (auto& [p, on] : Pendings()) pendings.push_back(p);
  Pendings().clear();
  for (Pending* p : pendings) {
    p->finished = true;
    p->launch = nullptr;
    p->onSync.SuppressDestruct();
    p->onReady.SuppressDestruct();
    p->onExit.SuppressDestruct();
    p->syncError.SuppressDestruct();
    ClosePending(p);
  }
}

}  // namespace ns
