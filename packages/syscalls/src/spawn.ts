import { encodePlan } from './encode.js';
import { describeStep } from './describe.js';
import { ErrorCode, NsError, errnoName } from './errors.js';
import { native, type NativeSpawnResult } from './native.js';
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import type { HookStep, OpenConsoleStep, Plan, SeccompNotifyStep, Step, SyncStep } from './plan.js';

/** How a child ended: exactly one of the two is a number. */
export interface ExitStatus {
  /** Exit status when the child exited normally, else null. */
  exitCode: number | null;
  /** Number of the signal that killed the child, else null. */
  signal: number | null;
}

export interface SpawnOptions {
  /**
   * Called synchronously at each `sync` step while the child waits (write uid_map, join a
   * cgroup ...), with the pid of the waiting process (after a `cloneParent` step: the new
   * one). Throwing kills and reaps the child, and spawn() throws the same error. Also at a
   * `seccompNotify` step, with `value` the number of the listener descriptor in the waiting
   * process (0 at a `sync` step). `intoCgroup`: the child was born in the cgroup of
   * `cgroupFd` (clone3 CLONE_INTO_CGROUP); false without `cgroupFd` or where the kernel
   * could not, and then a sync step must put it there.
   */
  onSync?: (step: SyncStep | SeccompNotifyStep | OpenConsoleStep, index: number, pid: number, value: number, intoCgroup: boolean) => void;
  /** Called once with the exit status, from the event loop. */
  onExit?: (status: ExitStatus) => void;
  /**
   * Milliseconds the set-up may take, from clone to execve (or to a `detach` step); default
   * {@link DEFAULT_SETUP_TIMEOUT}, 0 for none. Past it the child is killed and spawn() fails
   * with `ETIMEDOUT`: a process in a container must not be able to hang its caller by stopping
   * (SIGSTOP) the process that joins it. onSync's time counts.
   */
  setupTimeout?: number;
  /**
   * spawn() only: call onSync of a `sync` step right after clone(2), while the child is still
   * starting (exec of ns-init, the steps before it), instead of once the child waits there;
   * the child goes on past the step only after the call has returned, as always. The
   * parent's work there then overlaps the child's. `true`: the plan's first step; a number:
   * the index of the step, which no `cloneParent` step may precede (the pid passed is the
   * cloned child's). Ignored when that step is not a `sync` step. For a handler that needs
   * nothing of the child but its pid (making a cgroup). When no step before it waits for a
   * go-ahead (`sync`, `seccompNotify`, `openConsole`), the go-ahead is written as soon as the
   * call has returned and the child does not ask for it: no message, no wake-up of this
   * thread. spawnAsync() ignores it.
   */
  earlySync?: boolean | number;
  /**
   * spawn() only: a connected AF_UNIX stream socket whose peer is an ns front (`ns serve`'s
   * caller, packages/syscalls/front/clone.c) that clones the child instead of this process, so
   * that it is the front's child (a client's subreaper reaps it) while this process drives its
   * set-up as usual. The front answers with the child's pid and a pidfd; the child must be the
   * front's (checked), which reaps it: this process never gets its exit status (a child that
   * dies before execve without an error is `ERR_NS_CHILD_DIED` with an unknown status), so the
   * caller releases it once set up (Child.release()). Fails with `ETIMEDOUT` (no answer in
   * 10 s), `EPIPE` (the front went away) or `EPROTO` (a malformed answer, or a pid that is not
   * the front's child). Wire format: src/native/spawn_via.cc.
   */
  cloneVia?: number;
  /**
   * A cgroup v2 directory (an `O_PATH | O_DIRECTORY` descriptor, kept open by the caller until
   * spawn() returns or spawnAsync() has been called) to start the child in: clone3(2) with
   * CLONE_INTO_CGROUP (Linux >= 5.7), so the child is never migrated by a write to
   * cgroup.procs (which waits for an RCU grace period in the kernel's
   * cgroup_threadgroup_rwsem on kernels without favordynmods). Where clone3 or the flag is
   * missing or refused (ENOSYS, E2BIG, EINVAL, EBUSY, EBADF: not a cgroup2 directory ...) the
   * child is cloned as without it: onSync's `intoCgroup` says which.
   * @see clone(2) CLONE_INTO_CGROUP, cgroups(7)
   */
  cgroupFd?: number;
}

/** How long a set-up may take by default: 30 s (it takes milliseconds; see SpawnOptions.setupTimeout). */
export const DEFAULT_SETUP_TIMEOUT = 30_000;

/** Step index of a failure to exec ns-init (native NS_STEP_INIT). */
const STEP_INIT = -2;
/** Step index of a set-up that missed its deadline (native NS_STEP_TIMEOUT). */
const STEP_TIMEOUT = -3;

/** A running child: its pid, a pidfd-backed kill, and its exit. */
export interface Child {
  readonly pid: number;
  /** Resolves once the child has exited and been reaped. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  /** The exit status once known, else undefined. */
  readonly status: ExitStatus | undefined;
  /**
   * Once a child whose plan had an `init` step has exited: the largest resident set, in KiB, of
   * the processes the init reaped (the program, orphans) and of the descendants they reaped:
   * the init's getrusage(RUSAGE_CHILDREN) `ru_maxrss`, recorded with the program's status. In
   * a pid namespace of its own that is its largest process, as isolate's `max-rss`. Undefined
   * before the exit and without an init (the child's own rusage would count Node's memory: the
   * kernel keeps the high-water mark of the clone across its execs).
   */
  readonly maxRssKiB: number | undefined;
  /**
   * Send `signal` (a number) with pidfd_send_signal(2). Returns false if the child has
   * already exited (a reused pid is never signalled).
   */
  kill(signal: number): boolean;
  /** Let (or stop letting) the running child keep the event loop alive, as ChildProcess. */
  ref(): void;
  unref(): void;
  /**
   * Stop watching the child and close its pidfd without ever reaping it: `exited` then never
   * resolves and kill() returns false. Once this process exits, the child (or its zombie) is
   * inherited by the nearest subreaper (conmon, containerd's shim), which gets its exit status:
   * what `runc exec --detach` leaves. A child that already exited is not touched.
   */
  release(): void;
}

/**
 * The error for a failed plan step: `<step description>: <ERRNO>`, e.g.
 * `execve /bin/nope: ENOENT` or `mount proc on /proc: EPERM`; for a `hook` step an
 * `ERR_NS_HOOK` error worded from `value` (its exit status, see HookStep).
 */
export function stepError(step: Step | undefined, index: number, errno: number, timeout?: number, value = 0): NsError {
  const code = errnoName(errno);
  if (step?.op === 'hook') return hookError(step, index, code, errno, value);
  if (step?.op === 'execCheck' && step.field?.startsWith('hooks.')) {
    // A hook's path checked before anything runs (plan/hooks.ts in @ns/namespaces).
    const path = step.displayPath ?? step.paths[0]!;
    return new NsError(ErrorCode.HOOK, `${step.field} (${path}): cannot be run: ${code}`, { errno: -errno, syscall: 'hook', step: index, path });
  }
  if (step?.op === 'idmapOpen') {
    // mount_setattr(2): EINVAL for a file system without FS_ALLOW_IDMAP (sysfs, procfs ...).
    const why = code === 'EINVAL' ? 'its file system does not support id-mapped mounts (mount_setattr MOUNT_ATTR_IDMAP: EINVAL)' : `${describeStep(step)}: ${code}`;
    return new NsError(code, `${step.field ?? 'mount'}: ${step.source}: ${why}`, { errno: -errno, syscall: 'mount_setattr', step: index, path: step.source });
  }
  if (index === STEP_TIMEOUT) {
    return new NsError(code, `container set-up did not finish within ${timeout ?? DEFAULT_SETUP_TIMEOUT} ms and was killed (a process that stops it, or a slow sync step?)`, {
      errno: -errno,
      syscall: 'spawn',
    });
  }
  if (index === STEP_INIT) {
    return new NsError(code, `execveat ns-init (the set-up helper, from its sealed memfd): ${code}`, { errno: -errno, syscall: 'execveat', step: index });
  }
  const what = step ? `${describeStep(step)}${step.field !== undefined ? ` (${step.field})` : ''}` : 'child set-up';
  const path =
    step && 'path' in step ? step.path : step && 'target' in step ? step.target : step?.op === 'execve' || step?.op === 'execCheck' ? step.paths[0] : undefined;
  // The errno's text after its name, as runc words it (`operation not permitted`, `no such
  // file or directory`): podman maps a runtime's error to exit status 126 / 127 by these words
  // (libpod/oci_util.go getOCIRuntimeError). An execve keeps `CODE` alone: callers word it.
  const text = step?.op === 'execve' || step?.op === 'execCheck' ? '' : errnoText(errno);
  return new NsError(code, `${what}: ${code}${text === '' ? '' : ` (${text})`}`, {
    errno: -errno,
    // execCheck reports for the execve it stands in for (exit status 126/127 alike).
    syscall: step?.op === 'execCheck' ? 'execve' : (step?.op ?? 'clone'),
    step: index,
    ...(path === undefined ? {} : { path }),
  });
}

/** strerror(3)'s text of a positive errno as libuv words it (`operation not permitted`), or ''. */
function errnoText(errno: number): string {
  return getSystemErrorMap().get(-Math.abs(errno))?.[1] ?? '';
}

/** Exit status 0x100 | n of a hook step: killed by signal n (see HookStep). */
const HOOK_SIGNALED = 0x100;

/**
 * The error of a failed `hook` step, as the hooks run by the parent word it (code
 * `ERR_NS_HOOK`, naming the step's `field`, `hooks.createContainer[0]`, and the hook's path):
 * `exited with status 3`, `was killed by SIGSEGV`, `did not finish within its timeout of 2 s
 * and was killed`, `cannot be run: ENOENT`.
 */
function hookError(step: HookStep, index: number, code: string, errno: number, value: number): NsError {
  const what = `${step.field ?? 'hook'} (${step.path})`;
  let why: string;
  if (code === 'ETIMEDOUT') why = `did not finish within its timeout of ${step.timeout / 1000} s and was killed`;
  else if (code === 'ECANCELED' && value & HOOK_SIGNALED) why = `was killed by ${signalName(value & 0xff)}`;
  else if (code === 'ECANCELED') why = `exited with status ${value}`;
  else why = `cannot be run: ${code}`;
  return new NsError(ErrorCode.HOOK, `${what}: ${why}`, { errno: -errno, syscall: 'hook', step: index, path: step.path });
}

function signalName(n: number): string {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

/**
 * Clone a child with `plan.cloneFlags` (plus CLONE_VM and CLONE_PIDFD: Node's memory is
 * never copied) and have it run `plan.steps`, making raw system calls only. The
 * clone execs ns-init at once, a static helper from a sealed memfd, which runs the steps in
 * memory of its own: no process in a container's namespaces is ever a copy of this Node
 * (its exe, memory or environment), and a `#!/proc/self/exe` script or an argv[0] of
 * `/proc/self/exe` reaches only ns-init, which refuses to do anything (CVE-2019-5736 class).
 * Returns once the child has called execve(2) successfully; its exit is watched by a pidfd
 * polled by libuv, so the event loop never blocks and the child is always reaped.
 *
 * @param plan the steps (see plan.ts); normally ending with `execve`.
 * @throws NsError with the errno name as `code` when a step fails (message names the step
 *   and its path), `ETIMEDOUT` when the set-up missed `options.setupTimeout` (the child is
 *   killed), `ERR_NS_CHILD_DIED` when the child died before execve without an error, or
 *   clone/pipe/memfd errors (`EPERM`, `ENOSPC` ...) from the parent side.
 * @see clone(2), execveat(2), memfd_create(2), pidfd_open(2), pidfd_send_signal(2), waitid(2)
 */
export function spawn(plan: Plan, options: SpawnOptions = {}): Child {
  const addon = native();
  const exit = exitTracker(options);
  const timeout = setupTimeout(options);
  const early = earlySyncIndex(plan, options);
  const via = options.cloneVia ?? -1;
  if (!Number.isInteger(via) || via < -1) throw new NsError(ErrorCode.CONFIG, `cloneVia: expected a descriptor number, got ${String(options.cloneVia)}`, { path: 'cloneVia' });
  const answered = early >= 0 && firstGoAhead(plan) === early;
  const encoded = encodePlan(plan, answered ? { answeredSync: early } : {});
  const result = addon.spawn(encoded, syncCallback(plan, options), exit.onExit, timeout, early, options.cgroupFd ?? -1, via, answered);
  return childFrom(plan, result, exit, timeout);
}

/**
 * The index of the plan's first step at which the child reads a go-ahead from the parent
 * (`sync`, `seccompNotify`, `openConsole`), or -1. When that is the early sync step, spawn()
 * writes its go-ahead as soon as onSync has returned and the child does not ask for it: no
 * message and no wake-up of this thread, the byte waiting for the child when it gets there.
 */
function firstGoAhead(plan: Plan): number {
  return plan.steps.findIndex(readsGoAhead);
}

/** Whether the child waits for the parent's go-ahead at `step` (and onSync is called for it). */
function readsGoAhead(step: Step | undefined): step is SyncStep | SeccompNotifyStep | OpenConsoleStep {
  return step?.op === 'sync' || step?.op === 'seccompNotify' || step?.op === 'openConsole';
}

/** The index of the sync step spawn() handles right after the clone (SpawnOptions.earlySync), or -1. */
function earlySyncIndex(plan: Plan, options: SpawnOptions): number {
  if (options.earlySync === undefined || options.earlySync === false || !options.onSync) return -1;
  const at = options.earlySync === true ? 0 : options.earlySync;
  if (!Number.isInteger(at) || at < 0 || plan.steps[at]?.op !== 'sync') return -1;
  return plan.steps.slice(0, at).some((s) => s.op === 'cloneParent') ? -1 : at;
}

/**
 * spawn(), without blocking the event loop while the child sets itself up: returns once the
 * clone has exec'd ns-init and resolves once the child has called execve(2) (rejects as spawn() throws:
 * a failed step, a child that died, an error thrown by `onSync`). `onSync` runs from the
 * event loop. For many containers at once, or a server that must stay responsive.
 *
 * @throws NsError synchronously only for parent-side failures (clone, pipe2: `EPERM` ...).
 * @see spawn
 */
export function spawnAsync(plan: Plan, options: SpawnOptions = {}): Promise<Child> {
  const addon = native();
  if (options.cloneVia !== undefined) throw new NsError(ErrorCode.CONFIG, 'cloneVia: spawn() only (spawnAsync() clones here)', { path: 'cloneVia' });
  const exit = exitTracker(options);
  return new Promise<Child>((resolve, reject) => {
    const timeout = setupTimeout(options);
    addon.spawnAsync(
      encodePlan(plan),
      syncCallback(plan, options),
      (error, result) => {
        if (error) return reject(error);
        try {
          resolve(childFrom(plan, result!, exit, timeout));
        } catch (err) {
          reject(err);
        }
      },
      exit.onExit,
      timeout,
      options.cgroupFd ?? -1,
    );
  });
}

/** The set-up deadline of `options` in ms (0: none). @throws NsError ERR_NS_CONFIG for a bad value */
function setupTimeout(options: SpawnOptions): number {
  const t = options.setupTimeout ?? DEFAULT_SETUP_TIMEOUT;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
    throw new NsError(ErrorCode.CONFIG, `setupTimeout: expected milliseconds (a number >= 0), got ${String(t)}`, { path: 'setupTimeout' });
  }
  return Math.ceil(t);
}

/** The exit status, once the native watcher reports it. */
function exitTracker(options: SpawnOptions) {
  let resolveExit!: (s: ExitStatus) => void;
  const tracker = {
    status: undefined as ExitStatus | undefined,
    maxRssKiB: undefined as number | undefined,
    exited: new Promise<ExitStatus>((resolve) => (resolveExit = resolve)),
    onExit: (exitCode: number | null, signal: number | null, maxRssKiB?: number) => {
      if (typeof maxRssKiB === 'number' && maxRssKiB > 0) tracker.maxRssKiB = maxRssKiB;
      tracker.status = { exitCode, signal };
      options.onExit?.(tracker.status);
      resolveExit(tracker.status);
    },
  };
  return tracker;
}

function syncCallback(plan: Plan, options: SpawnOptions): ((index: number, pid: number, value: number, intoCgroup: boolean) => void) | undefined {
  const onSync = options.onSync;
  if (!onSync) return undefined;
  return (index, pid, value, intoCgroup) => {
    const step = plan.steps[index];
    if (readsGoAhead(step)) onSync(step, index, pid, value, intoCgroup === true);
  };
}

/** A Child for a successful native result; throws the step error of a failed one. */
function childFrom(plan: Plan, result: NativeSpawnResult, exit: ReturnType<typeof exitTracker>, timeout?: number): Child {
  const addon = native();
  if (!('pidfd' in result)) {
    if ('diedBeforeExec' in result) {
      // Unknown for a child cloned through a front (cloneVia): the front reaps it.
      const how = result.signal !== null ? `signal ${result.signal}` : result.exitCode !== null ? `exit status ${result.exitCode}` : 'status unknown';
      throw new NsError(ErrorCode.DIED, `container process died before execve (${how})`);
    }
    throw stepError(plan.steps[result.failedStep], result.failedStep, result.errno, timeout, result.value ?? 0);
  }
  const { pid, pidfd } = result;
  let released = false;
  return {
    pid,
    exited: exit.exited,
    get status() {
      return exit.status;
    },
    get maxRssKiB() {
      return exit.maxRssKiB;
    },
    kill(signal: number): boolean {
      if (exit.status || released) return false;
      try {
        addon.kill(pidfd, signal);
        return true;
      } catch (err) {
        if ((err as NsError).code === 'ESRCH') return false;
        throw err;
      }
    },
    ref() {
      if (!exit.status) addon.ref(pidfd, true);
    },
    unref() {
      if (!exit.status) addon.ref(pidfd, false);
    },
    release() {
      if (exit.status || released) return;
      released = true;
      addon.release(pidfd);
    },
  };
}
