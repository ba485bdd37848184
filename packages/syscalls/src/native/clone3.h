// clone3(2) with CLONE_INTO_CGROUP for the spawn engine (start.cc): the child is born in the
// container's cgroup (cgroup v2, Linux >= 5.7), so no process is ever migrated there by a
// write to cgroup.procs (which takes the kernel's cgroup_threadgroup_rwsem for writing: an RCU
// grace period on kernels without favordynmods).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace ns {

// Clone as clone(fn, stack + stackSize, flags, arg, pidfd) does (glibc's wrapper, which
// start.cc uses otherwise): `flags` are clone(2)'s, the exit signal in their low byte; with
// CLONE_PIDFD the pidfd is stored in *pidfd. The child runs fn(arg) on the new stack, with
// CLONE_VM in the caller's memory, and exits with its return value (SYS_exit); it starts in
// the cgroup2 directory `cgroupfd` (an O_PATH or O_DIRECTORY descriptor of it).
// Returns the child's pid, or -errno: -ENOSYS (no clone3), -E2BIG / -EINVAL (a kernel without
// CLONE_INTO_CGROUP), -EBADF (not a cgroup2 directory), -EBUSY / -EOPNOTSUPP (a cgroup that may
// not hold processes), -EACCES ... The caller falls back to clone(2) and a write to
// cgroup.procs, which reports what the kernel refuses there, naming the file.
// x86_64 and aarch64 only; elsewhere it returns -ENOSYS.
pid_t Clone3IntoCgroup(int (*fn)(void*), void* arg, void* stack, size_t stackSize, uint64_t flags, int cgroupfd, int* pidfd);

}  // namespace ns
