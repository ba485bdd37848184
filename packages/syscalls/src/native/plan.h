// The plan's wire format (written by src/encode.ts; keep the two in step), its decoded form,
// and the messages between the parent and the set-up process. Shared by the addon and by
// ns-init, the static helper that runs the plan (see init/main.cc): nothing here may need
// a C library.
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
  NS_OP_REEXEC,
  NS_OP_CHOWN,
  NS_OP_CHROOT,
  NS_OP_SETDOMAINNAME,
  NS_OP_FCHOWN,
  NS_OP_SECCOMP = 40,  // src/encode.ts OP_CODES.seccomp
  NS_OP_LINK_UP = 45,  // src/encode.ts OP_CODES.linkUp
  NS_OP_INIT = 50,     // src/encode.ts OP_CODES.init
  NS_OP_SECCOMP_NOTIFY = 60,  // src/encode.ts OP_CODES.seccompNotify
  NS_OP_HOOK = 70,     // src/encode.ts OP_CODES.hook (an OCI hook run in the container, init/hook.cc)
  NS_OP_AWAIT_RUN = 80,  // src/encode.ts OP_CODES.awaitRun (init/pool.cc; ops 80-89: the pool)
  NS_OP_IOPRIO_SET = 90,     // src/encode.ts OP_CODES.ioprioSet (ops 90-99: process attributes)
  NS_OP_SCHED_SETATTR = 91,  // src/encode.ts OP_CODES.schedSetattr (init/proc.cc)
  NS_OP_PERSONALITY = 92,    // src/encode.ts OP_CODES.personality
  NS_OP_JOIN_SESSION_KEYRING = 110,  // src/encode.ts OP_CODES.joinSessionKeyring (ops 110-119: runc CLI parity)
  NS_OP_MOVE_ROOT = 111,     // src/encode.ts OP_CODES.moveRoot (init/fs.cc)
  NS_OP_DETACH_MOUNT = 112,  // src/encode.ts OP_CODES.detachMount
  NS_OP_OPEN_CONSOLE = 140,  // src/encode.ts OP_CODES.openConsole (init/console.cc; ops 140-149: the console)
  NS_OP_IDMAP_OPEN = 150,    // src/encode.ts OP_CODES.idmapOpen (init/idmap.cc; ops 150-159: id-mapped mounts)
  NS_OP_IDMAP_MOVE = 151,    // src/encode.ts OP_CODES.idmapMove
  NS_OP_MAX
};

#define NS_PLAN_MAGIC 0x4c50534eu  // "NSPL"
#define NS_PLAN_VERSION 3u
#define NS_PLAN_HEADER_BYTES 40u
#define NS_STEP_BYTES 88u
#define NS_NONE 0xffffffffu
#define NS_STEP_IGNORE_MISSING 1u
#define NS_STEP_PRESERVE_FLAGS 2u
#define NS_STEP_NOFOLLOW 4u
#define NS_STEP_IGNORE_INVALID 8u

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

// Messages on the error pipe: {step index, code, value}. code > 0 is an errno (with `value`
// saying more for some steps: a hook step's exit status); 0 asks the parent to act at a sync
// step (value: a descriptor number of the child's for the parent to take with pidfd_getfd, at
// a seccompNotify step; else 0), except a sync step with i[0] = 1, whose go-ahead the parent
// wrote before the child got there (spawn()'s answered early sync): the child only reads it;
// the negative codes below say what happened. (That the final
// execve is about to be called is not a message: ns-init sets ns_launch.execing in the memfd
// it shares with the parent, sparing the parent a wake-up.)
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
// Step index used when the clone of Node could not exec ns-init.
#define NS_STEP_INIT (-2)
// Step index reported when the set-up did not finish before the parent's deadline.
#define NS_STEP_TIMEOUT (-3)

// What the parent hands to ns-init, at the start of the plan's memfd (argv[1] of ns-init
// is that descriptor's number). The plan follows at `plan_offset`. Descriptor numbers are
// the parent's: the clone's table is a copy of it. ns-init maps the memfd shared, and the
// parent keeps its own descriptor of it, to read `execing` once the error pipe is at EOF.
#define NS_LAUNCH_MAGIC 0x494e534eu  // "NSNI"
struct ns_launch {
  uint32_t magic;
  uint32_t version;     // NS_PLAN_VERSION
  int32_t errfd;        // child -> parent messages
  int32_t syncfd;       // parent -> child go-ahead bytes
  int32_t parentfd;     // pidfd of the parent process, to notice its death; -1 for none
  int32_t initfd;       // the sealed memfd of ns-init itself (for a reexec step)
  uint32_t plan_offset;
  uint32_t plan_bytes;
  uint32_t resume;      // the step to start at (set by a reexec step; 0 at first)
  uint32_t execing;     // set by ns-init right before the final execve
  // An init step (init/reaper.cc): the wait status of the process it forked, set once that
  // process is reaped (`exited` becomes 1 after `wstatus` is written), read by the parent once
  // the init has exited: how the program ended, which the init's own exit status (128 + N for
  // a signal, as tini's) cannot say exactly.
  uint32_t exited;
  int32_t wstatus;
  // With `exited`: the largest resident set, KiB, of the processes the init reaped and their
  // reaped descendants (getrusage(RUSAGE_CHILDREN) ru_maxrss). The init's own rusage would not
  // do: its clone shared Node's memory until the exec of ns-init, whose high-water mark the
  // kernel keeps across the exec.
  uint32_t maxrss_kib;
  int32_t pid;          // set by the parent at each sync step: the waiting process's pid in the
                        // parent's pid namespace (what a hook step writes into the state JSON)
};

// A decoded plan. The steps' strings and vectors point into the encoded bytes and into
// `slots` (one array of string pointers for every string vector, NULL-terminated).
struct ns_plan {
  uint32_t clone_flags;
  uint32_t pdeathsig;
  uint32_t nsteps;
  ns_step* steps;
};

// Check an encoded plan and count what decoding it needs: `nsteps` steps and `nslots`
// string-pointer slots. Returns null, or a static description of the first problem
// (`*at` is then the step it was found in, or -1).
extern "C" const char* ns_plan_measure(const uint8_t* b, uint64_t len, uint32_t* nsteps, uint64_t* nslots, int32_t* at);

// Decode a plan that ns_plan_measure accepted into caller-provided memory (steps: nsteps
// entries, slots: nslots entries). Allocates nothing; returns as ns_plan_measure.
extern "C" const char* ns_plan_decode(const uint8_t* b, uint64_t len, ns_step* steps, const char** slots, uint64_t nslots,
                                      ns_plan* out, int32_t* at);
