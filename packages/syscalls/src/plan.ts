import type { AwaitRunStep } from './plan-pool.js';

export type { AwaitRunStep } from './plan-pool.js';

/**
 * The plan: an ordered list of system-call steps that the native child walks after clone(2).
 *
 * Every decision is made in TypeScript before the fork; the child only makes the calls, in
 * order, and stops at the first one that fails, reporting `{step index, errno}` over a
 * close-on-exec pipe. Steps are plain data, so plans can be unit-tested without root and
 * printed by `ns run --dry-run`.
 *
 * Paths are absolute paths as the child sees them at that point of the plan (before or after
 * `pivotRoot`). Numbers are the kernel's values (flags from <sys/mount.h>, <sched.h> ...).
 */

import type { SyncStep, CloneParentStep, ProcRootStep, WaitFifoStep, DetachStep, ExecCheckStep, ReexecStep, SeccompStep, SeccompNotifyStep, InitStep, HookStep, OpenConsoleStep } from './plan-control.js';
export type { SyncStep, CloneParentStep, ProcRootStep, WaitFifoStep, DetachStep, ExecCheckStep, ReexecStep, SeccompStep, SeccompNotifyStep, InitStep, HookStep, OpenConsoleStep } from './plan-control.js';

/** Options every step may carry. */
export interface StepCommon {
  /**
   * Treat ENOENT from this step as success (a masked path the kernel does not have, as
   * runc ignores them).
   */
  ignoreMissing?: boolean;
  /**
   * For a remount (MS_REMOUNT): add the flags the mount already has (statfs(2) f_flags:
   * ro, nosuid, nodev, noexec, the atime mode, nosymfollow), as runc does. Inside a user
   * namespace the kernel refuses a remount that would clear a flag locked by the mount's
   * origin.
   */
  preserveFlags?: boolean;
  /**
   * For mount (its target), mkdir, mknod, symlink and touch: follow no symlink on the way
   * (openat2 RESOLVE_NO_SYMLINKS) and act on the directory opened, mounting through
   * `<procRoot>/self/fd/N`. The planner resolves paths inside the rootfs first; a symlink
   * met now was planted to lead the step elsewhere, and the step fails with ELOOP instead.
   */
  nofollow?: boolean;
  /** Treat EINVAL as success: a propagation change on a path that may not be a mount point. */
  ignoreInvalid?: boolean;
  /**
   * The config field this step carries out (`mounts[3]`), named in its error: `mount tmpfs
   * on /x (mounts[3]): EINVAL`. Not sent to the child.
   */
  field?: string;
}

export type { MountStep, Umount2Step, MkdirStep, TouchStep, MknodStep, SymlinkStep, ChownStep, FchownStep, ChrootStep, ChmodStep, PivotRootStep, PivotRootKeepStep, MoveRootStep, DetachMountStep, ChdirStep, IdmapOpenStep, IdmapMoveStep } from './plan-fs.js';
import type { MountStep, Umount2Step, MkdirStep, TouchStep, MknodStep, SymlinkStep, ChownStep, FchownStep, ChrootStep, ChmodStep, PivotRootStep, PivotRootKeepStep, MoveRootStep, DetachMountStep, ChdirStep, IdmapOpenStep, IdmapMoveStep } from './plan-fs.js';

/** sethostname(2). Only valid in a new UTS namespace (the planner enforces it). */
export interface SethostnameStep extends StepCommon {
  op: 'sethostname';
  hostname: string;
}

/** setdomainname(2). Only valid in a new UTS namespace (the planner enforces it). */
export interface SetdomainnameStep extends StepCommon {
  op: 'setdomainname';
  domainname: string;
}

/**
 * Bring the network interface `name` up (ioctl SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP on a
 * datagram socket; netdevice(7)): `lo` in a new network namespace, which the kernel makes down,
 * as runc brings it up. Needs CAP_NET_ADMIN in the namespace's user namespace.
 */
export interface LinkUpStep extends StepCommon {
  op: 'linkUp';
  name: string;
}

/**
 * setns(2) with `nstype` (a CLONE_NEW* flag, or 0 for any) on `fd` (a descriptor the parent
 * opened, e.g. /proc/PID/ns/net checked against the pid's start time), or else on `path`
 * opened with O_RDONLY.
 */
export interface SetnsStep extends StepCommon {
  op: 'setns';
  path?: string;
  fd?: number;
  nstype: number;
}

/** unshare(2) with CLONE_* flags. */
export interface UnshareStep extends StepCommon {
  op: 'unshare';
  flags: number;
}

/** open(path, O_WRONLY|O_TRUNC) + write(data) + close: for /proc and /sys knobs. */
export interface WriteFileStep extends StepCommon {
  op: 'writeFile';
  path: string;
  data: string;
}

/** prctl(2) with up to four integer arguments. */
export interface PrctlStep extends StepCommon {
  op: 'prctl';
  option: number;
  arg2: number;
  arg3: number;
  arg4: number;
  arg5: number;
}

/**
 * prctl(PR_CAPBSET_DROP, cap) for every capability number whose bit is set in `mask`,
 * 0..63; EINVAL (a number the kernel does not know) is ignored, so a mask of "everything
 * not kept" also drops capabilities a newer kernel adds. capabilities(7).
 */
export interface CapbsetDropStep extends StepCommon {
  op: 'capbsetDrop';
  mask: bigint;
}

/** capset(2) with _LINUX_CAPABILITY_VERSION_3; masks are 64-bit capability bit sets. */
export interface CapsetStep extends StepCommon {
  op: 'capset';
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap) for every bit of `mask`. */
export interface AmbientRaiseStep extends StepCommon {
  op: 'ambientRaise';
  mask: bigint;
}

/** setgroups(2) (raw system call: applies to this process only). */
export interface SetgroupsStep extends StepCommon {
  op: 'setgroups';
  gids: number[];
}

/** setresgid(2) (raw system call). */
export interface SetresgidStep extends StepCommon {
  op: 'setresgid';
  rgid: number;
  egid: number;
  sgid: number;
}

/** setresuid(2) (raw system call). */
export interface SetresuidStep extends StepCommon {
  op: 'setresuid';
  ruid: number;
  euid: number;
  suid: number;
}

/** prlimit64(0, resource, {soft, hard}). `-1` means RLIM_INFINITY. */
export interface SetrlimitStep extends StepCommon {
  op: 'setrlimit';
  resource: number;
  soft: number;
  hard: number;
}

/** umask(2). */
export interface UmaskStep extends StepCommon {
  op: 'umask';
  mask: number;
}

/** setsid(2). */
export interface SetsidStep extends StepCommon {
  op: 'setsid';
}

/** ioctl(2) with an integer argument, e.g. ioctl(0, TIOCSCTTY, 0). */
export interface IoctlStep extends StepCommon {
  op: 'ioctl';
  fd: number;
  request: number;
  arg: number;
}

/**
 * Arrange descriptors 0..fds.length-1: descriptor `i` of the child becomes a copy of the
 * parent's descriptor `fds[i]` (close-on-exec cleared). Done in two phases, so a source may
 * be any of the targets. At most 64 descriptors; -1 closes one. Descriptors 0-2 are made
 * blocking (O_NONBLOCK cleared, as libuv does for spawned children).
 */
export interface StdioStep extends StepCommon {
  op: 'stdio';
  fds: number[];
}

/**
 * ioprio_set(2) `(which, who, ioprio)`: `ioprio` is `class << 13 | level` (IOPRIO_PRIO_VALUE,
 * linux/ioprio.h); which 1 (IOPRIO_WHO_PROCESS) with who 0 is the calling process.
 */
export interface IoprioSetStep extends StepCommon {
  op: 'ioprioSet';
  which: number;
  who: number;
  ioprio: number;
}

/**
 * sched_setattr(2) of the calling process (pid 0, flags 0) with a `struct sched_attr` of
 * SCHED_ATTR_SIZE_VER1 (56 bytes, utilization clamps 0): `policy` a SCHED_* number, `flags`
 * SCHED_FLAG_* bits, `nice` -20..19, `priority` the real-time priority, `runtime`, `deadline`,
 * `period` nanoseconds (SCHED_DEADLINE).
 */
export interface SchedSetattrStep extends StepCommon {
  op: 'schedSetattr';
  policy: number;
  flags: number;
  nice: number;
  priority: number;
  runtime: number | bigint;
  deadline: number | bigint;
  period: number | bigint;
}

/** personality(2) `(persona)`: the execution domain (PER_LINUX 0, PER_LINUX32 8) and its flags. */
export interface PersonalityStep extends StepCommon {
  op: 'personality';
  persona: number;
}

/**
 * keyctl(2) KEYCTL_JOIN_SESSION_KEYRING `(name)`: the process joins the session keyring
 * called `name` in its user namespace when one exists and it may search it, else a new one
 * of that name is made (runc's `_ses.<container id>`, keyrings(7)). With `perm`, then the
 * keyring's permissions (KEYCTL_DESCRIBE) become `(perm & mask) | set` (KEYCTL_SETPERM):
 * runc's ModKeyringPerm. A kernel without keys (ENOSYS) is not an error, as in runc; any
 * other failure is (EACCES, EDQUOT of the key quota).
 */
export interface JoinSessionKeyringStep extends StepCommon {
  op: 'joinSessionKeyring';
  name: string;
  /** KEY_POS_* / KEY_USR_* / KEY_GRP_* / KEY_OTH_* bits (keyctl_setperm(3)). */
  perm?: { mask: number; set: number };
}

/**
 * Mark every descriptor from `first` upward close-on-exec: close_range(2) with
 * CLOSE_RANGE_CLOEXEC, or fcntl(2) one by one on kernels without it.
 */
export interface CloseFromStep extends StepCommon {
  op: 'closeFrom';
  first: number;
}

/**
 * execve(2) of each path in `paths` in turn, as execvp(3) does: ENOENT, ENOTDIR and EACCES
 * move on to the next candidate; the error reported is EACCES if any candidate gave it,
 * else the last one's. `argv[0]` is passed as given.
 */
export interface ExecveStep extends StepCommon {
  op: 'execve';
  paths: string[];
  argv: string[];
  envp: string[];
}

export type Step =
  | HookStep
  | AwaitRunStep
  | MountStep
  | Umount2Step
  | MkdirStep
  | TouchStep
  | MknodStep
  | SymlinkStep
  | ChmodStep
  | ChownStep
  | FchownStep
  | ChrootStep
  | PivotRootStep
  | PivotRootKeepStep
  | ChdirStep
  | SethostnameStep
  | SetdomainnameStep
  | LinkUpStep
  | SetnsStep
  | UnshareStep
  | WriteFileStep
  | PrctlStep
  | CapbsetDropStep
  | CapsetStep
  | AmbientRaiseStep
  | SetgroupsStep
  | SetresgidStep
  | SetresuidStep
  | SetrlimitStep
  | IoprioSetStep
  | SchedSetattrStep
  | PersonalityStep
  | JoinSessionKeyringStep
  | MoveRootStep
  | DetachMountStep
  | IdmapOpenStep
  | IdmapMoveStep
  | UmaskStep
  | SetsidStep
  | IoctlStep
  | StdioStep
  | CloseFromStep
  | ExecveStep
  | SyncStep
  | CloneParentStep
  | ProcRootStep
  | WaitFifoStep
  | DetachStep
  | ExecCheckStep
  | ReexecStep
  | SeccompStep
  | SeccompNotifyStep
  | OpenConsoleStep
  | InitStep;

export type StepOp = Step['op'];

/**
 * What the native child is cloned with and then runs. The clone of Node execs ns-init at
 * once (a small static program from a sealed memfd, with none of Node's memory or
 * environment), and ns-init runs the steps: so the descriptors a step names (`stdio`,
 * `setns`, `waitFifo`) cross that exec, and no others do.
 */
export interface Plan {
  /** CLONE_NEW* flags for clone(2) (see {@link CLONE}). */
  cloneFlags: number;
  /** The steps, in order. The last one is normally `execve`. */
  steps: Step[];
  /**
   * Signal the child gets when the thread that spawned it dies (PR_SET_PDEATHSIG); default
   * SIGKILL (9). 0 for none: a detached container outlives the `ns` process that started it.
   */
  parentDeathSignal?: number;
}
