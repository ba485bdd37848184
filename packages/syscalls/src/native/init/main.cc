// ns-init's entry point: find the plan the parent left in a memfd, decode it into memory of
// its own, and run it (run.cc). See init.h for why this program exists.
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "init.h"

// The few functions a compiler may call on its own in freestanding code.
extern "C" {
void* memset(void* d, int c, size_t n) {
  volatile unsigned char* p = (unsigned char*)d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void* memcpy(void* d, const void* s, size_t n) {
  volatile unsigned char* p = (unsigned char*)d;
  const unsigned char* q = (const unsigned char*)s;
  while (n--) *p++ = *q++;
  return d;
}
void* memmove(void* d, const void* s, size_t n) {
  unsigned char* p = (unsigned char*)d;
  const unsigned char* q = (const unsigned char*)s;
  if (p < q) return memcpy(d, s, n);
  while (n--) p[n] = q[n];
  return d;
}
int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char* p = (const unsigned char*)a;
  const unsigned char* q = (const unsigned char*)b;
  for (; n; n--, p++, q++)
    if (*p != *q) return *p - *q;
  return 0;
}
}

namespace {

const char kUsage[] =
    "ns-init: this is the set-up helper of @ns containers, started only by @ns/syscalls with a plan;"
    " it does nothing when run any other way\n";

__attribute__((noreturn)) void usage() {
  NS_RAW3(SYS_write, 2, kUsage, sizeof kUsage - 1);
  ns_quit(127);
}

// A descriptor number written in decimal, or -1.
long parse_fd(const char* s) {
  long v = 0;
  if (!s || !*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 1000000) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

long page_round(uint64_t n) { return (long)((n + 4095) & ~(uint64_t)4095); }

// Tell the parent why the plan could not even start, and stop.
__attribute__((noreturn)) void fail_early(int errfd, int32_t step, long err) {
  ns_child_ctx c = {};
  c.errfd = errfd;
  ns_send(&c, step, (int32_t)err);
  ns_quit(1);
}

}  // namespace

extern "C" __attribute__((noreturn, used)) void ns_init_start(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  // Nobody may read this process's memory or open its exe through /proc before it execs
  // the container's program (a new user namespace makes it dumpable again only while the
  // parent writes the id maps, where nobody else can be yet).
  NS_RAW5(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
  NS_RAW5(SYS_prctl, PR_SET_NAME, (long)"ns-init", 0, 0, 0);
  if (argc != 2) usage();
  long planfd = parse_fd(argv[1]);
  if (planfd < 0) usage();

  ns_launch launch;
  if (NS_RAW4(SYS_pread64, planfd, &launch, sizeof launch, 0) != (long)sizeof launch || launch.magic != NS_LAUNCH_MAGIC)
    usage();
  int errfd = launch.errfd;
  if (launch.version != NS_PLAN_VERSION) fail_early(errfd, NS_STEP_PREAMBLE, EPROTO);
  uint64_t total = (uint64_t)launch.plan_offset + launch.plan_bytes;
  // Shared: the parent reads `execing` from its own descriptor of this memfd.
  long map = NS_RAW6(SYS_mmap, 0, page_round(total), PROT_READ | PROT_WRITE, MAP_SHARED, planfd, 0);
  if (map < 0 && map > -4096) fail_early(errfd, NS_STEP_PREAMBLE, -map);
  const uint8_t* bytes = (const uint8_t*)map + launch.plan_offset;

  uint32_t nsteps = 0;
  uint64_t nslots = 0;
  int32_t at;
  if (ns_plan_measure(bytes, launch.plan_bytes, &nsteps, &nslots, &at)) fail_early(errfd, NS_STEP_PREAMBLE, EPROTO);
  uint64_t need = (uint64_t)nsteps * sizeof(ns_step) + nslots * sizeof(const char*) + 16;
  long mem = NS_RAW6(SYS_mmap, 0, page_round(need), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem < 0 && mem > -4096) fail_early(errfd, NS_STEP_PREAMBLE, -mem);
  ns_step* steps = (ns_step*)mem;
  const char** slots = (const char**)(steps + nsteps);
  ns_plan plan;
  if (ns_plan_decode(bytes, launch.plan_bytes, steps, slots, nslots, &plan, &at)) fail_early(errfd, NS_STEP_PREAMBLE, EPROTO);
  if (launch.resume > plan.nsteps) fail_early(errfd, NS_STEP_PREAMBLE, EPROTO);

  ns_child_ctx c = {};
  c.steps = plan.steps;
  c.nsteps = plan.nsteps;
  c.errfd = errfd;
  c.syncfd = launch.syncfd;
  c.parentfd = launch.parentfd;
  c.planfd = (int)planfd;
  c.initfd = launch.initfd;
  c.pdeathsig = (int)plan.pdeathsig;
  c.proc = nullptr;
  c.shared = (ns_launch*)map;
  // The control descriptors were inherited across execve on purpose: from here on they
  // must not reach the container's program.
  const int control[5] = {c.errfd, c.syncfd, c.parentfd, c.planfd, c.initfd};
  for (int k = 0; k < 5; k++) ns_cloexec(control[k], true);
  ns_watch_parent(&c);
  ns_run_from(&c, launch.resume);
}

// The process starts here, with argc at the top of the stack, argv and envp above it.
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start,@function\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call ns_init_start\n"
    "  hlt\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start,%function\n"
    "_start:\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  mov x0, sp\n"
    "  and sp, x0, #-16\n"
    "  bl ns_init_start\n");
#endif
