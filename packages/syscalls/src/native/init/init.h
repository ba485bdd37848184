// ns-init: the static helper that runs a plan in the container's namespaces.
//
// The clone of Node that spawn() makes execs this program at once (from a sealed memfd the
// addon fills with the bytes embedded in it), so that no process a container can see or
// reach is ever a copy of the host's node: not its exe, not its memory, not its environment
// (CVE-2019-5736 class; runc does the same with a sealed copy of itself). ns-init is linked
// with no C library: every call is a raw system call (raw.h), nothing allocates but mmap.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../plan.h"
#include "../raw.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// What the steps share while the plan runs.
struct ns_child_ctx {
  ns_step* steps;  // ns-init's own decoded copy: the stdio step renumbers descriptors later steps name
  uint32_t nsteps;
  int errfd;      // child -> parent messages (close-on-exec); -1 once detached
  int syncfd;     // parent -> child go-ahead bytes (close-on-exec)
  int parentfd;   // pidfd of the parent process, to notice its death before PDEATHSIG
  int planfd;     // the plan's memfd (shared with the parent), kept for a reexec step
  int initfd;     // ns-init's own sealed memfd, kept for a reexec step
  int pdeathsig;  // PR_SET_PDEATHSIG signal, 0 for none (detached containers)
  const char* proc;  // where procfs is mounted now (a procRoot step), for /proc/self/fd paths
  ns_launch* shared;  // the launch header, mapped shared with the parent (execing, pid)
  int32_t fail_value;  // sent with a failing step's errno (a hook step's exit status)
};

// run.cc
__attribute__((noreturn)) void ns_quit(int status);
void ns_cloexec(int fd, bool on);
void ns_send(const ns_child_ctx* c, int32_t step, int32_t code, int32_t value = 0);
void ns_watch_parent(const ns_child_ctx* c);
long ns_sync(const ns_child_ctx* c, int32_t index, int32_t value);
// Wait for the parent's go-ahead byte only (a sync step it answered before the child got there).
long ns_await_go(const ns_child_ctx* c);
__attribute__((noreturn)) void ns_run_from(ns_child_ctx* c, uint32_t first);

// fs.cc: mounts, pivot_root, file creation (mkdir, mknod, symlink, touch)
long ns_do_mount(const ns_child_ctx* c, const ns_step* s);
long ns_do_create(const ns_step* s);
long ns_do_pivot_root(const ns_step* s);
long ns_do_move_root(const ns_step* s);
long ns_do_detach_mount(const ns_step* s);
const char* ns_fd_path(const char* proc, long fd, char* buf, size_t size);
// open(2) with O_CLOEXEC that follows no symlink (openat2 RESOLVE_NO_SYMLINKS): fs.cc.
long ns_open_nofollow(const char* path, long flags);
// console.cc: the openConsole step (a pty of the container's own devpts, its master to the parent).
long ns_do_open_console(ns_child_ctx* c, int32_t index, const ns_step* s);

// idmap.cc: id-mapped bind mounts (open_tree, mount_setattr MOUNT_ATTR_IDMAP, move_mount)
long ns_do_idmap_open(const ns_step* s);
long ns_do_idmap_move(const ns_step* s);

// proc.cc: descriptors, credentials, namespaces, execve
long ns_do_stdio(ns_child_ctx* c, const ns_step* s);
long ns_do_close_from(const ns_step* s);
long ns_do_sched_setattr(const ns_step* s);

// keyring.cc: the session keyring
long ns_do_join_session_keyring(const ns_step* s);
long ns_do_setns(const ns_step* s);
long ns_do_write_file(const ns_step* s);
long ns_do_capset(const ns_step* s);
long ns_do_exec_check(const ns_step* s);
long ns_do_execve(ns_child_ctx* c, int32_t index, const ns_step* s);
long ns_do_seccomp(const ns_step* s);
long ns_do_seccomp_notify(ns_child_ctx* c, int32_t index, const ns_step* s);

// hook.cc: an OCI hook run in the container's namespaces (createContainer, startContainer)
long ns_do_hook(ns_child_ctx* c, const ns_step* s);

size_t ns_slen(const char* s);

// reaper.cc: the init step (fork the program's process; stay as its init). Returns in the
// program's process only (0, or an error for the plan to report); the init never returns.
long ns_do_init(ns_child_ctx* c, const ns_step* s);
// pool.cc: the awaitRun step of a pre-created container (a pool member). Never returns but
// with a failure it has reported itself; exits NS_RUN_IDLE_EXIT when idle past its timeout.
long ns_do_await_run(ns_child_ctx* c, int32_t index, const ns_step* s);
// The run record's bounds (src/run-record.ts RUN_RECORD_LIMITS).
#define NS_RUN_MAX_BYTES 65536u
#define NS_RUN_MAX_STRINGS 4096u
// The awaitRun replies' `code` (ns_msg): the member goes away without a run. Failures carry an
// errno and, as `value`, what failed: reading the record, the chdir, or the execve.
#define NS_RUN_UNUSED 0
#define NS_RUN_RECORD 1
#define NS_RUN_CHDIR 2
#define NS_RUN_EXECVE 3
// Exit status of a member that went away unused (idle timeout, or the pool's end closed).
#define NS_RUN_IDLE_EXIT 0
