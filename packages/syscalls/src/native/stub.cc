// What the clone of Node runs: it shares Node's memory (CLONE_VM) and runs beside Node's
// threads, so it makes raw system calls only, and as few as it can: defaults for every signal, the parent-death signal, then execveat(2) of ns-init
// with only the descriptors the plan needs. Everything else runs in ns-init, whose exe is a
// sealed memfd and whose memory is its own.
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <poll.h>
#include <signal.h>

#include "addon.h"
#include "plan.h"
#include "raw.h"
#include "sysnums.h"


namespace {

struct k_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

__attribute__((noreturn)) void stub_fail(const ns_stub_ctx* c, long err) {
  ns_msg m;
  m.step = NS_STEP_INIT;
  m.code = (int32_t)-err;
  m.value = 0;
  NS_RAW3(SYS_write, c->errfd, &m, sizeof m);
  for (;;) NS_RAW1(SYS_exit_group, 1);
}

}  // namespace

extern "C" int ns_stub_main(void* arg) {
  const ns_stub_ctx* c = (const ns_stub_ctx*)arg;

  // Node's handlers must never run here: default every disposition (ignored ones too,
  // which would survive execve), then unmask everything the parent blocked around clone.
  k_sigaction dfl;
  dfl.handler = SIG_DFL;
  dfl.flags = 0;
  dfl.restorer = 0;
  dfl.mask = 0;
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    NS_RAW4(SYS_rt_sigaction, sig, &dfl, 0, 8);
  }
  uint64_t none = 0;
  NS_RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);

  // Die with the thread that spawned us (kept across execve); stop if the parent is gone.
  if (c->pdeathsig) {
    long r = NS_RAW2(SYS_prctl, PR_SET_PDEATHSIG, c->pdeathsig);
    if (r < 0) stub_fail(c, r);
  }
  if (c->parentfd >= 0) {
    struct pollfd p;
    p.fd = c->parentfd;
    p.events = POLLIN;
    p.revents = 0;
    struct {
      long sec;
      long nsec;
    } now = {0, 0};
    if (NS_RAW5(SYS_ppoll, &p, 1, &now, 0, 8) > 0) for (;;) NS_RAW1(SYS_exit_group, 1);
  }

  // Only what the plan names crosses the exec (this is a copy of Node's descriptor table).
  NS_RAW3(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (uint32_t k = 0; k < c->nkeep; k++) NS_RAW3(SYS_fcntl, c->keep[k], F_SETFD, 0);

  long r = NS_RAW5(SYS_execveat, c->initfd, "", c->argv, c->envp, AT_EMPTY_PATH);
  stub_fail(c, r);
}
