// spawn() and spawnAsync(): check the plan, hand it to a fresh ns-init in a memfd, clone
// the child, meet it at sync steps, and turn what its error pipe says into a result.
//
// The child is cloned with CLONE_VM (Node's page tables are never copied: a copy of a large
// Node stalls the event loop for tens of ms) and runs stub.cc on a stack of its own until it
// has exec'd ns-init, a few microseconds later: the stack and what the stub reads (a Launch)
// are kept until the child's error pipe reaches end of file, which comes after that exec.
// Not CLONE_VFORK (but into a cgroup, see CloneHere): waiting for the exec here doubled the
// event loop's blocked time at the tail (a wake-up on a busy machine). Nothing of Node's
// memory ever reaches a container.
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "clone3.h"
#include "start.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
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

// ---- the stub's stacks ------------------------------------------------------------------------

constexpr size_t kStubStackSize = 64 * 1024;

// Stacks whose stub has exec'd (or died), kept for the next spawn: a fresh mapping costs
// mmap, mprotect and page faults, and at munmap a TLB shootdown on every CPU running one of
// Node's threads. One list per thread (spawns from workers use their own).
struct StackPool {
  static constexpr size_t kMax = 4;
  std::vector<void*> free;
  ~StackPool() {
    for (void* s : free) munmap(s, kStubStackSize);
  }
};

thread_local StackPool stackPool;

// A stack (its lowest address; guard page at the bottom), or null with errno set.
void* AcquireStack() {
  if (!stackPool.free.empty()) {
    void* s = stackPool.free.back();
    stackPool.free.pop_back();
    return s;
  }
  void* s = mmap(nullptr, kStubStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (s == MAP_FAILED) return nullptr;
  mprotect(s, 4096, PROT_NONE);
  return s;
}

void ReleaseStack(void* s) {
  if (!s) return;
  if (stackPool.free.size() < StackPool::kMax)
    stackPool.free.push_back(s);
  else
    munmap(s, kStubStackSize);
}

// ---- checking the plan ----------------------------------------------------------------------

struct Checked {
  uint32_t cloneFlags = 0;
  uint32_t pdeathsig = 0;
  bool init = false;     // an init step: the program's status comes back in the memfd
  std::vector<int> fds;  // descriptors of ours that the plan names (stdio, setns, waitFifo, idmapOpen)
};

// Decode the plan once here, so a malformed one fails before anything is made, and collect
// the descriptors it names: only those (and the control ones) reach ns-init.
bool CheckPlan(Napi::Env env, const uint8_t* b, size_t len, Checked* out) {
  uint32_t n = 0;
  uint64_t nslots = 0;
  int32_t at = -1;
  const char* why = ns_plan_measure(b, len, &n, &nslots, &at);
  std::vector<ns_step> steps(n);
  std::vector<const char*> slots(nslots + 1);
  ns_plan plan;
  if (!why) why = ns_plan_decode(b, len, steps.data(), slots.data(), nslots, &plan, &at);
  if (why) {
    ThrowPlan(env, at >= 0 ? std::string(why) + " at step " + std::to_string(at) : std::string(why));
    return false;
  }
  out->cloneFlags = plan.clone_flags;
  out->pdeathsig = plan.pdeathsig;
  for (const ns_step& s : steps) {
    if (s.op == NS_OP_STDIO) {
      for (uint32_t k = 0; k < s.vlen[0]; k++)
        if ((int32_t)s.iv[k] >= 0) out->fds.push_back((int)(int32_t)s.iv[k]);
    } else if (s.op == NS_OP_SETNS && s.i[1] >= 0) {
      out->fds.push_back((int)s.i[1]);
    } else if (s.op == NS_OP_IDMAP_OPEN && s.i[0] >= 0) {
      out->fds.push_back((int)s.i[0]);  // the mapping's user namespace, later the detached mount
    } else if (s.op == NS_OP_WAIT_FIFO && s.i[0] >= 0) {
      out->fds.push_back((int)s.i[0]);
    } else if (s.op == NS_OP_INIT) {
      out->init = true;
    }
  }
  if (out->fds.size() > kMaxKeep - 5) {
    ThrowPlan(env, "more than " + std::to_string(kMaxKeep - 5) + " descriptors named");
    return false;
  }
  return true;
}

// A memfd holding the launch header and the plan: what ns-init reads (argv[1] names it).
int PlanMemfd(const uint8_t* plan, size_t len, const Fds& f, int initfd) {
  int fd = (int)syscall(SYS_memfd_create, "ns-plan", MFD_CLOEXEC);
  if (fd < 0) return -1;
  ns_launch h;
  memset(&h, 0, sizeof h);
  h.magic = NS_LAUNCH_MAGIC;
  h.version = NS_PLAN_VERSION;
  h.errfd = f.v[kErrWrite];
  h.syncfd = f.v[kSyncRead];
  h.parentfd = f.v[kSelf];
  h.initfd = initfd;
  h.plan_offset = sizeof h;
  h.plan_bytes = (uint32_t)len;
  struct iovec iov[2] = {{&h, sizeof h}, {(void*)plan, len}};
  ssize_t want = (ssize_t)(sizeof h + len);
  ssize_t n;
  do {
    n = writev(fd, iov, 2);
  } while (n < 0 && errno == EINTR);
  if (n != want) {
    int e = n < 0 ? errno : EIO;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}


// Clone the child here: CLONE_VM, on a stack of its own, running stub.cc until it execs ns-init.
bool CloneHere(Napi::Env env, const Checked& ck, const Fds& f, Launch* l, uint32_t nkeep, int cgroupFd, Started* out) {
  l->stack = AcquireStack();
  if (!l->stack) return ThrowErrno(env, errno, "mmap"), false;
  l->planArg = std::to_string(f.v[kPlan]);
  l->argv[0] = (char*)"ns-init";
  l->argv[1] = l->planArg.data();
  l->argv[2] = nullptr;
  l->envp[0] = nullptr;
  ns_stub_ctx& ctx = l->ctx;
  ctx.initfd = f.v[kInit];
  ctx.argv = l->argv;
  ctx.envp = l->envp;
  ctx.errfd = f.v[kErrWrite];
  ctx.parentfd = f.v[kSelf];
  ctx.pdeathsig = (int)ck.pdeathsig;
  ctx.keep = l->keep;
  ctx.nkeep = nkeep;

  sigset_t all, old;
  sigfillset(&all);
  // The raw call (pthread_sigmask needs glibc 2.32): this thread only, briefly. The child
  // starts with everything blocked, so none of Node's handlers runs in it before the stub
  // has set every disposition to the default.
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, _NSIG / 8);
  int pidfd = -1;
  int flags = (int)ck.cloneFlags | CLONE_VM | CLONE_PIDFD | SIGCHLD;
  // Born in the container's cgroup when the caller made it already (cgroup v2); else, or where
  // the kernel refuses that, a plain clone and the sync step's write to cgroup.procs. Into a
  // cgroup, CLONE_VFORK too: until it has exec'd ns-init the child shares Node's memory while
  // being charged to that cgroup, and were its memory (or a parent's) to run out then, the OOM
  // killer would pick the child (its mm is Node's, the largest there) and kill every process
  // sharing that mm: Node. A task in the middle of a vfork is never its victim (mm/oom_kill.c,
  // oom_badness(): in_vfork()); the charge fails instead (ENOMEM, a failed start). This thread
  // waits for that exec, a few microseconds; the cgroup was made before the clone anyway.
  pid_t pid = cgroupFd >= 0 ? Clone3IntoCgroup(ns_stub_main, &ctx, l->stack, kStubStackSize, (uint32_t)(flags | CLONE_VFORK), cgroupFd, &pidfd) : -1;
  out->intoCgroup = pid > 0;
  if (pid <= 0) pid = clone(ns_stub_main, (char*)l->stack + kStubStackSize, flags, &ctx, &pidfd);
  int cloneErr = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, _NSIG / 8);
  if (pid < 0) return ThrowErrno(env, cloneErr, "clone"), false;
  out->pid = pid;
  out->pidfd = pidfd;
  return true;
}

// Have the front at the other end of `via` clone the child (spawn_via.cc): it is then the
// front's child, which it reaps; ours are the pipes and the memfd, as for one cloned here.
bool CloneThroughFront(Napi::Env env, int via, const Checked& ck, const Fds& f, Launch* l, uint32_t nkeep, int cgroupFd, Started* out) {
  CloneRequest req = {ck.cloneFlags, ck.pdeathsig, f.v[kInit], f.v[kPlan], f.v[kErrWrite], l->keep, nkeep, cgroupFd};
  pid_t pid = 0, front = 0;
  int pidfd = -1;
  bool into = false;
  int err = CloneVia(via, req, &pid, &pidfd, &front, &into);
  // The answer must name the front's own child: nothing else may be watched or signalled.
  if (err == 0 && ParentOf(pid) != front) {
    close(pidfd);
    err = EPROTO;
  }
  if (err) return ThrowErrno(env, err, "clone (through the ns front)"), false;
  out->pid = pid;
  out->pidfd = pidfd;
  out->front = front;
  out->intoCgroup = into;
  return true;
}

}  // namespace

Launch::~Launch() {
  ReleaseStack(stack);
  if (planfd >= 0) close(planfd);
}

bool Launch::Execing() const {
  ns_launch h;
  return pread(planfd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.execing;
}

int Launch::TakeStatusFd(bool execingOrDetached) {
  if (!init || !execingOrDetached) return -1;
  int fd = planfd;
  planfd = -1;
  return fd;
}

void Launch::SetPid(pid_t pid) const {
  int32_t v = (int32_t)pid;
  while (pwrite(planfd, &v, sizeof v, offsetof(ns_launch, pid)) < 0 && errno == EINTR) {
  }
}

bool Start(Napi::Env env, Napi::Buffer<uint8_t> buf, Started* out, int cgroupFd, int via) {
  Checked ck;
  if (!CheckPlan(env, buf.Data(), buf.Length(), &ck)) return false;
  Fds f;
  std::string what;
  f.v[kInit] = InitImageFd(&what);
  if (f.v[kInit] < 0) return ThrowErrno(env, errno, what), false;
  int initfd = f.v[kInit];
  // A pidfd of this process, for ns-init to notice our death (none on kernels without pidfds).
  f.v[kSelf] = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (f.v[kSelf] >= 0) fcntl(f.v[kSelf], F_SETFD, FD_CLOEXEC);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return ThrowErrno(env, errno, "pipe2"), false;
  f.v[kErrRead] = p[0];
  f.v[kErrWrite] = p[1];
  if (pipe2(p, O_CLOEXEC) < 0) return ThrowErrno(env, errno, "pipe2"), false;
  f.v[kSyncRead] = p[0];
  f.v[kSyncWrite] = p[1];
  f.v[kPlan] = PlanMemfd(buf.Data(), buf.Length(), f, initfd);
  if (f.v[kPlan] < 0) return ThrowErrno(env, errno, "memfd_create ns-plan"), false;
  std::unique_ptr<Launch> l(new Launch());
  uint32_t nkeep = 0;
  l->keep[nkeep++] = f.v[kErrWrite];
  l->keep[nkeep++] = f.v[kSyncRead];
  l->keep[nkeep++] = f.v[kPlan];
  l->keep[nkeep++] = initfd;  // for a reexec step (sealed: ns-init can only run it)
  if (f.v[kSelf] >= 0) l->keep[nkeep++] = f.v[kSelf];
  for (int fd : ck.fds) l->keep[nkeep++] = fd;
  if (!(via >= 0 ? CloneThroughFront(env, via, ck, f, l.get(), nkeep, cgroupFd, out) : CloneHere(env, ck, f, l.get(), nkeep, cgroupFd, out))) return false;
  out->errfd = f.Take(kErrRead);
  out->syncfd = f.Take(kSyncWrite);
  l->planfd = f.Take(kPlan);
  l->init = ck.init;
  out->launch = l.release();
  return true;  // the child's ends of the pipes, its ns-init image and our pidfd are closed by `f`
}

}  // namespace ns
