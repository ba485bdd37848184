// The front's side of cloning a container's process for a warm `ns serve` (clone.c; the
// server's side and the wire format: packages/syscalls/src/native/spawn_via.cc).
#pragma once
#include <stddef.h>

// At most this many descriptors come with a request (the addon's kMaxKeep).
#define NS_FRONT_MAX_FDS 128  // NS_SCM_MAX_FDS

// The child the front cloned for the server: it is the front's to reap.
struct ns_front_child {
  int pid;    // 0: none
  int pidfd;  // -1: none
};

// Carry out the server's clone request on the connection `s`: `body` (after the 'S' and its
// length), the `ngot` descriptors that came with it (close-on-exec). Clones the child (which
// puts each descriptor at the number the request names and execs ns-init), into the cgroup2
// directory that came last when the request says so and the kernel can, and answers 'P' (or
// 'C': born in that cgroup) with its pid and a pidfd, or 'E' with an errno. Returns 0 once answered, -1 for a malformed
// request or a failed answer (the connection is then of no use). The caller closes `got`.
int ns_front_clone(int s, const unsigned char *body, size_t len, const int *got, size_t ngot, struct ns_front_child *child);

// The call ended with `status`; the server's container process is `keep` (0: none). On a
// failure, kill the child and reap every child of the front; on success reap the child only
// if it is not the container's process (it handed over to a process it forked and exits).
void ns_front_child_done(struct ns_front_child *child, int status, int keep);
