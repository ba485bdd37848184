// spawn(): start a child (start.cc), meet it at sync steps, and turn what its error pipe
// says into a result. The pieces spawnAsync() shares (spawn_async.cc) are here too.
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "start.h"

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

bool RecordMessage(Outcome* o, const ns_msg& m) {
  if (m.code == NS_MSG_CHILD) {
    // Once, and only a child of ours (CLONE_PARENT): a process that got hold of the pipe
    // must not make us watch, reap or signal some other process.
    siginfo_t si;
    memset(&si, 0, sizeof si);
    // Cloned through a front, the process is the front's child (CLONE_PARENT of its child).
    bool ours = o->front > 0 ? ParentOf(m.value) == o->front : syscall(SYS_waitid, P_PID, m.value, &si, WEXITED | WNOHANG | WNOWAIT, nullptr) == 0;
    if (o->realPid == 0 && m.value > 0 && ours) {
      o->realPid = m.value;
    } else if (o->failedErrno == 0) {
      o->failedStep = m.step;
      o->failedErrno = EPROTO;
    }
  } else if (m.code > 0) {
    if (o->failedErrno == 0) {  // the first failure is the cause (a timeout or kill may follow)
      o->failedStep = m.step;
      o->failedErrno = m.code;
      o->failedValue = m.value;
    }
  } else {
    return false;
  }
  return true;
}

void KillAndWaitPid(pid_t pid, bool front) {
  // Ours (CLONE_PARENT) its pid cannot be reused unreaped; a front's is held by its parent
  // until the front reaps it, which it does only after our answer: the pid is still this one.
  int fd = front ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
  kill(pid, SIGKILL);
  if (fd >= 0) {
    WaitGone(fd);
    close(fd);
    return;
  }
  siginfo_t si;
  while (syscall(SYS_waitid, P_PID, pid, &si, WEXITED, nullptr) < 0 && errno == EINTR) {
  }
}

void KillAndReap(int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  ReapNow(pidfd);
  close(pidfd);
}

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
      if (o.statusfd >= 0) close(o.statusfd);
      return ThrowErrno(env, e, "pidfd_open");
    }
  }

  if (o.failedErrno != 0 || !(o.execing || o.detached)) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int reaped;
    while ((reaped = (int)syscall(SYS_waitid, P_PIDFD, o.pidfd, &si, WEXITED, nullptr)) < 0 && errno == EINTR) {
    }
    // The front's child (ECHILD here): the front reaps it; how it ended is not known here,
    // but it has ended before anything of it (its cgroup) is removed.
    if (reaped < 0) {
      si.si_code = 0;
      WaitGone(o.pidfd);
    }
    close(o.pidfd);
    if (o.statusfd >= 0) close(o.statusfd);
    Napi::Object r = Napi::Object::New(env);
    r.Set("pid", Napi::Number::New(env, o.pid));
    r.Set("failedStep", Napi::Number::New(env, o.failedErrno ? o.failedStep : NS_STEP_PREAMBLE));
    r.Set("errno", Napi::Number::New(env, o.failedErrno));
    if (o.failedErrno && o.failedValue) r.Set("value", Napi::Number::New(env, o.failedValue));
    if (!o.failedErrno) {
      r.Set("diedBeforeExec", Napi::Boolean::New(env, true));
      bool signaled = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
      r.Set("exitCode", si.si_code == CLD_EXITED ? Napi::Number::New(env, si.si_status) : env.Null());
      r.Set("signal", signaled ? Napi::Number::New(env, si.si_status) : env.Null());
    }
    return r;
  }

  if (!WatchExit(env, o.pidfd, onExit, o.statusfd)) return env.Undefined();
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, o.pid));
  r.Set("pidfd", Napi::Number::New(env, o.pidfd));
  if (o.detached) r.Set("detached", Napi::Boolean::New(env, true));
  return r;
}

void Abort(const Outcome& o) {
  syscall(SYS_pidfd_send_signal, o.pidfd, SIGKILL, nullptr, 0);
  // realPid is our own child (CLONE_PARENT, checked), unreaped: its pid cannot be reused.
  if (o.realPid > 0) kill(o.realPid, SIGKILL);
}

void TimedOut(Outcome* o) {
  o->timedOut = true;
  o->failedStep = NS_STEP_TIMEOUT;
  o->failedErrno = ETIMEDOUT;
  Abort(*o);
}

int64_t NowMs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void Go(int syncfd) {
  char go = 1;
  while (write(syncfd, &go, 1) < 0 && errno == EINTR) {
  }
}

// spawn(plan: Buffer, onSync?: (step, pid, value, intoCgroup) => void, onExit: (code, signal) => void, timeoutMs?, earlySync?, cgroupFd?, via?, earlyAnswered?)
//   -> { pid, pidfd } | { failedStep, errno } | { failedStep: -1, diedBeforeExec: true, ... }
// With `timeoutMs` > 0, a set-up that has not exec'd (or detached) by then is killed and
// reported as step NS_STEP_TIMEOUT with ETIMEDOUT: a container that stops the process joining
// it (SIGSTOP) must not hang this thread for ever. With `earlySync` >= 0 (the index of a sync
// step before which the plan has no cloneParent), onSync of that step is called right after
// the clone, while the child execs ns-init and reads its plan, and not again when the child
// waits there: the child goes on at once then (Go()), the call having returned long before.
// With `earlyAnswered` too (the plan's first go-ahead is that step's, encoded as answered), the
// go-ahead is written as soon as the call returns and the child never asks: it finds the byte.
// With `via` (a connected unix socket to an ns front), the front clones the child (CloneVia).
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[2].IsFunction())
    return ThrowPlan(env, "spawn(plan: Buffer, onSync, onExit, timeoutMs?) expected");
  Napi::Function onSync = info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  int64_t timeoutMs = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : 0;
  int via = info.Length() > 6 && info[6].IsNumber() ? info[6].As<Napi::Number>().Int32Value() : -1;
  Started st;
  // With `cgroupFd` (a cgroup2 directory) the child is born in it where the kernel can; onSync's
  // `intoCgroup` says whether it was (else a sync step must put it there).
  int cgroupFd = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : -1;
  if (!Start(env, info[0].As<Napi::Buffer<uint8_t>>(), &st, cgroupFd, via)) return env.Undefined();
  Napi::Boolean intoCgroup = Napi::Boolean::New(env, st.intoCgroup);
  std::unique_ptr<Launch> launch(st.launch);  // freed at return: after EOF, a detach or the child's death
  Fds ours;
  ours.v[kErrRead] = st.errfd;
  ours.v[kSyncWrite] = st.syncfd;
  Outcome o;
  o.pid = st.pid;
  o.pidfd = st.pidfd;
  o.front = st.front;
  int64_t deadline = timeoutMs > 0 ? NowMs() + timeoutMs : -1;
  int32_t early = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : -1;
  bool answered = info.Length() > 7 && info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value();
  if (early >= 0 && !onSync.IsEmpty()) {
    onSync.Call({Napi::Number::New(env, early), Napi::Number::New(env, o.pid), Napi::Number::New(env, 0), intoCgroup});
    if (env.IsExceptionPending()) {
      KillAndReap(o.pidfd);
      return env.Undefined();
    }
    // `earlyAnswered`: the step is the first to read a go-ahead and the child does not ask for
    // it (encoded so, encode.ts answeredSync): write it now, for the child to find there.
    if (answered) {
      launch->SetPid(o.pid);
      Go(st.syncfd);
    }
  }
  for (;;) {
    if (deadline >= 0) {
      struct pollfd p = {st.errfd, POLLIN, 0};
      int64_t left = deadline - NowMs();
      int r = left > 0 ? poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left) : 0;
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        TimedOut(&o);
        deadline = -1;  // now read on to end of file: the kill closes the pipe
        continue;
      }
    }
    ns_msg m;
    ssize_t n = read(st.errfd, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: exec'd, or the child is gone
    if (n != (ssize_t)sizeof m) {
      o.failedStep = NS_STEP_PREAMBLE;
      o.failedErrno = EPROTO;
      Abort(o);
      deadline = -1;
      continue;
    }
    if (RecordMessage(&o, m)) {
      if (o.timedOut) Abort(o);  // a process handed over after the deadline
      continue;
    }
    if (m.code == NS_MSG_DETACH) {
      // A `detach` step: the child goes on alone (it waits for ns start), in memory of its
      // own: nothing to keep for it here.
      o.detached = true;
      break;
    }
    if (m.code == NS_MSG_SYNC && !o.timedOut) {
      if (!onSync.IsEmpty() && m.step != early) {
        onSync.Call({Napi::Number::New(env, m.step), Napi::Number::New(env, o.realPid > 0 ? o.realPid : o.pid), Napi::Number::New(env, m.value), intoCgroup});
        if (env.IsExceptionPending()) {
          KillAndReap(o.pidfd);
          if (o.realPid > 0) KillAndWaitPid(o.realPid, o.front > 0);
          return env.Undefined();
        }
      }
      launch->SetPid(o.realPid > 0 ? o.realPid : o.pid);
      Go(st.syncfd);
    }
  }
  if (!o.detached) o.execing = launch->Execing();
  if (o.failedErrno == 0) o.statusfd = launch->TakeStatusFd(o.execing || o.detached);
  return Conclude(env, o, info[2].As<Napi::Function>());
}

}  // namespace ns
