// The decoded plan shared by the parent (which decodes it) and the child (which runs it).
// The wire format is written by src/encode.ts; keep the two in step.
#pragma once
#include <stdint.h>
#include <sys/types.h>

enum ns_op : uint32_t {
  NS_OP_MOUNT = 1,
  NS_OP_UMOUNT2,
  NS_OP_MKDIR,
  NS_OP_TOUCH,
  NS_OP_MKNOD,
  NS_OP_SYMLINK,
  NS_OP_CHMOD,
  NS_OP_PIVOT_ROOT,
  NS_OP_PIVOT_ROOT_KEEP,
  NS_OP_CHDIR,
  NS_OP_SETHOSTNAME,
  NS_OP_SETNS,
  NS_OP_UNSHARE,
  NS_OP_WRITE_FILE,
  NS_OP_PRCTL,
  NS_OP_CAPBSET_DROP,
  NS_OP_CAPSET,
  NS_OP_AMBIENT_RAISE,
  NS_OP_SETGROUPS,
  NS_OP_SETRESGID,
  NS_OP_SETRESUID,
  NS_OP_SETRLIMIT,
  NS_OP_UMASK,
  NS_OP_SETSID,
  NS_OP_IOCTL,
  NS_OP_STDIO,
  NS_OP_CLOSE_FROM,
  NS_OP_EXECVE,
  NS_OP_SYNC,
  NS_OP_CLONE_PARENT,
  NS_OP_PROC_ROOT,
  NS_OP_WAIT_FIFO,
  NS_OP_DETACH,
  NS_OP_EXEC_CHECK,
  NS_OP_MAX
};

#define NS_PLAN_MAGIC 0x4c50534eu  // "NSPL"
#define NS_PLAN_VERSION 2u
#define NS_PLAN_HEADER_BYTES 40u
#define NS_STEP_BYTES 88u
#define NS_NONE 0xffffffffu
#define NS_STEP_IGNORE_MISSING 1u
#define NS_STEP_PRESERVE_FLAGS 2u
#define NS_STEP_NOFOLLOW 4u

// One decoded step: integers, strings and vectors as the child uses them.
struct ns_step {
  uint32_t op;
  uint32_t flags;  // NS_STEP_*
  int64_t i[6];
  const char* s[4];
  // String vectors are NULL-terminated arrays; integer vectors point at uint32 values.
  const char* const* v[3];
  const uint32_t* iv;
  uint32_t vlen[3];
};

// Messages on the error pipe: {step index, code}. code > 0 is an errno; 0 asks the
// parent to act at a sync step. (That execve is about to be called is not a message: the
// child sets ns_child_ctx.execing in the memory it shares with the parent, sparing the
// parent a wake-up; -1 is kept unused.)
struct ns_msg {
  int32_t step;
  int32_t code;
  int32_t value;
};
#define NS_MSG_SYNC 0
// A cloneParent step made the process that runs the rest of the plan; value is its pid.
#define NS_MSG_CHILD (-2)
// A detach step: spawn() returns now; the child sends nothing more.
#define NS_MSG_DETACH (-3)
// Step index used when the child fails before its first step.
#define NS_STEP_PREAMBLE (-1)

struct ns_child_ctx {
  const ns_step* steps;
  uint32_t nsteps;
  int errfd;      // child -> parent messages (close-on-exec)
  int syncfd;     // parent -> child go-ahead bytes (close-on-exec)
  int parentfd;   // pidfd of the parent process, to detect its death before PDEATHSIG
  int pdeathsig;  // PR_SET_PDEATHSIG signal, 0 for none (detached containers)
  void* stack2;   // top of the stack for the process a cloneParent step makes
  uint32_t resume;  // first step the cloneParent process runs
  const char* proc;  // where procfs is mounted now (a procRoot step), for /proc/self/fd paths
  // Set by the child (shared memory) right before execve: at end of file on the error pipe,
  // 1 with no failure reported means the process exec'd.
  int execing;
};

extern "C" int ns_child_main(void* arg);
