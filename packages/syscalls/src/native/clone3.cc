// clone3(2) with CLONE_INTO_CGROUP (see clone3.h). glibc has no clone3 wrapper that takes a
// function (its __clone3 is internal), so the call is made here in assembly, as glibc's
// sysdeps/unix/sysv/linux/{x86_64,aarch64}/clone3.S do: with CLONE_VM the child shares our
// memory and starts on the new stack, so it must call `fn` at once from registers, without
// returning into a frame of ours (whose stack is the parent's), and end with SYS_exit.
#include "clone3.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

namespace {

// struct clone_args up to CLONE_ARGS_SIZE_VER2 (Linux 5.7, the `cgroup` field).
struct Clone3Args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};
static_assert(sizeof(Clone3Args) == 88, "CLONE_ARGS_SIZE_VER2");

}  // namespace

// long ns_clone3_raw(Clone3Args* args, size_t size, int (*fn)(void*), void* arg):
// the new pid in the parent, -errno on failure; the child never returns from it.
extern "C" long ns_clone3_raw(Clone3Args* args, size_t size, int (*fn)(void*), void* arg);

#if defined(__x86_64__)
// rdi args, rsi size, rdx fn, rcx arg. `syscall` clobbers rcx and r11 only: fn stays in rdx,
// arg is kept in r8. The child (rax 0) clears the frame pointer, aligns its stack, calls fn.
asm(R"(
  .text
  .p2align 4
  .globl ns_clone3_raw
  .hidden ns_clone3_raw
  .type ns_clone3_raw, @function
ns_clone3_raw:
  .cfi_startproc
  mov %rcx, %r8
  mov $435, %eax
  .cfi_endproc
  syscall
  test %rax, %rax
  jz 1f
  ret
1:
  .cfi_startproc
  .cfi_undefined rip
  xor %ebp, %ebp
  and $-16, %rsp
  mov %r8, %rdi
  call *%rdx
  mov %eax, %edi
  mov $60, %eax
  syscall
  hlt
  .cfi_endproc
  .size ns_clone3_raw, .-ns_clone3_raw
)");
#define NS_HAVE_CLONE3_ASM 1
#elif defined(__aarch64__)
// x0 args, x1 size, x2 fn, x3 arg. `svc` preserves every register but x0: fn and arg are
// kept in x11 and x12. The kernel gives the child a 16-byte aligned sp (stack + stack_size).
asm(R"(
  .text
  .p2align 2
  .globl ns_clone3_raw
  .hidden ns_clone3_raw
  .type ns_clone3_raw, %function
ns_clone3_raw:
  .cfi_startproc
  mov x11, x2
  mov x12, x3
  mov x8, #435
  .cfi_endproc
  svc #0
  cbz x0, 1f
  ret
1:
  .cfi_startproc
  .cfi_undefined x30
  mov x29, #0
  mov x30, #0
  mov x0, x12
  blr x11
  mov x8, #93
  svc #0
  brk #0
  .cfi_endproc
  .size ns_clone3_raw, .-ns_clone3_raw
)");
#define NS_HAVE_CLONE3_ASM 1
#endif

namespace ns {

pid_t Clone3IntoCgroup(int (*fn)(void*), void* arg, void* stack, size_t stackSize, uint64_t flags, int cgroupfd, int* pidfd) {
#ifdef NS_HAVE_CLONE3_ASM
  if (cgroupfd < 0 || !stack || stackSize == 0) return -EINVAL;
  Clone3Args a;
  memset(&a, 0, sizeof a);
  a.flags = (flags & ~(uint64_t)CSIGNAL) | CLONE_INTO_CGROUP;
  a.exit_signal = flags & CSIGNAL;
  a.pidfd = (uint64_t)(uintptr_t)pidfd;
  a.stack = (uint64_t)(uintptr_t)stack;
  a.stack_size = stackSize;
  a.cgroup = (uint64_t)cgroupfd;
  return (pid_t)ns_clone3_raw(&a, sizeof a, fn, arg);
#else
  (void)fn, (void)arg, (void)stack, (void)stackSize, (void)flags, (void)cgroupfd, (void)pidfd;
  return -ENOSYS;
#endif
}

}  // namespace ns
