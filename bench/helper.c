// A static program with no C library that execs its argv[1..] at once: the floor's stand-in
// for ns-init (`floor --helper PATH`), so that the floor can pay the one extra exec of a
// sealed helper that @ns pays to keep the host's node out of containers (docs/security.md).
#include "../packages/syscalls/src/native/raw.h"

__attribute__((noreturn, used)) void helper_start(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  if (argc > 1) NS_RAW3(SYS_execve, argv[1], argv + 1, envp);
  for (;;) NS_RAW1(SYS_exit_group, 127);
}

#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n call helper_start\n hlt\n");
#elif defined(__aarch64__)
__asm__(".text\n.global _start\n_start:\n mov x29, #0\n mov x30, #0\n mov x0, sp\n and sp, x0, #-16\n bl helper_start\n");
#endif
