/*
 * Reading the front record (record.h) and the one check every verb needs: is the recorded
 * process still the one that was recorded (pid and start time, as processStartTime() and
 * isAlive() in packages/namespaces/src/container/state.ts read /proc/PID/stat).
 */
#include "record.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECORD_FILE "state.front"
#define RECORD_LIMIT (1 << 20)

/* Read all of `path` into a fresh NUL-terminated buffer; NULL on error or past `limit`. */
static char *read_all(const char *path, size_t limit, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 16384, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    if (n == cap) {
      if (cap >= limit) break;
      char *more = realloc(buf, cap * 2 + 1);
      if (!more) break;
      buf = more;
      cap *= 2;
    }
    ssize_t k = read(fd, buf + n, cap - n);
    if (k < 0) break;
    if (k == 0) {
      close(fd);
      buf[n] = 0;
      *len = n;
      return buf;
    }
    n += (size_t)k;
  }
  free(buf);
  close(fd);
  return NULL;
}

/* Split off the line at *p (returned, NUL-terminated); *p moves past it. NULL at the end. */
static char *next_line(char **p, char *end) {
  if (*p >= end) return NULL;
  char *line = *p, *nl = memchr(line, '\n', (size_t)(end - line));
  if (!nl) return NULL;
  *nl = 0;
  *p = nl + 1;
  return line;
}

/* Split "KEY REST" at the first space: returns REST (NULL without one). */
static char *split(char *s, char sep) {
  char *sp = strchr(s, sep);
  if (!sp) return NULL;
  *sp = 0;
  return sp + 1;
}

/* A length field: decimal digits only. -1 when malformed. */
static long parse_len(const char *s) {
  if (!s || !*s) return -1;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > RECORD_LIMIT) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

/* Take `len` bytes and their closing newline from *p into t. -1 when short. */
static int take_bytes(char **p, char *end, long len, struct rec_text *t) {
  if (len < 0 || end - *p < len + 1 || (*p)[len] != '\n') return -1;
  t->data = *p;
  t->len = (size_t)len;
  (*p)[len] = 0;
  *p += len + 1;
  return 0;
}

int record_load(const char *dir, struct record *r) {
  char path[4096];
  size_t len;
  memset(r, 0, sizeof *r);
  if (snprintf(path, sizeof path, "%s/" RECORD_FILE, dir) >= (int)sizeof path) return -1;
  r->buf = read_all(path, RECORD_LIMIT, &len);
  if (!r->buf) return -1;
  char *p = r->buf, *end = r->buf + len, *line = next_line(&p, end);
  if (!line || strcmp(line, "ns-front-record 1") != 0) return -1;
  while ((line = next_line(&p, end))) {
    if (strcmp(line, "end") == 0) return r->pid > 0 && r->start_time ? 0 : -1;
    char *v = split(line, ' ');
    if (!v) return -1;
    if (strcmp(line, "pid") == 0) {
      r->pid = parse_len(v);
    } else if (strcmp(line, "start-time") == 0) {
      r->start_time = v;
    } else if (strcmp(line, "fifo") == 0) {
      r->fifo = v;
    } else if (strcmp(line, "frozen-if") == 0 && r->n_frozen_if < REC_MAX) {
      char *want = split(v, '\t');
      if (!want) return -1;
      r->frozen_if[r->n_frozen_if++] = (struct rec_pair){v, want};
    } else if (strcmp(line, "rmdir") == 0 && r->n_rmdir < REC_MAX) {
      r->rmdir[r->n_rmdir++] = v;
    } else if (strcmp(line, "node") == 0 && r->n_node < REC_MAX) {
      r->node[r->n_node++] = v;
    } else if (strcmp(line, "signal") == 0 && r->n_signal < REC_MAX * 2) {
      char *num = split(v, ' ');
      if (!num) return -1;
      r->signal[r->n_signal++] = (struct rec_pair){v, num};
    } else if (strcmp(line, "text") == 0 && r->n_text < 8) {
      struct rec_text *t = &r->text[r->n_text++];
      t->key = v;
      if (take_bytes(&p, end, parse_len(split(v, ' ')), t) < 0) return -1;
    } else if (strcmp(line, "file") == 0 && r->n_file < 8) {
      struct rec_text *t = &r->file[r->n_file++];
      t->key = v;
      t->name = split(v, ' ');
      if (!t->name || take_bytes(&p, end, parse_len(split((char *)t->name, ' ')), t) < 0) return -1;
      if (strchr(t->name, '/') || t->name[0] == '.' || !t->name[0]) return -1;
    } else {
      return -1; /* unknown key, or more entries than the front takes */
    }
  }
  return -1; /* no `end`: cut short */
}

const struct rec_text *record_text(const struct record *r, const char *key) {
  for (int i = 0; i < r->n_text; i++)
    if (strcmp(r->text[i].key, key) == 0) return &r->text[i];
  return NULL;
}

int record_needs_node(const struct record *r, const char *verb) {
  for (int i = 0; i < r->n_node; i++)
    if (strcmp(r->node[i], verb) == 0 || strcmp(r->node[i], "*") == 0) return 1;
  return 0;
}

int record_alive(const struct record *r) {
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", r->pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return 0;
  stat[n] = 0;
  /* The command name (field 2) is in parentheses and may hold spaces or ")". */
  char *p = strrchr(stat, ')');
  if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') return 0;
  p += 2; /* field 3 */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  size_t k = strlen(r->start_time);
  return strncmp(p, r->start_time, k) == 0 && (p[k] == ' ' || p[k] == '\n' || p[k] == 0);
}
