/*
 * The front record: `<root>/<id>/state.front`, written by TypeScript beside state.json
 * (packages/namespaces/src/container/front-record.ts, frontRecord(), called by
 * StateStore.write()). A line-based file, every line `KEY VALUE`:
 *
 *   ns-front-record 1               first line: the format and its version
 *   pid PID                         the container's init (host pid)
 *   start-time TICKS                field 22 of /proc/PID/stat when it started
 *   fifo PATH                       created only: the exec.fifo `start` opens
 *   frozen-if FILE<TAB>LINE         0..n: alive and FILE has the line LINE: print text frozen
 *   rmdir DIR                       0..n: the cgroup directories `delete` removes, in order
 *   node VERB                       0..n: VERB must run in Node (hooks, network ...)
 *   signal NAME NUMBER              0..n: the signal names `kill` accepts (SIGHUP 1 ...)
 *   text WHICH LEN                  then LEN bytes and a newline: the state document printed
 *                                   when the process is alive / frozen / stopped
 *   file VERB NAME LEN              then LEN bytes and a newline: after VERB, NAME (in the
 *                                   container's folder) is replaced by these bytes
 *   end                             last line
 *
 * The front carries out what the record says and decides nothing itself; an unknown key, a
 * newer version or a malformed record means "let Node do it".
 */
#ifndef NS_FRONT_RECORD_H
#define NS_FRONT_RECORD_H

#include <stddef.h>

#define REC_MAX 64

struct rec_text {
  const char *key;   /* text: alive|frozen|stopped; file: the verb */
  const char *name;  /* file only: the file name */
  const char *data;
  size_t len;
};

struct rec_pair {
  const char *a, *b;
};

struct record {
  char *buf;  /* the whole file, NUL-separated in place */
  long pid;
  const char *start_time;
  const char *fifo;
  struct rec_pair frozen_if[REC_MAX];
  int n_frozen_if;
  const char *rmdir[REC_MAX];
  int n_rmdir;
  const char *node[REC_MAX];
  int n_node;
  struct rec_pair signal[REC_MAX * 2];
  int n_signal;
  struct rec_text text[8];
  int n_text;
  struct rec_text file[8];
  int n_file;
};

/* Read and parse `<dir>/state.front`. 0 on success; -1 when absent or not understood. */
int record_load(const char *dir, struct record *r);

/* The text `key`, or NULL. */
const struct rec_text *record_text(const struct record *r, const char *key);

/* Whether the record says `verb` must run in Node. */
int record_needs_node(const struct record *r, const char *verb);

/*
 * 1 when the recorded process is alive and the same one: /proc/PID/stat exists, its state
 * (field 3) is not Z or X, and its field 22 equals start-time (namespaces' isAlive()).
 */
int record_alive(const struct record *r);

#endif
