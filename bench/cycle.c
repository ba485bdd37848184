// What an OCI client (containerd's shim, podman's conmon) makes a runtime do per container,
// timed phase by phase: `create --bundle B --pid-file P ID`, `start ID`, `state ID`, wait
// for the container's process, `delete ID`; or `exec ID /bin/true` into a running one; or a
// plain command (`node -e 0`, Node's floor). See bench/lib/cycle.mjs and docs/cli-start.md.
//
//   cycle [--hide-unified] cycle N BUNDLE ID-PREFIX -- RUNTIME [GLOBAL FLAGS...]
//   cycle [--hide-unified] exec N ID -- RUNTIME [GLOBAL FLAGS...]
//   cycle [--hide-unified] execd N ID -- RUNTIME [GLOBAL FLAGS...]   (exec --detach --pid-file, then waitpid)
//   cycle cmd N -- ARGV...
//
// One line per round on stdout: the phases' wall times in ms, separated by spaces
// (cycle: create start state wait delete; exec and cmd: one time).
//
// The harness is a child subreaper (PR_SET_CHILD_SUBREAPER), so the container's process,
// left behind by the runtime's create, becomes its child and "wait" is a waitpid() on the
// pid from the pid file: the same wait for every runtime, with nothing polled.
//
// --hide-unified: a mount namespace of its own without /sys/fs/cgroup/unified, for crun,
// which refuses a hybrid host whose v2 hierarchy holds a controller ("cgroups in hybrid mode
// not supported, drop all controllers from cgroupv2"); nothing of the host is changed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "cycle: %s: %s\n", what, strerror(errno));
  exit(2);
}

// Run argv with stdin and stdout on /dev/null and stderr to errfile; exit 1 with the
// command's stderr when it fails.
static void run(char **argv, const char *errfile) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    int err = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (null < 0 || err < 0) _exit(127);
    dup2(null, 0);
    dup2(null, 1);
    dup2(err, 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  fprintf(stderr, "cycle: `");
  for (char **a = argv; *a; a++) fprintf(stderr, "%s%s", a == argv ? "" : " ", *a);
  fprintf(stderr, "` failed (status 0x%x):\n", status);
  char buf[4096];
  int fd = open(errfile, O_RDONLY);
  ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof buf);
  if (n > 0) fwrite(buf, 1, (size_t)n, stderr);
  exit(1);
}

// argv = runtime + globals (rt, nrt entries) followed by extra (NULL-terminated).
static char **with(char **rt, int nrt, const char **extra) {
  static char *argv[64];
  int k = 0;
  for (int i = 0; i < nrt && k < 56; i++) argv[k++] = rt[i];
  for (int i = 0; extra[i] && k < 63; i++) argv[k++] = (char *)extra[i];
  argv[k] = NULL;
  return argv;
}

static pid_t read_pid(const char *file) {
  char buf[32] = {0};
  int fd = open(file, O_RDONLY);
  if (fd < 0) die(file);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) die("pid file empty");
  return (pid_t)atoi(buf);
}

static void reap_strays(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  int a = 1;
  if (a < argc && strcmp(argv[a], "--hide-unified") == 0) {
    a++;
    if (unshare(CLONE_NEWNS) < 0) die("unshare(CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("mount --make-rprivate /");
    if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) die("umount /sys/fs/cgroup/unified");
  }
  if (argc - a < 4) {
    fprintf(stderr, "usage: cycle [--hide-unified] cycle N BUNDLE ID-PREFIX -- RT... | exec|execd N ID -- RT... | cmd N -- ARGV...\n");
    return 2;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("PR_SET_CHILD_SUBREAPER");
  const char *mode = argv[a];
  int n = atoi(argv[a + 1]);
  int sep = a + 2;
  while (sep < argc && strcmp(argv[sep], "--") != 0) sep++;
  if (sep >= argc - 1) {
    fprintf(stderr, "cycle: missing -- COMMAND\n");
    return 2;
  }
  char **rt = argv + sep + 1;
  int nrt = argc - sep - 1;
  char errfile[] = "/tmp/nsbench-cycle-err.XXXXXX";
  int efd = mkstemp(errfile);
  if (efd < 0) die("mkstemp");
  close(efd);

  if (strcmp(mode, "cmd") == 0) {
    for (int i = 0; i < n; i++) {
      double t0 = now_ms();
      run(with(rt, nrt, (const char *[]){NULL}), errfile);
      printf("%.4f\n", now_ms() - t0);
    }
  } else if (strcmp(mode, "exec") == 0) {
    const char *id = argv[a + 2];
    for (int i = 0; i < n; i++) {
      double t0 = now_ms();
      run(with(rt, nrt, (const char *[]){"exec", id, "/bin/true", NULL}), errfile);
      printf("%.4f\n", now_ms() - t0);
      reap_strays();
    }
  } else if (strcmp(mode, "execd") == 0) {
    // As conmon and containerd's shim exec: detached, the pid from the pid file, then waited
    // for as its subreaper; the time until it has exited and been reaped.
    const char *id = argv[a + 2];
    char pidfile[] = "/tmp/nsbench-execd-pid.XXXXXX";
    int pfd = mkstemp(pidfile);
    if (pfd < 0) die("mkstemp");
    close(pfd);
    for (int i = 0; i < n; i++) {
      unlink(pidfile);
      double t0 = now_ms();
      run(with(rt, nrt, (const char *[]){"exec", "--detach", "--pid-file", pidfile, id, "/bin/true", NULL}), errfile);
      pid_t pid = read_pid(pidfile);
      int status;
      while (waitpid(pid, &status, 0) < 0) {
        if (errno == EINTR) continue;
        if (errno == ECHILD) break;
        die("waitpid(exec)");
      }
      printf("%.4f\n", now_ms() - t0);
      reap_strays();
    }
    unlink(pidfile);
  } else if (strcmp(mode, "cycle") == 0 && sep - a >= 4) {
    const char *bundle = argv[a + 2], *prefix = argv[a + 3];
    char pidfile[] = "/tmp/nsbench-cycle-pid.XXXXXX";
    int pfd = mkstemp(pidfile);
    if (pfd < 0) die("mkstemp");
    close(pfd);
    for (int i = 0; i < n; i++) {
      char id[128];
      snprintf(id, sizeof id, "%s-%d", prefix, i);
      unlink(pidfile);
      double t0 = now_ms();
      run(with(rt, nrt, (const char *[]){"create", "--bundle", bundle, "--pid-file", pidfile, id, NULL}), errfile);
      double t1 = now_ms();
      pid_t pid = read_pid(pidfile);
      run(with(rt, nrt, (const char *[]){"start", id, NULL}), errfile);
      double t2 = now_ms();
      run(with(rt, nrt, (const char *[]){"state", id, NULL}), errfile);
      double t3 = now_ms();
      int status;
      while (waitpid(pid, &status, 0) < 0) {
        if (errno == EINTR) continue;
        if (errno == ECHILD) break;  // not ours (the runtime kept it): nothing to wait for
        die("waitpid(container)");
      }
      double t4 = now_ms();
      run(with(rt, nrt, (const char *[]){"delete", id, NULL}), errfile);
      double t5 = now_ms();
      printf("%.4f %.4f %.4f %.4f %.4f\n", t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4);
      reap_strays();
    }
    unlink(pidfile);
  } else {
    fprintf(stderr, "cycle: unknown mode %s\n", mode);
    return 2;
  }
  unlink(errfile);
  return 0;
}
