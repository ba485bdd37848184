// Prototype (issue 17, docs/cli-start.md option B): `state ID` carried out natively from what
// TypeScript wrote. Reads ROOT/ID/state.json, takes pid, startTime and status with a naive
// scan (a prototype: the real front would read a fixed-format record written for it), checks
// /proc/PID/stat's start time as currentStatus() does, prints the state document.
//   front-state ROOT ID
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];

static const char *field(const char *key, char *out, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(buf, pat);
  if (!p) return NULL;
  p += strlen(pat);
  if (*p == '"') p++;
  size_t k = 0;
  while (*p && *p != '"' && *p != ',' && *p != '\n' && k + 1 < n) out[k++] = *p++;
  out[k] = 0;
  return out;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/state.json", argv[1], argv[2]);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "container %s does not exist\n", argv[2]);
    return 1;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = 0;
  char pid[32], start[32], status[32], id[256], bundle[4096], created[64];
  if (!field("pid", pid, sizeof pid) || !field("startTime", start, sizeof start) || !field("status", status, sizeof status)) return 1;
  field("id", id, sizeof id);
  field("bundle", bundle, sizeof bundle);
  field("created", created, sizeof created);
  // Alive and the same process: field 22 of /proc/PID/stat, not a zombie.
  char stat[1024] = {0};
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  int alive = 0;
  if (fd >= 0) {
    ssize_t m = read(fd, stat, sizeof stat - 1);
    close(fd);
    char *p = m > 0 ? strrchr(stat, ')') : NULL;
    if (p && p[2] != 'Z' && p[2] != 'X') {
      p += 2;
      for (int f = 3; f < 22 && p; f++) p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
      alive = p && strncmp(p, start, strlen(start)) == 0 && p[strlen(start)] == ' ';
    }
  }
  const char *st = alive ? status : "stopped";
  printf("{\n  \"ociVersion\": \"1.2.0\",\n  \"id\": \"%s\",\n  \"status\": \"%s\",\n", id, st);
  if (alive) printf("  \"pid\": %s,\n", pid);
  printf("  \"bundle\": \"%s\",\n  \"created\": \"%s\"\n}\n", bundle, created);
  return 0;
}
