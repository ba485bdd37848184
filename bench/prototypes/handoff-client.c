// Prototype (issue 17, docs/cli-start.md option C): hand the call to a warm `ns` process.
// Sends argv (NUL-separated) over the unix socket $NS_SERVER; the server runs main() in its
// own process and answers with its output then a last line "\0<exit status>". No descriptor
// passing in the prototype (the real front sends 0, 1, 2 with SCM_RIGHTS).
//   NS_SERVER=/run/ns/.server handoff-client ARGS...
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *path = getenv("NS_SERVER");
  if (!path) return 125;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) return 125;
  static char req[65536];
  size_t k = 0;
  for (int i = 1; i < argc; i++) {
    size_t l = strlen(argv[i]) + 1;
    if (k + l > sizeof req) return 125;
    memcpy(req + k, argv[i], l);
    k += l;
  }
  if (write(s, req, k) != (ssize_t)k) return 125;
  shutdown(s, SHUT_WR);
  static char resp[1 << 20];
  size_t got = 0;
  ssize_t n;
  while ((n = read(s, resp + got, sizeof resp - got)) > 0) got += (size_t)n;
  char *z = memchr(resp, 0, got);
  if (!z) return 125;
  fwrite(resp, 1, (size_t)(z - resp), stdout);
  return atoi(z + 1);
}
