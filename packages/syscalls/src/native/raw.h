// Raw Linux system calls, for code that may not use the C library: the clone of Node that
// spawn() makes (it shares Node's memory and thread-local storage, so it must not touch
// errno or any glibc state) and ns-init (linked with no C library at all). Every call is an
// inline `syscall` / `svc` that returns -errno on failure, exactly as the kernel does.
#pragma once
#include <stdint.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
static inline long ns_raw6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
static inline long ns_raw6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
#error "@ns/syscalls supports x86_64 and aarch64 only"
#endif

#define NS_RAW0(n) ns_raw6((n), 0, 0, 0, 0, 0, 0)
#define NS_RAW1(n, a) ns_raw6((n), (long)(a), 0, 0, 0, 0, 0)
#define NS_RAW2(n, a, b) ns_raw6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define NS_RAW3(n, a, b, c) ns_raw6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define NS_RAW4(n, a, b, c, d) ns_raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define NS_RAW5(n, a, b, c, d, e) \
  ns_raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define NS_RAW6(n, a, b, c, d, e, f) \
  ns_raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
