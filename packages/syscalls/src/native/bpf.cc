// Device filters of cgroup v2: bpf(2) BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program
// (compiled in TypeScript by @ns/cgroups), attached to a cgroup2 directory with
// BPF_F_ALLOW_MULTI, replacing the programs attached before, as runc does (attach the new
// one first, then detach the old: the cgroup is never without a filter).
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"

namespace ns {

namespace {

long Bpf(int cmd, union bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

// BPF_PROG_LOAD. The verifier gives up with EAGAIN when a signal is pending for this thread
// (a profiler's SIGPROF every millisecond, Node's own signals): after a first EAGAIN it runs
// again with every signal blocked for this thread (delivered right after), a few times as
// libbpf retries.
int ProgLoad(union bpf_attr* attr) {
  int fd = (int)Bpf(BPF_PROG_LOAD, attr);
  if (fd >= 0 || errno != EAGAIN) return fd;
  sigset_t all, old;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, _NSIG / 8);
  for (int attempt = 0; attempt < 4; attempt++) {
    fd = (int)Bpf(BPF_PROG_LOAD, attr);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  int e = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, _NSIG / 8);
  errno = e;
  return fd;
}

// BPF_PROG_LOAD of a device program, or -1 with errno and the verifier's log in `why`. The
// verifier runs without a log first (a log costs it time: most of a load here); only a
// refused program is loaded again with one, for the message.
int LoadDeviceProgram(const uint8_t* insns, size_t count, const char* license, std::string* why) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = (uint32_t)count;
  a.license = (uint64_t)(uintptr_t)license;
  int fd = ProgLoad(&a);
  if (fd >= 0) return fd;
  int first = errno;
  std::vector<char> log(1 << 16, 0);
  a.log_buf = (uint64_t)(uintptr_t)log.data();
  a.log_size = (uint32_t)log.size();
  a.log_level = 1;
  fd = ProgLoad(&a);
  if (fd >= 0) return fd;  // refused once, then taken: use it
  *why = log.data();
  while (!why->empty() && why->back() == '\n') why->pop_back();
  errno = errno == ENOSPC ? first : errno;  // a log too small for the message: the first errno
  return -1;
}

// Device programs loaded by this thread, by their bytes and license: the same rules (runc's
// default list, the usual case) give the same program, which the kernel lets many cgroups
// share, so each start need not run the verifier again. A few are kept (descriptors of ours,
// close-on-exec: no container inherits them); the oldest goes first.
struct ProgramCache {
  static constexpr size_t kMax = 8;
  struct Entry {
    std::string key;
    int fd;
    uint32_t id;  // the kernel's id of the program (BPF_OBJ_GET_INFO_BY_FD), 0 if unknown
  };
  std::vector<Entry> entries;
  ~ProgramCache() {
    for (auto& e : entries) close(e.fd);
  }
};
thread_local ProgramCache programs;

// The cached program of `key`, or null.
const ProgramCache::Entry* LoadedProgram(const std::string& key) {
  for (auto& e : programs.entries)
    if (e.key == key) return &e;
  return nullptr;
}

const ProgramCache::Entry* KeepProgram(const std::string& key, int fd) {
  if (programs.entries.size() >= ProgramCache::kMax) {
    close(programs.entries.front().fd);
    programs.entries.erase(programs.entries.begin());
  }
  struct bpf_prog_info info;
  memset(&info, 0, sizeof info);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.info.bpf_fd = (uint32_t)fd;
  a.info.info_len = sizeof info;
  a.info.info = (uint64_t)(uintptr_t)&info;
  uint32_t id = Bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 ? info.id : 0;
  programs.entries.push_back({key, fd, id});
  return &programs.entries.back();
}

// The ids of the device programs attached to `cgfd` (BPF_PROG_QUERY), or -1 with errno.
int QueryDevicePrograms(int cgfd, std::vector<uint32_t>* ids) {
  for (uint32_t cap = 8;; cap *= 2) {
    ids->assign(cap, 0);
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.query.target_fd = (uint32_t)cgfd;
    a.query.attach_type = BPF_CGROUP_DEVICE;
    a.query.prog_ids = (uint64_t)(uintptr_t)ids->data();
    a.query.prog_cnt = cap;
    if (Bpf(BPF_PROG_QUERY, &a) == 0) {
      ids->resize(a.query.prog_cnt);
      return 0;
    }
    if (errno != ENOSPC || cap >= 1024) return -1;
  }
}

}  // namespace

// attachDeviceFilter(dir: string, program: Buffer, license: string): load the program (its
// length a multiple of 8: struct bpf_insn[]) and make it the only device filter of the cgroup2
// directory `dir`. Throws with the verifier's log in the message when the kernel refuses it.
Napi::Value AttachDeviceFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsString())
    return ThrowPlan(env, "attachDeviceFilter(dir: string, program: Buffer, license: string) expected");
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<uint8_t> prog = info[1].As<Napi::Buffer<uint8_t>>();
  std::string license = info[2].As<Napi::String>().Utf8Value();
  if (prog.Length() == 0 || prog.Length() % 8 != 0 || prog.Length() / 8 > 1000000)
    return ThrowPlan(env, "a device filter is a non-empty array of 8-byte instructions");

  std::string key(reinterpret_cast<const char*>(prog.Data()), prog.Length());
  key.append(1, '\0').append(license);
  const ProgramCache::Entry* cached = LoadedProgram(key);
  if (!cached) {
    std::string why;
    int fd = LoadDeviceProgram(prog.Data(), prog.Length() / 8, license.c_str(), &why);
    if (fd < 0) {
      int e = errno;
      return ThrowErrno(env, e, "bpf BPF_PROG_LOAD (device filter for " + dir + ")", why);
    }
    cached = KeepProgram(key, fd);
  }
  int progfd = cached->fd;
  uint32_t progid = cached->id;
  int cgfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0) {
    int e = errno;
    return ThrowErrno(env, e, "open " + dir);
  }
  std::vector<uint32_t> old;
  if (QueryDevicePrograms(cgfd, &old) < 0) old.clear();  // nothing to replace, or no query
  // The same program attached already (update() with the same rules): it stays, the others go.
  bool there = false;
  for (uint32_t id : old) there = there || (progid != 0 && id == progid);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = (uint32_t)cgfd;
  a.attach_bpf_fd = (uint32_t)progfd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (!there && Bpf(BPF_PROG_ATTACH, &a) < 0) {
    int e = errno;
    close(cgfd);
    return ThrowErrno(env, e, "bpf BPF_PROG_ATTACH " + dir);
  }
  // The attachment holds the program; our descriptor stays in the cache (KeepProgram).
  for (uint32_t id : old) {
    if (there && id == progid) continue;
    memset(&a, 0, sizeof a);
    a.prog_id = id;
    int oldfd = (int)Bpf(BPF_PROG_GET_FD_BY_ID, &a);
    if (oldfd < 0) continue;  // gone meanwhile
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)cgfd;
    a.attach_bpf_fd = (uint32_t)oldfd;
    a.attach_type = BPF_CGROUP_DEVICE;
    long r = Bpf(BPF_PROG_DETACH, &a);
    int e = errno;
    close(oldfd);
    if (r < 0 && e != ENOENT) {
      close(cgfd);
      return ThrowErrno(env, e, "bpf BPF_PROG_DETACH " + dir + " (the filter it replaces)");
    }
  }
  close(cgfd);
  return env.Undefined();
}

// deviceFilterCount(dir) -> how many device programs are attached to the cgroup2 directory.
Napi::Value DeviceFilterCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  int cgfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0) return ThrowErrno(env, errno, "open " + dir);
  std::vector<uint32_t> ids;
  int r = QueryDevicePrograms(cgfd, &ids);
  int e = errno;
  close(cgfd);
  if (r < 0) return ThrowErrno(env, e, "bpf BPF_PROG_QUERY " + dir);
  return Napi::Number::New(env, (double)ids.size());
}

}  // namespace ns
