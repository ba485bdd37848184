/*
 * The native front of `ns` (docs/cli-start.md "The design we build"): the installed `ns`
 * command (packages/cli/src/ns.cts, its shell header) runs it as
 *
 *     ns-front PATH/TO/dist/ns.cjs ARGS...
 *
 * and it, in order:
 *   1. carries out `state`, `kill`, `start` and `delete` from the record TypeScript wrote
 *      beside the container's state.json (verbs.c, record.h): no process to talk to, the
 *      fastest way (half the time of a hand-off);
 *   2. hands the call to a warm `ns serve` (ns_front_handoff(), handoff.h), which also
 *      creates containers (the front clones their process: clone.c);
 *   3. else runs `node PATH/TO/dist/ns.cjs ARGS...`: the same call, in Node.
 * It decides nothing: a command line it does not parse exactly as the CLI's commander set-up
 * does (packages/cli/src/index.ts, global.ts), a record it does not understand, or a case
 * the record does not cover all go to Node, which gives every error and message.
 */
#include "front.h"
#include "handoff.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One `ns` call as the front takes it. */
struct call {
  const char *root;   /* --root, NULL for the default */
  const char *log;    /* --log FILE */
  const char *verb;   /* state|kill|start|delete */
  const char *id;
  const char *signal; /* kill's SIGNAL */
  int npos;
};

/* A path the front may use as Node would resolve it: non-empty, no `..` component (path.resolve()
   folds those lexically, the kernel through symlinks). */
static int plain_path(const char *p) {
  if (!p || !*p) return 0;
  for (const char *s = p; (s = strstr(s, "..")); s += 2)
    if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0)) return 0;
  return 1;
}

/* The value of `--name VALUE` or `--name=VALUE` at argv[*i]; NULL when argv[*i] is not it. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *bad) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0) return NULL;
  if (a[n] == '=') return a + n + 1;
  if (a[n] != 0) return NULL;
  if (*i + 1 >= argc) {
    *bad = 1;
    return NULL;
  }
  return argv[++*i];
}

/* runc's --rootless values (global.ts parseRootless()). */
static int rootless_ok(const char *v) {
  static const char *ok[] = {"", "auto", "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"};
  for (size_t k = 0; k < sizeof ok / sizeof *ok; k++)
    if (strcmp(v, ok[k]) == 0) return 1;
  return 0;
}

/* A container id (CONTAINER_ID of @ns/namespaces): [A-Za-z0-9][A-Za-z0-9_.-]{0,127}. */
static int valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128) return 0;
  for (size_t k = 0; k < n; k++) {
    char c = s[k];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (k == 0 || (c != '_' && c != '.' && c != '-'))) return 0;
  }
  return 1;
}

/* Parse ARGS. 0 when the front takes the call (c filled in), -1 for anything else. */
static int parse(int argc, char **argv, struct call *c) {
  int i = 0, bad = 0;
  const char *v;
  memset(c, 0, sizeof *c);
  /* runc's global options, before the verb (commander: program options). */
  for (; i < argc && argv[i][0] == '-'; i++) {
    if ((v = option_value(argc, argv, &i, "--root", &bad))) c->root = v;
    else if ((v = option_value(argc, argv, &i, "--log-format", &bad))) {
      if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0) return -1;
    } else if ((v = option_value(argc, argv, &i, "--log", &bad))) c->log = v;
    else if ((v = option_value(argc, argv, &i, "--rootless", &bad))) {
      if (!rootless_ok(v)) return -1;
    } else if (strcmp(argv[i], "--systemd-cgroup") == 0) {
      /* meaningless for these verbs (refused for run and create only) */
    } else return -1; /* --debug writes debug lines; -h, -V, anything else: Node */
    if (bad) return -1;
  }
  if (i >= argc) return -1;
  c->verb = argv[i++];
  int is_delete = strcmp(c->verb, "delete") == 0 || strcmp(c->verb, "rm") == 0;
  if (is_delete) c->verb = "delete";
  else if (strcmp(c->verb, "state") && strcmp(c->verb, "kill") && strcmp(c->verb, "start")) return -1;
  /* The verb's options and arguments, in any order (only --root, and delete's -f). */
  for (; i < argc; i++) {
    if (argv[i][0] == '-') {
      if ((v = option_value(argc, argv, &i, "--root", &bad))) c->root = v;
      else if (is_delete && (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--force") == 0)) continue;
      else return -1; /* --, -a, -h ...: Node */
      if (bad) return -1;
      continue;
    }
    if (c->npos == 0) c->id = argv[i];
    else if (c->npos == 1) c->signal = argv[i];
    c->npos++;
  }
  if (c->npos < 1 || c->npos > (strcmp(c->verb, "kill") == 0 ? 2 : 1)) return -1;
  if (!valid_id(c->id)) return -1;
  if (c->root && !plain_path(c->root)) return -1;
  if (c->log && !plain_path(c->log)) return -1;
  return 0;
}

/* The --root of any call, for the hand-off to a warm server (which decides in TypeScript
   what it runs: `list`, `ps`, `features` ... as well as the record verbs): the last --root
   among runc's global options and the verb's own options up to `--`, as commander takes it.
   0 when unsure (an option before the verb the front does not know, a bad --root): no
   hand-off then, and the call goes on to the record verbs or Node. */
static int call_root(int argc, char **argv, const char **root) {
  int i = 0, bad = 0;
  const char *v;
  *root = NULL;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) break; /* a verb of its own */
    if ((v = option_value(argc, argv, &i, "--root", &bad))) *root = v;
    else if (option_value(argc, argv, &i, "--log-format", &bad) || option_value(argc, argv, &i, "--log", &bad) ||
             option_value(argc, argv, &i, "--rootless", &bad)) {
    } else if (strcmp(argv[i], "--systemd-cgroup") != 0 && strcmp(argv[i], "--debug") != 0) return 0;
    if (bad) return 0;
  }
  for (i++; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (argv[i][0] == '-' && (v = option_value(argc, argv, &i, "--root", &bad))) *root = v;
    if (bad) return 0;
  }
  return *root == NULL || plain_path(*root);
}

/* The state root: --root (relative to the working directory), else defaultStateRoot() of
   @ns/namespaces: /run/ns for root, $XDG_RUNTIME_DIR/ns, /tmp/ns-UID. NULL when unsure. */
static const char *state_root(const char *root, char *buf, size_t size) {
  if (!root) {
    uid_t uid = getuid();
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (uid == 0) return "/run/ns";
    if (xdg && *xdg) {
      if (xdg[0] != '/' || !plain_path(xdg)) return NULL;
      snprintf(buf, size, "%s/ns", xdg);
    } else snprintf(buf, size, "/tmp/ns-%u", (unsigned)uid);
    return buf;
  }
  if (root[0] == '/') return root;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return NULL;
  if ((size_t)snprintf(buf, size, "%s/%s", cwd, root) >= size) return NULL;
  return buf;
}

/* Run the call in Node: exec `node NS_CJS ARGS...` (node from PATH, as the script's #! line). */
static void node_fallback(const char *cli, int argc, char **argv) {
  char **args = calloc((size_t)argc + 3, sizeof *args);
  if (!args) _exit(125);
  args[0] = "node";
  args[1] = (char *)cli;
  for (int i = 0; i < argc; i++) args[i + 2] = argv[i];
  execvp("node", args);
  fprintf(stderr, "ns: cannot run node: %m\n");
  _exit(125);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ns-front PATH/TO/ns.cjs [ARGS...] (run by the ns command)\n");
    return 125;
  }
  const char *cli = argv[1];
  int n = argc - 2;
  char **args = argv + 2;
  struct call c;
  char rootbuf[4096];
  int ours = parse(n, args, &c) == 0;
  const char *root = ours ? state_root(c.root, rootbuf, sizeof rootbuf) : NULL;
  /* Any other verb may be the server's too (it answers F for what it does not run). */
  const char *given;
  char anybuf[4096];
  const char *server_root = ours ? root : call_root(n, args, &given) ? state_root(given, anybuf, sizeof anybuf) : NULL;

  /* 1. The record verbs. */
  if (ours && root) {
    char dir[4096];
    int status = FALL_BACK;
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", root, c.id) < sizeof dir) {
      /* --log FILE is opened (created 0644, appended) before the verb runs, as openRuntimeLog(). */
      int log = c.log ? open(c.log, O_WRONLY | O_CREAT | O_APPEND | O_SYNC | O_CLOEXEC, 0644) : -2;
      if (log != -1) {
        if (strcmp(c.verb, "state") == 0) status = verb_state(dir);
        else if (strcmp(c.verb, "kill") == 0) status = verb_kill(dir, c.signal ? c.signal : "SIGTERM");
        else if (strcmp(c.verb, "start") == 0) status = verb_start(dir);
        else status = verb_delete(dir);
        if (log >= 0) close(log);
      }
    }
    if (status != FALL_BACK) return status;
  }

  /* 2. A warm server takes the whole call (argv[1], the ns.cjs path, becomes argv[0] "ns"). */
  argv[1] = (char *)"ns";
  int handed = ns_front_handoff(argc - 1, argv + 1, server_root);
  argv[1] = (char *)cli;
  if (handed >= 0) return handed;

  /* 3. Node. */
  node_fallback(cli, n, args);
  return 125;
}
