/*
 * The record verbs of the native front: `state`, `kill`, `start` and `delete` carried out
 * from the front record (record.h) that TypeScript wrote, as the Node path does them
 * (packages/namespaces/src/container/lifecycle.ts: startCreatedContainer(), deleteContainer();
 * processes.ts: killContainer(); state.ts: ociState()). Each returns the exit status when it did the
 * call, or FALL_BACK (having changed nothing Node would not redo the same way) for anything
 * the record does not cover: Node then does the call, its errors and messages included.
 */
#include "front.h"
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Write all of `len` bytes to fd; -1 on error. */
static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t k = write(fd, p, len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

/* Whether `file` has a line equal to `want` (the freezer files frozen-if names). */
static int has_line(const char *file, const char *want) {
  char buf[4096];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  size_t k = strlen(want);
  for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, want, k) == 0 && (p[k] == '\n' || p[k] == 0)) return 1;
  return 0;
}

/* Whether the container's cgroup is frozen: one of the record's freezer files has its line. */
static int record_frozen(const struct record *r) {
  for (int i = 0; i < r->n_frozen_if; i++)
    if (has_line(r->frozen_if[i].a, r->frozen_if[i].b)) return 1;
  return 0;
}

/* `ns state ID`: the text for alive, frozen or stopped, on stdout. */
int verb_state(const char *dir) {
  struct record r;
  if (record_load(dir, &r) < 0) return FALL_BACK;
  const char *which = "stopped";
  if (record_alive(&r)) which = record_frozen(&r) ? "frozen" : "alive";
  const struct rec_text *t = record_text(&r, which);
  if (!t) return FALL_BACK;
  write_all(1, t->data, t->len); /* as Node: a closed stdout (EPIPE) is not an error */
  return 0;
}

/* The number of `name` as namespaces' signalNumber() takes it; -1 when the front cannot tell. */
static int signal_number(const struct record *r, const char *name) {
  char up[32] = "SIG";
  if (*name >= '0' && *name <= '9') {
    long v = 0;
    for (const char *p = name; *p; p++) {
      if (*p < '0' || *p > '9') return -1;
      v = v * 10 + (*p - '0');
      if (v > 64) return -1;
    }
    return (int)v;
  }
  size_t n = strlen(name), skip = 0;
  if (n + 4 > sizeof up) return -1;
  char tmp[32];
  for (size_t i = 0; i <= n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c >= 0x80) return -1; /* non-ASCII: toUpperCase() rules the front does not copy */
    tmp[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
  }
  if (strncmp(tmp, "SIG", 3) == 0) skip = 3;
  strcpy(up + 3, tmp + skip);
  for (int i = 0; i < r->n_signal; i++)
    if (strcmp(r->signal[i].a, up) == 0) return atoi(r->signal[i].b);
  return -1;
}

/* `ns kill ID [SIGNAL]` (not --all): the signal through a pidfd, checked against start-time. */
int verb_kill(const char *dir, const char *signame) {
  struct record r;
  if (record_load(dir, &r) < 0 || record_needs_node(&r, "kill")) return FALL_BACK;
  int sig = signal_number(&r, signame);
  if (sig < 0 || !record_alive(&r)) return FALL_BACK;
  /* SIGKILL into a paused container: Node's killContainer() thaws a v1 freezer after it (frozen
     tasks act on no signal until thawed), which the front does not do. */
  if (sig == SIGKILL && record_frozen(&r)) return FALL_BACK;
  int fd = (int)syscall(SYS_pidfd_open, (int)r.pid, 0);
  if (fd < 0) return 0; /* exited meanwhile: as killContainer(), nothing to signal */
  int status = 0;
  /* Checked after opening the pidfd: from here on the pid cannot be reused under us. */
  if (record_alive(&r) && syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 && errno != ESRCH)
    status = FALL_BACK; /* EPERM ...: nothing was sent; Node reports it */
  close(fd);
  return status;
}

/* The container's lock, as proper-lockfile takes it (StateStore.withLock): mkdir of <dir>/.lock.
   Held by another (or stale): -1, and Node waits for it or breaks it by its own rules. */
static int lock(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.lock", dir);
  return mkdir(path, 0777);
}

static void unlock(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.lock", dir);
  rmdir(path);
}

/* Replace <dir>/<name> atomically (a temporary file, then rename(2)), mode 0600, as StateStore.write(). */
static int replace_file(const char *dir, const char *name, const char *data, size_t len) {
  char tmp[4096], path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/.%s.%d.front", dir, name, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int bad = write_all(fd, data, len) < 0;
  if (close(fd) < 0 || bad || rename(tmp, path) < 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* `ns start ID` of a created container: the exec.fifo's byte, then the files the record gives for after start. */
int verb_start(const char *dir) {
  if (lock(dir) < 0) return FALL_BACK;
  struct record r;
  int has_state = 0;
  if (record_load(dir, &r) == 0)
    for (int i = 0; i < r.n_file; i++) has_state |= !strcmp(r.file[i].key, "start") && !strcmp(r.file[i].name, "state.json");
  if (!has_state || !r.fifo || record_needs_node(&r, "start") || !record_alive(&r)) {
    unlock(dir);
    return FALL_BACK;
  }
  int fd = open(r.fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int got = 0;
  if (fd >= 0) {
    long deadline = now_ms() + 5000;
    for (;;) {
      char c;
      ssize_t n = read(fd, &c, 1);
      if (n == 1) {
        got = 1;
        break;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) break;
      if (!record_alive(&r) || now_ms() > deadline) break;
      sleep_ms(2);
    }
    close(fd);
  }
  if (!got) {
    unlock(dir); /* died or never took the signal: Node says which */
    return FALL_BACK;
  }
  unlink(r.fifo);
  /* The old record first: a reader sees no record (Node) rather than one older than state.json. */
  char path[4096];
  snprintf(path, sizeof path, "%s/state.front", dir);
  unlink(path);
  int status = 0;
  for (int i = 0; i < r.n_file && status == 0; i++)
    if (strcmp(r.file[i].key, "start") == 0 && strcmp(r.file[i].name, "state.front") != 0)
      if (replace_file(dir, r.file[i].name, r.file[i].data, r.file[i].len) < 0) status = FALL_BACK;
  for (int i = 0; i < r.n_file && status == 0; i++)
    if (strcmp(r.file[i].key, "start") == 0 && strcmp(r.file[i].name, "state.front") == 0)
      replace_file(dir, r.file[i].name, r.file[i].data, r.file[i].len); /* none: Node reads state.json */
  unlock(dir);
  return status;
}

/* rm -rf of the folder at dirfd/name (links removed, never followed); -1 on error. */
static int remove_tree(int at, const char *name) {
  if (unlinkat(at, name, 0) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return -1;
  int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  int bad = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && remove_tree(dirfd(d), e->d_name) < 0) bad = 1;
  closedir(d);
  return bad || (unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT) ? -1 : 0;
}

/* `ns delete [-f] ID` of a stopped container: its cgroup directories, then its folder. */
int verb_delete(const char *dir) {
  if (lock(dir) < 0) return FALL_BACK;
  struct record r;
  if (record_load(dir, &r) < 0 || record_needs_node(&r, "delete") || record_alive(&r)) {
    unlock(dir); /* running or created: Node kills (with --force) or refuses */
    return FALL_BACK;
  }
  for (int i = 0; i < r.n_rmdir; i++) {
    if (rmdir(r.rmdir[i]) < 0 && errno != ENOENT) {
      unlock(dir); /* still busy (a process left in it) or has children: Node kills and waits */
      return FALL_BACK;
    }
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/state.front", dir);
  unlink(path);
  return remove_tree(AT_FDCWD, dir) < 0 ? FALL_BACK : 0;
}
