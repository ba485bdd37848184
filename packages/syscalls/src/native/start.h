// Internal to spawn(): starting a child (start.cc) and concluding what its error pipe said
// (spawn.cc), shared by spawn() and spawnAsync() (spawn_async.cc).
#pragma once
#include <napi.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "plan.h"

namespace ns {

// At most this many descriptors named by a plan cross into ns-init (stdio takes up to 64).
constexpr size_t kMaxKeep = 128;

// Descriptors closed when the scope ends, unless released.
struct Fds {
  int v[7] = {-1, -1, -1, -1, -1, -1, -1};
  ~Fds() {
    for (int fd : v)
      if (fd >= 0) close(fd);
  }
  int Take(int k) {
    int fd = v[k];
    v[k] = -1;
    return fd;
  }
};
enum { kErrRead, kErrWrite, kSyncRead, kSyncWrite, kPlan, kInit, kSelf };

// What the stub reads while it runs (it shares our memory): kept, with its stack, until the
// child's error pipe reaches end of file (the stub has exec'd ns-init by then, or died).
struct Launch {
  void* stack = nullptr;
  int planfd = -1;  // our descriptor of the plan's memfd: ns-init sets `execing` in it
  ns_stub_ctx ctx;
  int keep[kMaxKeep];
  std::string planArg;
  char* argv[3];
  char* envp[1];
  ~Launch();
  bool init = false;  // the plan has an init step: ns-init reports the program's status in the memfd
  // Whether ns-init reached the final execve (read once the error pipe is at EOF).
  bool Execing() const;
  // For a plan with an init step that reached its execve or detached (a created container, a
  // pool member: the init may fork later): our descriptor of the memfd, for the exit watcher
  // to read the program's wait status from (ns_launch.exited/wstatus, written only by the
  // init); else -1.
  int TakeStatusFd(bool execingOrDetached);
  // Tell ns-init the pid of the process waiting at a sync step (ns_launch.pid), before Go().
  void SetPid(pid_t pid) const;
};

// What Start() made: the child, our end of its error pipe and of its sync pipe, and the
// memory its stub uses (free it only after end of file on the error pipe).
struct Started {
  pid_t pid = 0;
  int pidfd = -1;
  pid_t front = 0;  // cloned through a front (CloneVia): its pid; the child is its child, not ours
  int errfd = -1;
  int syncfd = -1;
  Launch* launch = nullptr;
  bool intoCgroup = false;  // cloned into the cgroup of `cgroupFd` (clone3 CLONE_INTO_CGROUP)
};

// Check the plan, make the pipes and the plan's memfd, and clone the child, which execs
// ns-init at once. With `cgroupFd` >= 0 (a cgroup2 directory) the child is born in that cgroup
// when the kernel can (clone3.h; Started::intoCgroup), else cloned as without it. With `via`
// >= 0 (a connected unix socket to an ns front), the front clones it instead (CloneVia; into
// the cgroup too where its kernel can). Returns false with a pending exception, having
// freed what it made.
bool Start(Napi::Env env, Napi::Buffer<uint8_t> buf, Started* out, int cgroupFd = -1, int via = -1);

// What a front needs to clone a child that execs ns-init (spawn_via.cc).
struct CloneRequest {
  uint32_t flags;      // the plan's clone flags (namespaces); the front adds CLONE_PIDFD | SIGCHLD
  uint32_t pdeathsig;  // PR_SET_PDEATHSIG in the child, 0 for none
  int initfd;          // ns-init's sealed memfd (one of `fds`)
  int planfd;          // the plan's memfd: ns-init's argv[1]
  int errfd;           // where the child reports a failed exec (step NS_STEP_INIT)
  const int* fds;      // what the child inherits, each at the same number as here
  uint32_t nfds;
  int cgroupfd;        // a cgroup2 directory to clone the child into (CLONE_INTO_CGROUP), or -1
};

// Have the front at the other end of `via` clone the child (wire format in spawn_via.cc).
// Returns 0 with the child's pid, a pidfd of it, the front's pid (SO_PEERCRED) and whether the
// child was born in `req.cgroupfd`'s cgroup, or an errno (ETIMEDOUT: no answer in 10 s; EPIPE:
// the front went away; EPROTO: a malformed answer).
int CloneVia(int via, const CloneRequest& req, pid_t* pid, int* pidfd, pid_t* front, bool* intoCgroup);

// The parent pid of `pid` (/proc/PID/stat), or -1.
pid_t ParentOf(pid_t pid);


// What the error pipe said about a child, once it reached end of file.
struct Outcome {
  pid_t pid = 0;
  int pidfd = -1;
  pid_t front = 0;       // Started::front: the child and a cloneParent process are the front's to reap
  pid_t realPid = 0;     // a cloneParent step handed the plan to this process
  bool execing = false;  // the child reached the final execve (Launch::Execing)
  bool detached = false;
  bool timedOut = false;  // the set-up deadline passed: killed
  int statusfd = -1;      // Launch::TakeStatusFd(): handed to the exit watcher (Conclude closes it otherwise)
  int32_t failedStep = 0;
  int32_t failedErrno = 0;
  int32_t failedValue = 0;  // what the failing step said more (a hook step's exit status)
};

// The messages that only say what happened (the plan handed to a cloneParent process, a
// step failed), recorded in the outcome. False for the others (sync, detach), which the
// caller acts on.
bool RecordMessage(Outcome* o, const ns_msg& m);

// SIGKILL the child behind `pidfd`, reap it and close the pidfd.
void KillAndReap(int pidfd);

// SIGKILL `pid` (a cloneParent process) and reap it, or, when it is a front's child (`front`),
// wait until it has exited.
void KillAndWaitPid(pid_t pid, bool front);

// Reap what must be reaped and turn an outcome into spawn()'s result: { pid, pidfd } with an
// exit watcher calling `onExit`, or a failure object. Throws (pending exception) on errors of
// our own (pidfd_open, uv_poll).
Napi::Value Conclude(Napi::Env env, Outcome o, Napi::Function onExit);

// Let the child waiting at a sync step go on.
void Go(int syncfd);

// SIGKILL the child (and the process it handed over to); EOF on its pipe follows.
void Abort(const Outcome& o);

// The set-up deadline passed: record it (step NS_STEP_TIMEOUT, ETIMEDOUT) and Abort().
void TimedOut(Outcome* o);

// CLOCK_MONOTONIC in milliseconds.
int64_t NowMs();

}  // namespace ns
