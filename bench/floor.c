// The floor: what starting a container costs with no runtime around it.
//
// The same work @ns does for `rootfsContainer(R, { args: ['/bin/true'] })`, written as
// directly as C allows: clone(CLONE_NEWNS|NEWPID|NEWUTS|NEWIPC|NEWNET) of a child on its own
// stack sharing our memory (CLONE_VM, as @ns), which makes / rprivate, binds the rootfs, mounts
// proc, a tmpfs /dev with runc's device nodes and symlinks, devpts, shm, mqueue and a read-only
// sysfs, pivot_root(".", "."), masks and read-only-binds runc's default paths (those present on
// this host, as @ns), sets the hostname, umask and RLIMIT_NOFILE, drops to the default
// capability set, starts a new session, closes stray descriptors and execs. The parent learns of
// the exec through a close-on-exec pipe (EOF) and waits for the exit, as @ns.
//
// It differs from @ns's plan only where @ns chooses to do more: no staging tmpfs and second
// pivot_root (@ns stages the new root under a tmpfs at /tmp, bubblewrap-style), no plan decoding.
//
// usage:
//   floor loop N ROOTFS [CMD...]    N sequential starts; JSON on stdout with per-iteration
//                                   clone_ns (clone(2) call, in the parent), exec_ns (clone to
//                                   execve done), total_ns (clone to reaped)
//   floor once ROOTFS [CMD...]      one start, exit status of CMD (whole-process comparison)
//   floor execin-loop N PID [CMD...]
//                                   N sequential exec-ins into the namespaces of PID (ipc, uts,
//                                   net, pid, mnt; what differs from ours): open the ns files,
//                                   clone a child that makes itself non-dumpable, setns(2)s,
//                                   clones again with CLONE_PARENT (pid namespace) and execs
//   floor execin-once PID [CMD...]  one exec-in (whole-process comparison with nsenter)
// Options before the mode: --no-net (no new network namespace), --no-mask (skip masked and
// read-only paths), --bind-dev (bind the host's /dev/null ... onto empty files instead of
// mknod, as in a user namespace), --helper PATH (exec the static program PATH, copied into a
// sealed memfd, which execs CMD: the one extra exec @ns pays for ns-init; bench/helper.c).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// runc's default capabilities: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID
// SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
static const uint64_t DEFAULT_CAPS = (1ull << 0) | (1ull << 1) | (1ull << 4) | (1ull << 3) | (1ull << 27) |
                                     (1ull << 13) | (1ull << 6) | (1ull << 7) | (1ull << 31) | (1ull << 8) |
                                     (1ull << 10) | (1ull << 18) | (1ull << 5) | (1ull << 29);

static const char* MASKED[] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                               "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                               "/proc/scsi", "/sys/devices/virtual/powercap"};
static const char* READONLY[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
#define NMASKED (sizeof MASKED / sizeof MASKED[0])
#define NREADONLY (sizeof READONLY / sizeof READONLY[0])

struct dev {
  const char* name;
  unsigned major, minor;
};
static const struct dev DEVICES[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
                                     {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
static const char* LINKS[][2] = {{"/proc/self/fd", "dev/fd"},     {"/proc/self/fd/0", "dev/stdin"},
                                 {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"},
                                 {"pts/ptmx", "dev/ptmx"},          {"/proc/kcore", "dev/core"}};

// Everything the child needs, prepared by the parent (the child allocates nothing).
struct ctx {
  const char* rootfs;
  char* const* argv;
  char* const* envp;
  int errfd;  // write end of the close-on-exec pipe: errno of a failed step, EOF on exec
  int mask;   // apply masked and read-only paths
  int bind_dev;  // bind the host's device nodes instead of mknod
  int helperfd;  // a sealed memfd of --helper PATH, or -1
  char* const* helper_argv;  // {"helper", argv...}
  int masked_kind[NMASKED];      // 0 absent, 1 dir, 2 file
  int readonly_kind[NREADONLY];  // 0 absent, 1 present
  uint64_t drop;                 // bounding-set capabilities to drop
  rlim_t nofile_hard;
  int nsfd[8];  // execin: namespace descriptors to join
  int nsflag[8];
  int nns;
  char* stack2;  // execin: stack of the CLONE_PARENT process
};

// PATH copied into a memfd sealed against writing (as @ns's ns-init), or exit.
static int sealed_copy(const char* path) {
  int in = open(path, O_RDONLY | O_CLOEXEC);
  int fd = (int)syscall(SYS_memfd_create, "helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (in < 0 || fd < 0) {
    perror(path);
    exit(2);
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(fd, buf, (size_t)n) != n) exit(2);
  close(in);
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

static void fail(const struct ctx* c, int step) {
  int msg[2] = {step, errno};
  (void)!write(c->errfd, msg, sizeof msg);
  _exit(127);
}
#define CHECK(c, step, expr) \
  do {                       \
    if ((expr) < 0) fail(c, step); \
  } while (0)

static void become_process(const struct ctx* c) {
  // Signals: default dispositions, nothing blocked (the parent blocks all around clone).
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < 65; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
  umask(022);
  struct rlimit nofile = {1024 < c->nofile_hard ? 1024 : c->nofile_hard, c->nofile_hard};
  CHECK(c, 40, setrlimit(RLIMIT_NOFILE, &nofile));
  for (int cap = 0; cap < 64; cap++)
    if ((c->drop >> cap) & 1) CHECK(c, 41, prctl(PR_CAPBSET_DROP, cap, 0, 0, 0));
  CHECK(c, 42, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
  CHECK(c, 43, syscall(SYS_setgroups, 0, NULL));
  CHECK(c, 44, syscall(SYS_setresgid, 0, 0, 0));
  CHECK(c, 45, syscall(SYS_setresuid, 0, 0, 0));
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int k = 0; k < 2; k++) data[k].effective = data[k].permitted = (uint32_t)(DEFAULT_CAPS >> (32 * k));
  CHECK(c, 46, syscall(SYS_capset, &hdr, data));
  CHECK(c, 47, prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
  CHECK(c, 48, chdir("/"));
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) fail(c, 49);
  if (c->helperfd >= 0)
    syscall(SYS_execveat, c->helperfd, "", c->helper_argv, c->envp, AT_EMPTY_PATH);
  else
    execve(c->argv[0], c->argv, c->envp);
  fail(c, 50);
}

static int container_main(void* arg) {
  const struct ctx* c = arg;
  CHECK(c, 1, setsid());
  CHECK(c, 2, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
  CHECK(c, 3, mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL));
  CHECK(c, 4, chdir(c->rootfs));
  CHECK(c, 5, mount("proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL));
  CHECK(c, 6, mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"));
  CHECK(c, 7, mkdir("dev/pts", 0755));
  CHECK(c, 8, mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"));
  CHECK(c, 9, mkdir("dev/shm", 0755));
  CHECK(c, 10, mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k"));
  CHECK(c, 11, mkdir("dev/mqueue", 0755));
  CHECK(c, 12, mount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL));
  CHECK(c, 13, mount("sysfs", "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL));
  char path[64];
  for (size_t k = 0; k < sizeof DEVICES / sizeof DEVICES[0]; k++) {
    snprintf(path, sizeof path, "dev/%s", DEVICES[k].name);
    if (c->bind_dev) {
      // As in a user namespace (and as @ns's plan does): an empty file, the host's node bound on it.
      char host[64];
      snprintf(host, sizeof host, "/dev/%s", DEVICES[k].name);
      int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0666);
      if (fd < 0) fail(c, 14);
      close(fd);
      CHECK(c, 14, mount(host, path, NULL, MS_BIND, NULL));
    } else {
      CHECK(c, 14, mknod(path, S_IFCHR | 0666, makedev(DEVICES[k].major, DEVICES[k].minor)));
    }
  }
  for (size_t k = 0; k < sizeof LINKS / sizeof LINKS[0]; k++) CHECK(c, 15, symlink(LINKS[k][0], LINKS[k][1]));
  CHECK(c, 16, syscall(SYS_pivot_root, ".", "."));
  CHECK(c, 17, mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL));
  CHECK(c, 18, umount2(".", MNT_DETACH));
  CHECK(c, 19, chdir("/"));
  if (c->mask) {
    for (size_t k = 0; k < NMASKED; k++) {
      if (c->masked_kind[k] == 1) CHECK(c, 20, mount("tmpfs", MASKED[k], "tmpfs", MS_RDONLY, NULL));
      if (c->masked_kind[k] == 2) CHECK(c, 21, mount("/dev/null", MASKED[k], NULL, MS_BIND, NULL));
    }
    for (size_t k = 0; k < NREADONLY; k++) {
      if (!c->readonly_kind[k]) continue;
      CHECK(c, 22, mount(READONLY[k], READONLY[k], NULL, MS_BIND | MS_REC, NULL));
      CHECK(c, 23, mount(NULL, READONLY[k], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    }
  }
  CHECK(c, 24, sethostname("ns", 2));
  become_process(c);
  return 127;
}

static int execin_grandchild(void* arg) {
  const struct ctx* c = arg;
  CHECK(c, 31, setsid());
  become_process(c);
  return 127;
}

static int execin_main(void* arg) {
  struct ctx* c = arg;
  CHECK(c, 29, prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
  for (int k = 0; k < c->nns; k++) CHECK(c, 30, setns(c->nsfd[k], c->nsflag[k]));
  // Joining a pid namespace only affects children: clone once more, as a sibling.
  if (clone(execin_grandchild, c->stack2, CLONE_VM | CLONE_PARENT | SIGCHLD, c) < 0) fail(c, 32);
  _exit(0);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

struct timing {
  uint64_t clone_ns, exec_ns, total_ns;
  int status;
};

#define STACK (256 * 1024)

// One start (or exec-in): clone, wait for exec (pipe EOF), wait for exit.
static int run_one(struct ctx* c, int (*fn)(void*), int flags, char* stack, struct timing* t) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) return perror("pipe2"), -1;
  c->errfd = pfd[1];
  sigset_t all, old;
  sigfillset(&all);
  uint64_t t0 = now_ns();
  sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(fn, stack + STACK, flags | CLONE_VM | SIGCHLD, c);
  int cloneErr = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  uint64_t t1 = now_ns();
  close(pfd[1]);
  if (pid < 0) {
    close(pfd[0]);
    fprintf(stderr, "floor: clone: %s\n", strerror(cloneErr));
    return -1;
  }
  int msg[2] = {0, 0};
  ssize_t n;
  do n = read(pfd[0], msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  uint64_t t2 = now_ns();
  close(pfd[0]);
  int status = 0;
  // An exec-in has two children: the first (setns, exits at once) and its CLONE_PARENT sibling.
  int children = fn == execin_main ? 2 : 1;
  for (int k = 0; k < children; k++) {
    int st;
    pid_t w;
    do w = waitpid(-1, &st, __WALL);
    while (w < 0 && errno == EINTR);
    if (w < 0) break;
    if (w != pid || children == 1) status = st;
  }
  uint64_t t3 = now_ns();
  if (n > 0) {
    fprintf(stderr, "floor: child step %d failed: %s\n", msg[0], strerror(msg[1]));
    return -1;
  }
  t->clone_ns = t1 - t0;
  t->exec_ns = t2 - t0;
  t->total_ns = t3 - t0;
  t->status = status;
  return 0;
}

static int kind_of(const char* p) {
  struct stat st;
  if (lstat(p, &st) < 0) return 0;
  return S_ISDIR(st.st_mode) ? 1 : 2;
}

static void usage(void) {
  fprintf(stderr,
          "usage: floor [--no-net] [--no-mask] [--bind-dev] loop N ROOTFS [CMD...] | once ROOTFS [CMD...]\n"
          "             | execin-loop N PID [CMD...] | execin-once PID [CMD...]\n");
  exit(2);
}

static void print_series(const char* name, const struct timing* t, int n, size_t off, int last) {
  printf("\"%s\":[", name);
  for (int k = 0; k < n; k++) printf("%s%llu", k ? "," : "", (unsigned long long)*(const uint64_t*)((const char*)&t[k] + off));
  printf("]%s", last ? "" : ",");
}

int main(int argc, char** argv) {
  int net = 1, mask = 1, bind_dev = 0, a = 1;
  const char* helper = NULL;
  for (; a < argc && argv[a][0] == '-'; a++) {
    if (!strcmp(argv[a], "--no-net")) net = 0;
    else if (!strcmp(argv[a], "--no-mask")) mask = 0;
    else if (!strcmp(argv[a], "--bind-dev")) bind_dev = 1;
    else if (!strcmp(argv[a], "--helper") && a + 1 < argc) helper = argv[++a];
    else usage();
  }
  if (a >= argc) usage();
  const char* mode = argv[a++];
  int loop = !strcmp(mode, "loop") || !strcmp(mode, "execin-loop");
  int execin = !strncmp(mode, "execin", 6);
  if (!loop && strcmp(mode, "once") && strcmp(mode, "execin-once")) usage();
  long n = 1;
  if (loop) {
    if (a >= argc) usage();
    n = strtol(argv[a++], NULL, 10);
    if (n < 1) usage();
  }
  if (a >= argc) usage();
  const char* target = argv[a++];
  static char* default_argv[] = {"/bin/true", NULL};
  static char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", NULL};

  struct ctx c;
  memset(&c, 0, sizeof c);
  c.argv = a < argc ? argv + a : default_argv;
  c.envp = envp;
  static char* helper_argv[64] = {"helper"};
  for (int k = 0; k < 62 && c.argv[k]; k++) helper_argv[k + 1] = c.argv[k];
  c.helper_argv = helper_argv;
  c.mask = mask;
  c.bind_dev = bind_dev;
  c.helperfd = helper ? sealed_copy(helper) : -1;
  struct rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  c.nofile_hard = nofile.rlim_max;
  int last_cap = 40;
  FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  if (f) {
    if (fscanf(f, "%d", &last_cap) != 1) last_cap = 40;
    fclose(f);
  }
  for (int cap = 0; cap <= last_cap; cap++)
    if (!((DEFAULT_CAPS >> cap) & 1)) c.drop |= 1ull << cap;
  for (size_t k = 0; k < NMASKED; k++) c.masked_kind[k] = kind_of(MASKED[k]);
  for (size_t k = 0; k < NREADONLY; k++) c.readonly_kind[k] = kind_of(READONLY[k]) != 0;

  char* stacks = mmap(NULL, 2 * STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stacks == MAP_FAILED) return perror("mmap"), 1;
  c.stack2 = stacks + 2 * STACK;

  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | (net ? CLONE_NEWNET : 0);
  char rootfs[4096];
  long pid = 0;
  if (execin) {
    pid = strtol(target, NULL, 10);
    if (pid < 1) usage();
    flags = 0;
  } else {
    if (!realpath(target, rootfs)) return perror(target), 1;
    c.rootfs = rootfs;
  }

  static const struct {
    const char* name;
    int flag;
  } JOIN[] = {{"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};

  struct timing* t = calloc((size_t)n, sizeof *t);
  for (long k = 0; k < n; k++) {
    uint64_t t0 = now_ns();
    if (execin) {
      // As nsenter: open the namespaces that differ from ours, each time.
      c.nns = 0;
      for (size_t j = 0; j < sizeof JOIN / sizeof JOIN[0]; j++) {
        char p[64], self[64], a1[64], a2[64];
        snprintf(p, sizeof p, "/proc/%ld/ns/%s", pid, JOIN[j].name);
        snprintf(self, sizeof self, "/proc/self/ns/%s", JOIN[j].name);
        ssize_t l1 = readlink(p, a1, sizeof a1 - 1), l2 = readlink(self, a2, sizeof a2 - 1);
        if (l1 < 0) return perror(p), 1;
        a1[l1] = 0;
        a2[l2 < 0 ? 0 : l2] = 0;
        if (!strcmp(a1, a2)) continue;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return perror(p), 1;
        c.nsfd[c.nns] = fd;
        c.nsflag[c.nns++] = JOIN[j].flag;
      }
    }
    // For an exec-in, opening the namespaces counts too (nsenter and @ns do it each time).
    uint64_t prep = now_ns() - t0;
    int rc = run_one(&c, execin ? execin_main : container_main, flags, stacks, &t[k]);
    for (int j = 0; j < c.nns; j++) close(c.nsfd[j]);
    if (rc < 0) return 1;
    t[k].exec_ns += prep;
    t[k].total_ns += prep;
  }
  if (!loop) {
    int st = t[0].status;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  printf("{\"mode\":\"%s\",\"n\":%ld,\"net\":%s,\"mask\":%s,", mode, n, net ? "true" : "false", mask ? "true" : "false");
  print_series("clone_ns", t, (int)n, offsetof(struct timing, clone_ns), 0);
  print_series("exec_ns", t, (int)n, offsetof(struct timing, exec_ns), 0);
  print_series("total_ns", t, (int)n, offsetof(struct timing, total_ns), 1);
  printf("}\n");
  return 0;
}
