// A test executable for clone.c (not shipped; packages/syscalls/test/clone3.int.test.ts):
//   clone-test PATH   connects to the unix socket at PATH and carries out the messages a
//                     server sends a front after 'R' (S: clone, X: the end), exiting with the
//                     status X gives, or 222 when the server went away.
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: clone-test PATH\n");
    return 2;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, argv[1]);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("clone-test: connect");
    return 2;
  }
  int status = ns_front_messages(s);
  return status < 0 ? 222 : status;
}
