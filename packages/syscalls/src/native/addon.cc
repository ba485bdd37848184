// N-API glue of @ns/syscalls: decodes a plan, clones the child, meets it at sync steps,
// and watches its exit with a pidfd polled by libuv. Runs on the calling thread (Node's
// main thread for containers: PR_SET_PDEATHSIG follows the creating thread).
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "plan.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace {

constexpr size_t kStackSize = 256 * 1024;

// ---- errors ---------------------------------------------------------------------------

// The errno name ("ENOENT"). strerrorname_np would do, but it needs glibc 2.32, and the
// prebuilt binary should load on older systems too; TypeScript names any other number.
std::string ErrnoName(int err) {
  switch (err) {
#ifdef EPERM
    case EPERM:
      return "EPERM";
#endif
#ifdef ENOENT
    case ENOENT:
      return "ENOENT";
#endif
#ifdef ESRCH
    case ESRCH:
      return "ESRCH";
#endif
#ifdef EINTR
    case EINTR:
      return "EINTR";
#endif
#ifdef EIO
    case EIO:
      return "EIO";
#endif
#ifdef ENXIO
    case ENXIO:
      return "ENXIO";
#endif
#ifdef E2BIG
    case E2BIG:
      return "E2BIG";
#endif
#ifdef ENOEXEC
    case ENOEXEC:
      return "ENOEXEC";
#endif
#ifdef EBADF
    case EBADF:
      return "EBADF";
#endif
#ifdef ECHILD
    case ECHILD:
      return "ECHILD";
#endif
#ifdef EAGAIN
    case EAGAIN:
      return "EAGAIN";
#endif
#ifdef ENOMEM
    case ENOMEM:
      return "ENOMEM";
#endif
#ifdef EACCES
    case EACCES:
      return "EACCES";
#endif
#ifdef EFAULT
    case EFAULT:
      return "EFAULT";
#endif
#ifdef ENOTBLK
    case ENOTBLK:
      return "ENOTBLK";
#endif
#ifdef EBUSY
    case EBUSY:
      return "EBUSY";
#endif
#ifdef EEXIST
    case EEXIST:
      return "EEXIST";
#endif
#ifdef EXDEV
    case EXDEV:
      return "EXDEV";
#endif
#ifdef ENODEV
    case ENODEV:
      return "ENODEV";
#endif
#ifdef ENOTDIR
    case ENOTDIR:
      return "ENOTDIR";
#endif
#ifdef EISDIR
    case EISDIR:
      return "EISDIR";
#endif
#ifdef EINVAL
    case EINVAL:
      return "EINVAL";
#endif
#ifdef ENFILE
    case ENFILE:
      return "ENFILE";
#endif
#ifdef EMFILE
    case EMFILE:
      return "EMFILE";
#endif
#ifdef ENOTTY
    case ENOTTY:
      return "ENOTTY";
#endif
#ifdef ETXTBSY
    case ETXTBSY:
      return "ETXTBSY";
#endif
#ifdef EFBIG
    case EFBIG:
      return "EFBIG";
#endif
#ifdef ENOSPC
    case ENOSPC:
      return "ENOSPC";
#endif
#ifdef ESPIPE
    case ESPIPE:
      return "ESPIPE";
#endif
#ifdef EROFS
    case EROFS:
      return "EROFS";
#endif
#ifdef EMLINK
    case EMLINK:
      return "EMLINK";
#endif
#ifdef EPIPE
    case EPIPE:
      return "EPIPE";
#endif
#ifdef ERANGE
    case ERANGE:
      return "ERANGE";
#endif
#ifdef ENAMETOOLONG
    case ENAMETOOLONG:
      return "ENAMETOOLONG";
#endif
#ifdef ENOSYS
    case ENOSYS:
      return "ENOSYS";
#endif
#ifdef ENOTEMPTY
    case ENOTEMPTY:
      return "ENOTEMPTY";
#endif
#ifdef ELOOP
    case ELOOP:
      return "ELOOP";
#endif
#ifdef ENODATA
    case ENODATA:
      return "ENODATA";
#endif
#ifdef EOVERFLOW
    case EOVERFLOW:
      return "EOVERFLOW";
#endif
#ifdef EOPNOTSUPP
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
#endif
#ifdef ECANCELED
    case ECANCELED:
      return "ECANCELED";
#endif
#ifdef EPROTO
    case EPROTO:
      return "EPROTO";
#endif
#ifdef EUSERS
    case EUSERS:
      return "EUSERS";
#endif
#ifdef EDQUOT
    case EDQUOT:
      return "EDQUOT";
#endif
#ifdef ESTALE
    case ESTALE:
      return "ESTALE";
#endif
    default:
      return "E" + std::to_string(err);
  }
}

Napi::Value ThrowErrno(Napi::Env env, int err, const std::string& syscall) {
  std::string code = ErrnoName(err);
  Napi::Error e = Napi::Error::New(env, syscall + ": " + code + " (" + strerror(err) + ")");
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowPlan(Napi::Env env, const std::string& why) {
  Napi::TypeError e = Napi::TypeError::New(env, "invalid plan buffer: " + why);
  e.Set("code", Napi::String::New(env, "ERR_NS_PLAN"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// ---- plan decoding (parent side: may allocate) ---------------------------------------------

struct Decoded {
  uint32_t cloneFlags = 0;
  uint32_t pdeathsig = SIGKILL;
  std::vector<ns_step> steps;
  std::vector<std::vector<const char*>> vectors;
};

uint32_t U32(const uint8_t* b, size_t off) {
  uint32_t v;
  memcpy(&v, b + off, 4);
  return v;
}

bool Decode(const uint8_t* b, size_t len, Decoded* out, std::string* why) {
  if (len < NS_PLAN_HEADER_BYTES) return *why = "too short", false;
  if (U32(b, 0) != NS_PLAN_MAGIC) return *why = "bad magic", false;
  if (U32(b, 4) != NS_PLAN_VERSION) return *why = "version mismatch", false;
  out->cloneFlags = U32(b, 8);
  out->pdeathsig = U32(b, 32);
  if (out->pdeathsig > 64) return *why = "bad parent death signal", false;
  uint32_t n = U32(b, 12), stepsOff = U32(b, 16), vecOff = U32(b, 20), strOff = U32(b, 24);
  if (U32(b, 28) != len || stepsOff < NS_PLAN_HEADER_BYTES || stepsOff + (uint64_t)n * NS_STEP_BYTES > vecOff || vecOff > strOff ||
      strOff > len || (len > strOff && b[len - 1] != 0))
    return *why = "inconsistent layout", false;
  auto str = [&](uint32_t id, const char** s) {
    if (id == NS_NONE) return *s = nullptr, true;
    if ((uint64_t)strOff + id >= len) return false;
    *s = (const char*)b + strOff + id;
    return true;
  };
  out->steps.resize(n);
  out->vectors.reserve((size_t)n * 3);
  for (uint32_t k = 0; k < n; k++) {
    const uint8_t* p = b + stepsOff + (size_t)k * NS_STEP_BYTES;
    ns_step& s = out->steps[k];
    memset(&s, 0, sizeof s);
    s.op = U32(p, 0);
    s.flags = U32(p, 4);
    if (s.op == 0 || s.op >= NS_OP_MAX) return *why = "unknown op at step " + std::to_string(k), false;
    memcpy(s.i, p + 8, sizeof s.i);
    for (int j = 0; j < 4; j++)
      if (!str(U32(p, 56 + 4 * j), &s.s[j])) return *why = "bad string at step " + std::to_string(k), false;
    bool intVec = s.op == NS_OP_SETGROUPS || s.op == NS_OP_STDIO;
    for (int j = 0; j < 3; j++) {
      uint32_t id = U32(p, 72 + 4 * j);
      if (id == NS_NONE) continue;
      uint64_t at = (uint64_t)vecOff + id;
      if (at + 4 > strOff) return *why = "bad vector at step " + std::to_string(k), false;
      uint32_t count = U32(b, at);
      if (at + 4 + (uint64_t)count * 4 > strOff) return *why = "bad vector length", false;
      s.vlen[j] = count;
      if (intVec && j == 0) {
        s.iv = (const uint32_t*)(b + at + 4);  // 4-byte aligned by the encoder
        continue;
      }
      out->vectors.emplace_back();
      std::vector<const char*>& v = out->vectors.back();
      v.resize(count + 1, nullptr);
      for (uint32_t e = 0; e < count; e++)
        if (!str(U32(b, at + 4 + 4 * e), &v[e]) || !v[e]) return *why = "bad vector string", false;
      s.v[j] = v.data();
    }
  }
  return true;
}

// ---- exit watchers ---------------------------------------------------------------------------

struct Watcher {
  uv_poll_t poll;
  int pidfd;
  bool dead = false;  // the environment is being torn down: never call into JS again
  napi_env env;
  napi_async_context context = nullptr;
  Napi::FunctionReference onExit;
};

std::unordered_map<int, Watcher*>& Watchers() {
  static thread_local std::unordered_map<int, Watcher*> map;
  return map;
}

void OnWatcherClosed(uv_handle_t* h) {
  Watcher* w = (Watcher*)h->data;
  if (w->dead) {
    // After environment teardown: no N-API call may run; leave the references alone.
    w->onExit.SuppressDestruct();
  } else if (w->context) {
    napi_async_destroy(w->env, w->context);
  }
  close(w->pidfd);
  delete w;
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
  if (si.si_code == CLD_EXITED)
    code = Napi::Number::New(env, si.si_status);
  else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
    sig = Napi::Number::New(env, si.si_status);
  Napi::FunctionReference cb = std::move(w->onExit);
  napi_value result;
  napi_value argv[2] = {code, sig};
  napi_status st = napi_make_callback(env, w->context, env.Global(), cb.Value(), 2, argv, &result);
  uv_close((uv_handle_t*)&w->poll, OnWatcherClosed);
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

// ---- spawn -----------------------------------------------------------------------------------

int SelfPidfd() {
  static int fd = -2;
  if (fd == -2) {
    long r = syscall(SYS_pidfd_open, getpid(), 0);
    fd = r < 0 ? -1 : (int)r;
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  return fd;
}

void ReapNow(int pidfd) {
  siginfo_t si;
  while (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, nullptr) < 0 && errno == EINTR) {
  }
}

// Two stacks with guard pages: [guard][stack for a cloneParent process][guard][child stack].
constexpr size_t kStacksSize = 2 * kStackSize;

// Stacks that children are done with (their error pipe reached end of file: they exec'd or
// exited), kept for the next spawn. A fresh mapping costs mmap, two mprotects, page faults
// in the child, and at munmap a TLB shootdown on every CPU running one of Node's threads.
struct StackPool {
  static constexpr size_t kMax = 4;
  std::vector<void*> free;
  ~StackPool() {
    for (void* s : free) munmap(s, kStacksSize);
  }
};

StackPool& Stacks() {
  static thread_local StackPool pool;
  return pool;
}

// A pair of stacks (see kStacksSize), from the pool or freshly mapped; null with errno set.
void* AcquireStacks() {
  StackPool& pool = Stacks();
  if (!pool.free.empty()) {
    void* s = pool.free.back();
    pool.free.pop_back();
    return s;
  }
  void* s = mmap(nullptr, kStacksSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (s == MAP_FAILED) return nullptr;
  mprotect(s, 4096, PROT_NONE);  // guard pages
  mprotect((char*)s + kStackSize, 4096, PROT_NONE);
  return s;
}

// Give back stacks no child runs on any more (after end of file on its error pipe).
void ReleaseStacks(void* s) {
  if (!s) return;
  StackPool& pool = Stacks();
  if (pool.free.size() < StackPool::kMax)
    pool.free.push_back(s);
  else
    munmap(s, kStacksSize);
}

// Everything the child reads from our memory. After a `detach` step spawn() returns while the
// child still runs its plan (it waits for `ns start`), so this lives on the heap until the
// error pipe reports end of file (the child exec'd or died).
struct Launch {
  std::vector<uint8_t> bytes;  // a copy of the plan buffer: the decoded strings point here
  Decoded plan;
  ns_child_ctx ctx;
  void* stack = nullptr;
  int errfd = -1;  // read end of the error pipe
  uv_poll_t poll;
};

std::unordered_map<Launch*, bool>& Launches() {
  static thread_local std::unordered_map<Launch*, bool> set;
  return set;
}

void FreeLaunch(Launch* l) {
  Launches().erase(l);
  ReleaseStacks(l->stack);
  delete l;
}

void OnLaunchClosed(uv_handle_t* h) {
  Launch* l = (Launch*)h->data;
  close(l->errfd);
  FreeLaunch(l);
}

// Teardown: the child may still read this record (a created container waiting for start
// runs the rest of its plan, argv included, from it): close our end only, never free it.
void OnLaunchClosedKeep(uv_handle_t* h) {
  Launch* l = (Launch*)h->data;
  close(l->errfd);
}

void OnLaunchPipe(uv_poll_t* h, int status, int events) {
  Launch* l = (Launch*)h->data;
  char buf[64];
  ssize_t n = read(l->errfd, buf, sizeof buf);
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return;
  uv_poll_stop(h);
  uv_close((uv_handle_t*)h, OnLaunchClosed);
}

struct Cleanup {
  int fds[4] = {-1, -1, -1, -1};
  void* stack = nullptr;
  int dumpable = -1;
  Launch* launch = nullptr;  // released (set to null) when the child outlives spawn()
  ~Cleanup() {
    for (int fd : fds)
      if (fd >= 0) close(fd);
    ReleaseStacks(stack);
    delete launch;
    // A child sharing our memory may have made it non-dumpable before joining a container
    // (PR_SET_DUMPABLE is a property of the memory); it has exec'd or exited by now.
    if (dumpable >= 0 && prctl(PR_GET_DUMPABLE) != dumpable) prctl(PR_SET_DUMPABLE, dumpable);
  }
};

// What the error pipe said about a child, once it reached end of file.
struct Outcome {
  pid_t pid = 0;
  int pidfd = -1;
  pid_t realPid = 0;  // a cloneParent step handed the plan to this process
  bool execing = false;  // the child reached execve (ns_child_ctx.execing, read at end of file)
  bool detached = false;
  int32_t failedStep = 0;
  int32_t failedErrno = 0;
};

// The messages that only say what happened (the plan handed to a cloneParent process, a
// step failed), recorded in the outcome. False for the others (sync, detach), which the
// caller acts on.
bool RecordMessage(Outcome* o, const ns_msg& m) {
  if (m.code == NS_MSG_CHILD) {
    o->realPid = m.value;
  } else if (m.code > 0) {
    o->failedStep = m.step;
    o->failedErrno = m.code;
  } else {
    return false;
  }
  return true;
}

// Reap what must be reaped and turn an outcome into spawn()'s result: { pid, pidfd } with an
// exit watcher calling `onExit`, or a failure object. Throws (pending exception) on errors of
// our own (pidfd_open, uv_poll).
Napi::Value Conclude(Napi::Env env, Outcome o, Napi::Function onExit) {
  if (o.realPid > 0) {
    // The first child handed over to its sibling and exited: reap it, and from here on
    // watch the real process, which is our own child (CLONE_PARENT) and so cannot be
    // reaped, nor its pid reused, by anyone else.
    ReapNow(o.pidfd);
    close(o.pidfd);
    o.pid = o.realPid;
    o.pidfd = (int)syscall(SYS_pidfd_open, o.realPid, 0);
    if (o.pidfd < 0) {
      int e = errno;
      siginfo_t si;
      while (syscall(SYS_waitid, P_PID, o.realPid, &si, WEXITED, nullptr) < 0 && errno == EINTR) {
      }
      return ThrowErrno(env, e, "pidfd_open");
    }
  }

  if (o.failedErrno != 0 || !o.execing) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (syscall(SYS_waitid, P_PIDFD, o.pidfd, &si, WEXITED, nullptr) < 0 && errno == EINTR) {
    }
    close(o.pidfd);
    Napi::Object r = Napi::Object::New(env);
    r.Set("pid", Napi::Number::New(env, o.pid));
    r.Set("failedStep", Napi::Number::New(env, o.failedErrno ? o.failedStep : NS_STEP_PREAMBLE));
    r.Set("errno", Napi::Number::New(env, o.failedErrno));
    if (o.failedErrno) {
      r.Set("code", Napi::String::New(env, ErrnoName(o.failedErrno)));
      r.Set("message", Napi::String::New(env, strerror(o.failedErrno)));
    } else {
      r.Set("diedBeforeExec", Napi::Boolean::New(env, true));
      r.Set("exitCode", si.si_code == CLD_EXITED ? Napi::Number::New(env, si.si_status) : env.Null());
      r.Set("signal", si.si_code != CLD_EXITED ? Napi::Number::New(env, si.si_status) : env.Null());
    }
    return r;
  }

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  Watcher* w = new Watcher();
  w->pidfd = o.pidfd;
  w->env = env;
  w->onExit = Napi::Persistent(onExit);
  napi_async_init(env, Napi::Object::New(env), Napi::String::New(env, "NsContainer"), &w->context);
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, o.pidfd);
  if (rc == 0) rc = uv_poll_start(&w->poll, UV_READABLE, OnPidfdReadable);
  if (rc != 0) {
    syscall(SYS_pidfd_send_signal, o.pidfd, SIGKILL, nullptr, 0);
    ReapNow(o.pidfd);
    close(o.pidfd);
    delete w;
    return ThrowErrno(env, -rc, "uv_poll_start");
  }
  Watchers()[o.pidfd] = w;

  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, o.pid));
  r.Set("pidfd", Napi::Number::New(env, o.pidfd));
  if (o.detached) r.Set("detached", Napi::Boolean::New(env, true));
  return r;
}

// What CloneChild started.
struct Cloned {
  pid_t pid = 0;
  int pidfd = -1;
  int errfd = -1;   // read end of the error pipe (owned by the Cleanup)
  int syncfd = -1;  // write end of the sync pipe (owned by the Cleanup)
};

// Decode the plan, make the pipes and the stacks, and clone the child (signals blocked
// around clone). `c` owns everything made here. Returns false with a pending exception.
bool CloneChild(Napi::Env env, Napi::Buffer<uint8_t> buf, Cleanup& c, Cloned* out) {
  Launch* launch = new Launch();
  launch->bytes.assign(buf.Data(), buf.Data() + buf.Length());
  Decoded& plan = launch->plan;
  std::string why;
  if (!Decode(launch->bytes.data(), launch->bytes.size(), &plan, &why)) {
    delete launch;
    ThrowPlan(env, why);
    return false;
  }
  c.launch = launch;
  int errpipe[2], syncpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0) { ThrowErrno(env, errno, "pipe2"); return false; }
  c.fds[0] = errpipe[0];
  c.fds[1] = errpipe[1];
  if (pipe2(syncpipe, O_CLOEXEC) < 0) { ThrowErrno(env, errno, "pipe2"); return false; }
  c.fds[2] = syncpipe[0];
  c.fds[3] = syncpipe[1];
  c.dumpable = prctl(PR_GET_DUMPABLE);
  c.stack = AcquireStacks();
  if (!c.stack) { ThrowErrno(env, errno, "mmap"); return false; }

  ns_child_ctx& ctx = launch->ctx;
  ctx.steps = plan.steps.data();
  ctx.nsteps = (uint32_t)plan.steps.size();
  ctx.errfd = errpipe[1];
  ctx.syncfd = syncpipe[0];
  ctx.parentfd = SelfPidfd();
  ctx.pdeathsig = (int)plan.pdeathsig;
  ctx.stack2 = (char*)c.stack + kStackSize;
  ctx.resume = 0;
  ctx.proc = nullptr;
  ctx.execing = 0;

  sigset_t all, old;
  sigfillset(&all);
  // The raw call (pthread_sigmask needs glibc 2.32): this thread only, briefly.
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, _NSIG / 8);
  int pidfd = -1;
  int flags = (int)plan.cloneFlags | CLONE_VM | CLONE_PIDFD | SIGCHLD;
  pid_t pid = clone(ns_child_main, (char*)c.stack + kStacksSize, flags, &ctx, &pidfd);
  int cloneErr = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, _NSIG / 8);
  if (pid < 0) { ThrowErrno(env, cloneErr, "clone"); return false; }

  close(errpipe[1]);
  c.fds[1] = -1;
  close(syncpipe[0]);
  c.fds[2] = -1;
  out->pid = pid;
  out->pidfd = pidfd;
  out->errfd = errpipe[0];
  out->syncfd = syncpipe[1];
  return true;
}

// spawn(plan: Buffer, onSync?: (step) => void, onExit: (code, signal) => void)
//   -> { pid, pidfd } | { failedStep, errno } | { failedStep: -1, diedBeforeExec: true, ... }
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[2].IsFunction())
    return ThrowPlan(env, "spawn(plan: Buffer, onSync, onExit) expected");
  Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Function onSync = info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  Cleanup c;
  Cloned cl;
  if (!CloneChild(env, buf, c, &cl)) return env.Undefined();
  Launch* launch = c.launch;
  Outcome o;
  o.pid = cl.pid;
  o.pidfd = cl.pidfd;
  for (;;) {
    ns_msg m;
    ssize_t n = read(cl.errfd, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: exec'd, or the child is gone
    if (n != (ssize_t)sizeof m) {
      o.failedStep = NS_STEP_PREAMBLE;
      o.failedErrno = EPROTO;
      break;
    }
    if (RecordMessage(&o, m)) continue;
    if (m.code == NS_MSG_DETACH) {
      // A `detach` step: the child goes on alone (it waits for ns start).
      o.detached = true;
      break;
    }
    if (m.code == NS_MSG_SYNC) {
      if (!onSync.IsEmpty()) {
        onSync.Call({Napi::Number::New(env, m.step), Napi::Number::New(env, o.pid)});
        if (env.IsExceptionPending()) {
          syscall(SYS_pidfd_send_signal, o.pidfd, SIGKILL, nullptr, 0);
          ReapNow(o.pidfd);
          close(o.pidfd);
          return env.Undefined();
        }
      }
      char go = 1;
      while (write(cl.syncfd, &go, 1) < 0 && errno == EINTR) {
      }
    }
  }

  if (__atomic_load_n(&launch->ctx.execing, __ATOMIC_ACQUIRE)) o.execing = true;
  if (o.detached) {
    // The child still reads the plan and runs on the stack: hand both to the launch record,
    // freed once the error pipe reaches end of file.
    launch->stack = c.stack;
    c.stack = nullptr;
    launch->errfd = cl.errfd;
    c.fds[0] = -1;
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    launch->poll.data = launch;
    if (uv_poll_init(loop, &launch->poll, launch->errfd) == 0 &&
        uv_poll_start(&launch->poll, UV_READABLE, OnLaunchPipe) == 0) {
      uv_unref((uv_handle_t*)&launch->poll);  // never keeps the process alive
      Launches()[launch] = true;
      c.launch = nullptr;
    } else {
      // Cannot watch it: keep the memory forever rather than free it under the child.
      c.launch = nullptr;
    }
    o.execing = true;
  }

  return Conclude(env, o, info[2].As<Napi::Function>());
}


// ---- spawnAsync: return right after clone, report execve (or the failed step) later -------

// A child being set up while the event loop runs: the error pipe is polled, sync steps call
// back into JavaScript from the loop, and `onReady(result)` reports the outcome at EOF.
struct Pending {
  uv_poll_t poll;
  napi_env env;
  Launch* launch = nullptr;  // plan, context and stacks the child uses until EOF
  int errfd = -1;
  int syncfd = -1;
  int dumpable = -1;
  Outcome o;
  uint8_t buf[sizeof(ns_msg) * 32];
  size_t have = 0;
  bool finished = false;
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
  close(p->errfd);
  if (p->syncfd >= 0) close(p->syncfd);
  if (p->launch) {
    ReleaseStacks(p->launch->stack);
    delete p->launch;
  }
  delete p;
}

void PendingMessage(Pending* p, const ns_msg& m) {
  Napi::Env env(p->env);
  if (RecordMessage(&p->o, m)) return;
  if (m.code == NS_MSG_DETACH) {
    // Not for spawnAsync: treat as a failure of that step.
    p->o.failedStep = m.step;
    p->o.failedErrno = EINVAL;
    syscall(SYS_pidfd_send_signal, p->o.pidfd, SIGKILL, nullptr, 0);
  } else if (m.code == NS_MSG_SYNC) {
    if (!p->onSync.IsEmpty() && p->syncError.IsEmpty()) {
      Napi::HandleScope scope(env);
      napi_value argv[2] = {Napi::Number::New(env, m.step), Napi::Number::New(env, p->o.pid)};
      napi_value result;
      napi_status st = napi_make_callback(env, p->context, env.Global(), p->onSync.Value(), 2, argv, &result);
      if (st == napi_pending_exception) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
        p->syncError = Napi::Persistent(Napi::Value(env, err));
        syscall(SYS_pidfd_send_signal, p->o.pidfd, SIGKILL, nullptr, 0);
        return;
      }
    }
    char go = 1;
    while (write(p->syncfd, &go, 1) < 0 && errno == EINTR) {
    }
  }
}

void PendingFinish(Pending* p) {
  p->finished = true;
  Pendings().erase(p);
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t*)&p->poll, OnPendingClosed);  // frees the plan and stacks: EOF seen
  if (p->dumpable >= 0 && prctl(PR_GET_DUMPABLE) != p->dumpable) prctl(PR_SET_DUMPABLE, p->dumpable);
  Napi::Env env(p->env);
  Napi::HandleScope scope(env);
  napi_value argv[2];
  if (!p->syncError.IsEmpty()) {
    ReapNow(p->o.pidfd);
    close(p->o.pidfd);
    if (p->o.realPid > 0) {
      siginfo_t si;
      syscall(SYS_pidfd_send_signal, p->o.pidfd, SIGKILL, nullptr, 0);
      while (syscall(SYS_waitid, P_PID, p->o.realPid, &si, WEXITED, nullptr) < 0 && errno == EINTR) {
      }
    }
    argv[0] = p->syncError.Value();
    argv[1] = env.Undefined();
  } else {
    if (__atomic_load_n(&p->launch->ctx.execing, __ATOMIC_ACQUIRE)) p->o.execing = true;
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
    }
    memmove(p->buf, p->buf + at, p->have - at);
    p->have -= at;
  }
  PendingFinish(p);
}

// spawnAsync(plan, onSync?, onReady: (error, result) => void, onExit) -> pid of the first child.
// Returns after clone(2); the child sets itself up while the event loop runs. onReady gets
// spawn()'s result ({ pid, pidfd } or a failure object) or the error thrown by onSync.
Napi::Value SpawnAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsBuffer() || !info[2].IsFunction() || !info[3].IsFunction())
    return ThrowPlan(env, "spawnAsync(plan: Buffer, onSync, onReady, onExit) expected");
  Cleanup c;
  Cloned cl;
  if (!CloneChild(env, info[0].As<Napi::Buffer<uint8_t>>(), c, &cl)) return env.Undefined();
  Pending* p = new Pending();
  p->env = env;
  p->dumpable = c.dumpable;
  c.dumpable = -1;  // restored by PendingFinish, once the child is done with our memory
  p->launch = c.launch;
  c.launch = nullptr;
  p->launch->stack = c.stack;
  c.stack = nullptr;
  p->errfd = cl.errfd;
  p->syncfd = cl.syncfd;
  for (int& fd : c.fds)
    if (fd == cl.errfd || fd == cl.syncfd) fd = -1;
  p->o.pid = cl.pid;
  p->o.pidfd = cl.pidfd;
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
    syscall(SYS_pidfd_send_signal, cl.pidfd, SIGKILL, nullptr, 0);
    ReapNow(cl.pidfd);
    close(cl.pidfd);
    close(p->errfd);
    close(p->syncfd);
    ReleaseStacks(p->launch->stack);
    delete p->launch;
    delete p;
    return ThrowErrno(env, -rc, "uv_poll_start");
  }
  Pendings()[p] = true;
  return Napi::Number::New(env, cl.pid);
}

Watcher* Lookup(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return nullptr;
  auto it = Watchers().find(info[0].As<Napi::Number>().Int32Value());
  return it == Watchers().end() ? nullptr : it->second;
}

// kill(pidfd, signal): pidfd_send_signal(2); never reaches a reused pid.
Napi::Value Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Watcher* w = Lookup(info);
  if (!w) return ThrowErrno(env, ESRCH, "pidfd_send_signal");
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (syscall(SYS_pidfd_send_signal, w->pidfd, sig, nullptr, 0) < 0)
    return ThrowErrno(env, errno, "pidfd_send_signal");
  return env.Undefined();
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

// ---- descriptors -----------------------------------------------------------------------------

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return ThrowErrno(env, errno, "pipe2");
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

// The ptmx of the devpts instance mounted at <root>/dev/pts, opened without following any
// symlink and without leaving <root> (openat2 RESOLVE_IN_ROOT), and checked to be on devpts.
int OpenContainerPtmx(const std::string& root, std::string* what) {
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

// Environment teardown (process exit, worker termination): stop every watcher before the
// environment is gone. A child exiting right then must not make a callback into a dying
// JavaScript environment (it crashed `ns run -d` now and then), and no handle may stay open.
void OnEnvCleanup(void*) {
  std::vector<Watcher*> watchers;
  for (auto& [fd, w] : Watchers()) watchers.push_back(w);
  Watchers().clear();
  for (Watcher* w : watchers) {
    w->dead = true;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t*)&w->poll, OnWatcherClosed);
  }
  std::vector<Pending*> pendings;
  for (auto& [p, on] : Pendings()) pendings.push_back(p);
  Pendings().clear();
  for (Pending* p : pendings) {
    // A child still setting itself up may run on this memory: stop watching, never free.
    p->finished = true;
    p->launch = nullptr;
    p->onSync.SuppressDestruct();
    p->onReady.SuppressDestruct();
    p->onExit.SuppressDestruct();
    p->syncError.SuppressDestruct();
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t*)&p->poll, [](uv_handle_t* h) {
      Pending* p = (Pending*)h->data;
      close(p->errfd);
      if (p->syncfd >= 0) close(p->syncfd);
    });
  }
  std::vector<Launch*> launches;
  for (auto& [l, on] : Launches()) launches.push_back(l);
  Launches().clear();
  for (Launch* l : launches) {
    // The child may still run on this memory (a created container): stop watching, but
    // never unmap or free it. The process (or worker) is going away anyway.
    uv_poll_stop(&l->poll);
    uv_close((uv_handle_t*)&l->poll, OnLaunchClosedKeep);
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  napi_add_env_cleanup_hook(env, OnEnvCleanup, nullptr);
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("spawnAsync", Napi::Function::New(env, SpawnAsync, "spawnAsync"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("ref", Napi::Function::New(env, Ref, "ref"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSignal", Napi::Function::New(env, PidfdSignal, "pidfdSignal"));
 exports.Set("readAvailable", Napi::Function::New(env, ReadAvailable, "readAvailable"));
 exports.Set("openPath", Napi::Function::New(env, OpenPath, "openPath"));
  exports.Set("mkfifo", Napi::Function::New(env, Mkfifo, "mkfifo"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("openPty", Napi::Function::New(env, OpenPty, "openPty"));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize, "setWinsize"));
  exports.Set("stepBytes", Napi::Number::New(env, NS_STEP_BYTES));
  return exports;
}

}  // namespace

NODE_API_MODULE(ns_syscalls, Init)
