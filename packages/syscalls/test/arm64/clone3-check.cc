// /init of an arm64 virtual machine (scripts/release/check-arm64-vm.sh): runs the spawn
// engine's clone3(2) (src/native/clone3.cc, the raw call in aarch64 assembly) on a real arm64
// kernel, as start.cc calls it: CLONE_VM | CLONE_PIDFD | CLONE_NEWPID | SIGCHLD, a stack of the
// child's own, CLONE_INTO_CGROUP into a cgroup2 directory. qemu-user cannot show this: it
// answers clone3 with ENOSYS, so only the fallback to clone(2) ever ran there.
//
// Prints `clone3-check: OK ...` or `clone3-check: FAIL ...` on the console, then powers off.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/native/clone3.h"

namespace {

int failures = 0;

void Say(const char* fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) (void)!write(1, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void Check(bool ok, const char* what) {
  Say("clone3-check: %s: %s\n", ok ? "pass" : "FAIL", what);
  if (!ok) failures++;
}

// What the child saw, written into the parent's memory (CLONE_VM).
struct Seen {
  int in;       // set by the parent
  int out;      // in * 2 + 1, from the child
  long pid;     // getpid() in the child: 1 in its new pid namespace
  char cgroup[128];
};

int Child(void* p) {
  Seen* s = static_cast<Seen*>(p);
  s->out = s->in * 2 + 1;
  s->pid = (long)getpid();
  int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, s->cgroup, sizeof s->cgroup - 1);
    if (n > 0) s->cgroup[n] = 0;
    close(fd);
  }
  return 42 + (s->in & 0x3f);
}

constexpr size_t kStack = 256 * 1024;

// One clone into `cgfd`: the child's pid (> 0) or -errno; waits for it and checks its status.
long CloneOnce(int cgfd, void* stack, Seen* s, int* pidfd, int* status) {
  int flags = CLONE_VM | CLONE_PIDFD | CLONE_NEWPID | SIGCHLD;
  volatile long sentinel = 0x5eed;  // the parent's frame must come back intact
  pid_t pid = ns::Clone3IntoCgroup(Child, s, stack, kStack, (uint64_t)(uint32_t)flags, cgfd, pidfd);
  if (pid <= 0) return pid;
  if (waitpid(pid, status, __WALL) != pid) return -errno;
  if (sentinel != 0x5eed) return -EFAULT;
  return pid;
}

}  // namespace

int main() {
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mount("proc", "/proc", "proc", 0, nullptr);
  mount("sysfs", "/sys", "sysfs", 0, nullptr);
  Check(mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, nullptr) == 0, "mount cgroup2 on /sys/fs/cgroup");
  Check(mkdir("/sys/fs/cgroup/box", 0755) == 0, "mkdir /sys/fs/cgroup/box");
  int cgfd = open("/sys/fs/cgroup/box", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Check(cgfd >= 0, "open the cgroup directory");
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  Check(stack != MAP_FAILED, "mmap a stack for the child");

  // 1. Born in the cgroup, in its own pid namespace, with its argument, exit status and pidfd.
  Seen s = {};
  s.in = 20;
  int pidfd = -1, status = 0;
  long pid = CloneOnce(cgfd, stack, &s, &pidfd, &status);
  if (pid < 0) Say("clone3-check: clone3 returned %ld (%s)\n", pid, strerror((int)-pid));
  Check(pid > 0, "clone3 CLONE_INTO_CGROUP returns the child's pid");
  Check(WIFEXITED(status) && WEXITSTATUS(status) == 42 + 20, "the child's return value is its exit status (SYS_exit)");
  Check(s.out == 41, "the child got its argument and wrote into the parent's memory (CLONE_VM)");
  Check(s.pid == 1, "the child is pid 1 of a new pid namespace");
  Say("clone3-check: the child's /proc/self/cgroup: %s", s.cgroup[0] ? s.cgroup : "(empty)\n");
  Check(strcmp(s.cgroup, "0::/box\n") == 0, "the child was born in /box (CLONE_INTO_CGROUP)");
  char fdinfo[64], text[512] = {0};
  snprintf(fdinfo, sizeof fdinfo, "/proc/self/fdinfo/%d", pidfd);
  int fi = open(fdinfo, O_RDONLY);
  if (fi >= 0) {
    (void)!read(fi, text, sizeof text - 1);
    close(fi);
  }
  Check(pidfd >= 0 && strstr(text, "Pid:") != nullptr, "CLONE_PIDFD stored a pidfd");
  if (pidfd >= 0) close(pidfd);

  // 2. Many in a row: registers and stacks are handed over the same way every time.
  int good = 0;
  for (int i = 0; i < 64; i++) {
    Seen t = {};
    t.in = i;
    int fd = -1, st = 0;
    long p = CloneOnce(cgfd, stack, &t, &fd, &st);
    if (p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 42 + (i & 0x3f) && t.out == 2 * i + 1 && t.pid == 1) good++;
    if (fd >= 0) close(fd);
  }
  Check(good == 64, "64 clones in a row, each with its own argument and status");

  // 3. Not a cgroup2 directory: an error, and no child (the caller falls back to clone(2)).
  int notcg = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Seen u = {};
  int fd = -1, st = 0;
  long bad = CloneOnce(notcg, stack, &u, &fd, &st);
  Say("clone3-check: into / (not a cgroup): %ld\n", bad);
  Check(bad == -EBADF, "a descriptor that is not a cgroup2 directory: -EBADF");
  Check(waitpid(-1, &st, WNOHANG | __WALL) < 0 && errno == ECHILD, "and no child was made");

  Say("clone3-check: %s: %d failed\n", failures == 0 ? "OK" : "FAIL", failures);
  sync();
  reboot(RB_POWER_OFF);
  return 0;
}
