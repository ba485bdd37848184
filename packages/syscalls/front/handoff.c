/*
 * Stub of the warm-server hand-off (see handoff.h): no server yet, so always -1. The real
 * hand-off (`ns serve`, docs/cli-start.md option C) replaces this file.
 */
#include "handoff.h"

int ns_front_handoff(int argc, char **argv, const char *root) {
  (void)argc;
  (void)argv;
  (void)root;
  return -1;
}
