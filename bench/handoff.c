// The floor of a warm pool's hand-over (issue 14, bench/lib/pool.mjs): a child forked ahead
// waits in read(2) on a pipe, as a pool member waits for its run record; the parent writes one
// byte and waits for end of file on a close-on-exec pipe, which the child's execve(2) of the
// program closes, as pool.exec() resolves. What that takes is the program's own start (a
// process woken, its execve), with nothing of a container or of Node: pool.exec()'s wall clock
// less this is what a pool start costs its caller over the program's own start.
//
//   handoff N PATH      N rounds of PATH (argv: its basename), the child started fresh each round
//
// Prints {"handoff_ns":[...]}: per round, the time from the write to the end of file.
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 3 || atoi(argv[1]) < 1) {
    fprintf(stderr, "usage: handoff N PATH\n");
    return 2;
  }
  int n = atoi(argv[1]);
  char* path = argv[2];
  char* name = basename(strdup(path));
  printf("{\"handoff_ns\":[");
  for (int i = 0; i < n; i++) {
    int go[2], done[2], ready[2];
    if (pipe2(go, O_CLOEXEC) || pipe2(done, O_CLOEXEC) || pipe2(ready, O_CLOEXEC)) return perror("pipe2"), 1;
    pid_t pid = fork();
    if (pid < 0) return perror("fork"), 1;
    if (pid == 0) {
      char c = 0;
      close(done[0]);
      if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(126);
      char* args[] = {name, NULL};
      char* env[] = {NULL};
      execve(path, args, env);
      _exit(127);
    }
    close(go[0]);
    close(done[1]);
    close(ready[1]);
    char c = 1;
    if (read(ready[0], &c, 1) != 1) return fprintf(stderr, "handoff: child gone\n"), 1;
    usleep(1000);  // the child is asleep in read(2) by now, as an idle pool member is
    long long t0 = now_ns();
    if (write(go[1], &c, 1) != 1) return perror("write"), 1;
    if (read(done[0], &c, 1) != 0) return fprintf(stderr, "handoff: %s did not exec\n", path), 1;
    long long t1 = now_ns();
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return fprintf(stderr, "handoff: %s failed\n", path), 1;
    close(go[1]);
    close(done[0]);
    close(ready[0]);
    printf("%s%lld", i ? "," : "", t1 - t0);
  }
  printf("]}\n");
  return 0;
}
