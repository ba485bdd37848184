// A test executable for handoff.c (not shipped; the front's main.c is the real caller):
//   handoff-test ROOT ARGS...   runs `ns ARGS...` through the server at ROOT/.server and exits
//   with the call's status, or with 222 when ns_front_handoff() fell back (-1).
#include <stdio.h>

#include "handoff.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: handoff-test ROOT ARGS...\n");
    return 2;
  }
  int status = ns_front_handoff(argc - 1, argv + 1, argv[1]);
  return status < 0 ? 222 : status;
}
