import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { CLONE, NsError, configError, type Step } from '@ns/syscalls';
import { hasCgroup, type NamespaceType } from '../config/container.js';
import { CGROUP_JOIN_FROZEN_SYNC, CGROUP_JOIN_SYNC } from '../plan/namespaces.js';
import { cgroupFrozen, openContainerCgroup, pausedExecError } from '../container/cgroup.js';
import { launch, launchAsync, type ExecOptions } from './exec.js';
import { OCI_STATE } from './sync.js';
import type { ContainerProcess } from './process.js';
import { capabilitySetsOf, processSteps, stdioOwnerSteps, stdioSteps } from '../plan/index.js';
import { resolveSeccomp } from '../plan/seccomp.js';
import { execKeyringSteps } from '../plan/keyring.js';
import { mapToHost } from '../config/idmap.js';
import { OCI_VERSION, isAlive, notRunningError, type ContainerState } from '../container/state.js';
import { isObject, validateContainer } from '../config/validate.js';
import { SCHED_FLAG, type IoPriority, type Scheduler } from '../config/process-attrs.js';

const SCHED_RESET_ON_FORK = SCHED_FLAG.SCHED_FLAG_RESET_ON_FORK!;

/** The process to start in a running container; unset fields come from the container's config. */
export interface ExecInProcess {
  /** `process.args`; args[0] is looked up in the container's PATH. */
  args: string[];
  /** Environment; default the container's. */
  env?: string[];
  /** Working directory; default the container's. */
  cwd?: string;
  /** `uid[:gid]` or `name[:group]` from the container's /etc/passwd and /etc/group; default the container's. */
  user?: string;
  additionalGids?: number[];
  /** Allocate a pty. */
  terminal?: boolean;
  /** Capabilities kept (names); default the container's. */
  capabilities?: string[];
  noNewPrivileges?: boolean;
  /** Scheduling policy (OCI `process.scheduler`); default the container's (as runc exec). */
  scheduler?: Scheduler;
  /** I/O priority (OCI `process.ioPriority`); default the container's (as runc exec). */
  ioPriority?: IoPriority;
}

/** The options of execIn() and execInAsync(): exec()'s, and one of its own. */
export interface ExecInOptions extends ExecOptions {
  /**
   * Start the process in a paused (frozen) container too, as `runc exec --ignore-paused`: it
   * joins the frozen cgroup and is frozen there, so execIn() (and execInAsync()'s promise)
   * waits until the container is resumed: `setupTimeout` cannot end that wait (a frozen
   * process acts on SIGKILL only once thawed), and execIn() blocks the event loop meanwhile.
   * Default false: a paused container is refused with `ERR_NS_STATE`.
   */
  ignorePaused?: boolean;
}

/** /proc/PID/ns names, in the order they are joined: user first, mount last (runc's order). */
const JOIN_ORDER: [NamespaceType, string, number][] = [
  ['user', 'user', CLONE.NEWUSER],
  ['ipc', 'ipc', CLONE.NEWIPC],
  ['uts', 'uts', CLONE.NEWUTS],
  ['network', 'net', CLONE.NEWNET],
  ['pid', 'pid', CLONE.NEWPID],
  ['cgroup', 'cgroup', CLONE.NEWCGROUP],
  ['time', 'time', CLONE.NEWTIME],
  ['mount', 'mnt', CLONE.NEWNS],
];

/**
 * ExecIn: start another process inside a running container's namespaces, as the seed's
 * ExecIn and `runc exec`. The namespaces of the container's init are opened here, then its
 * start time is checked again (a reused pid is never joined). The child is ns-init (see
 * spawn()), non-dumpable and with none of this process's memory, environment or binary: it
 * joins each namespace with setns(2), takes the process's user and capabilities, and only
 * then, because joining a pid namespace only affects children, forks again with CLONE_PARENT
 * (see {@link execInSteps}): the returned process is the real one, a child of this Node
 * process, with its own exit status.
 *
 * @throws NsError `ERR_NS_CONFIG` naming `state`, `state.config` or `process` when they are
 *   not objects, or the field of the process or config that is invalid (as validateContainer);
 *   `ERR_NS_STATE` when the container is not running, or is paused (its cgroup frozen: `cannot
 *   exec in a paused container: ID ...`, as runc exec; see `options.ignorePaused`), before
 *   anything is started; `ERR_NS_NOT_FOUND` for an unknown user,
 *   an errno name for a failed step (`execve /bin/nope: ENOENT`). An unknown capability is
 *   left out with a process warning, as exec(). With duplicate keys in `env`, the last wins.
 * @see setns(2), pid_namespaces(7), runc exec
 */
export function execIn(state: ContainerState, proc: ExecInProcess, options: ExecInOptions = {}): ContainerProcess {
  return joinAndLaunch(state, proc, options, launch);
}

/**
 * execIn() without blocking the event loop while the process joins the container and sets
 * itself up: resolves once it has called execve(2), rejects with the errors execIn() throws
 * (the namespace descriptors stay open until then). The blocking part is the checks, the
 * plan and clone(2).
 * @see execIn
 */
export async function execInAsync(state: ContainerState, proc: ExecInProcess, options: ExecInOptions = {}): Promise<ContainerProcess> {
  return joinAndLaunch(state, proc, options, launchAsync);
}

/**
 * The plan of an exec-in: everything that needs privilege, and everything that could be
 * worth something to the container, runs in the first ns-init, which the container cannot
 * see (it stays in the host's pid namespace): joining the namespaces, stdio, umask and
 * rlimits, capabilities and user, no_new_privs, working directory. Only then does it fork into the container's pid namespace (joining one affects children
 * only): the process a container's root could see, signal, or ptrace with CAP_SYS_PTRACE
 * holds the container's own credentials and capabilities, and none of the runtime's. It
 * makes itself a session leader (with its terminal) and execs: were the first child the
 * session leader, its exit would hang up the terminal under its successor. A scheduling
 * policy with SCHED_FLAG_RESET_ON_FORK is set again after the fork, with that flag.
 */
export function execInSteps(joins: readonly Step[], session: readonly Step[], tail: readonly Step[]): Step[] {
  // stdio, and the fchown(2) of the stdio pipes (stdioOwnerSteps) while still privileged.
  const stdio = session.filter((s) => s.op === 'stdio' || s.op === 'fchown');
  const leader = session.filter((s) => s.op !== 'stdio' && s.op !== 'fchown'); // setsid, and TIOCSCTTY with a terminal
  // The execve (and a failure of it, which the new process reports itself) comes after the
  // fork: only a process in the container's pid namespace sees its /proc/self.
  // A seccomp filter right before the execve (with no_new_privs) stays there, after the fork:
  // the fork and the session are ns-init's, not the program's, and need no allowing.
  const execve = tail.findIndex((s) => s.op === 'execve');
  const before = tail[execve - 1]?.op;
  const at = before === 'seccomp' || before === 'seccompNotify' ? execve - 1 : execve;
  // A scheduling policy set before the fork is inherited, but for SCHED_FLAG_RESET_ON_FORK:
  // set without it while privileged, then again with it after the fork (same policy and
  // priority: allowed without privilege, sched_setattr(2)).
  const head = tail.slice(0, at).map((s) => (s.op === 'schedSetattr' && s.flags & SCHED_RESET_ON_FORK ? { ...s, flags: s.flags & ~SCHED_RESET_ON_FORK } : s));
  const again = tail.filter((s) => s.op === 'schedSetattr' && s.flags & SCHED_RESET_ON_FORK);
  return [...joins, ...stdio, ...head, { op: 'cloneParent' }, ...again, ...leader, ...tail.slice(at)];
}

/** Whether /proc/PID/setgroups allows setgroups(2) in the user namespace of `pid`. */
function readSetgroups(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim() !== 'deny';
  } catch {
    return true;
  }
}

/**
 * The arguments of execIn()/execInAsync() before anything is opened: a state as
 * startContainer() or the state store returns it, and a process object (its fields are
 * checked with the container's config by validateContainer()).
 * @throws NsError `ERR_NS_CONFIG` naming `state`, `state.id`, `state.pid`, `state.config`
 *   or `process`.
 */
function checkExecInArguments(state: unknown, proc: unknown): void {
  if (!isObject(state)) throw configError('state: expected the state of a running container ({ id, pid, config ... })', 'state');
  if (typeof state.id !== 'string') throw configError('state.id: expected the container id', 'state.id');
  if (typeof state.pid !== 'number' || !Number.isInteger(state.pid)) throw configError('state.pid: expected the pid of the container', 'state.pid');
  if (!isObject(state.config)) throw configError('state.config: expected the container config', 'state.config');
  if (!isObject(proc)) throw configError('process: expected { args, env?, cwd?, user? ... }', 'process');
}

/** execIn's body with the launcher of exec() or execAsync(); descriptors it opens are closed once that settles. */
function joinAndLaunch<R extends ContainerProcess | Promise<ContainerProcess>>(
  state: ContainerState,
  proc: ExecInProcess,
  options: ExecInOptions,
  start: (terminal: boolean, options: ExecOptions, makePlan: Parameters<typeof launch>[2], ptyRoot?: string) => R,
): R {
  checkExecInArguments(state, proc);
  const config = state.config;
  const c = validateContainer({
    ...config,
    args: proc.args,
    env: proc.env ?? config.env,
    cwd: proc.cwd ?? config.cwd,
    user: proc.user ?? config.user,
    terminal: proc.terminal ?? false,
    // The container's init is its own process; one joining it is not given another.
    init: false,
    ...(proc.additionalGids ? { additionalGids: proc.additionalGids } : {}),
    // Capabilities given for this process replace every set of the container's.
    ...(proc.capabilities ? { capabilities: proc.capabilities, capabilitySets: undefined, dropCapabilities: undefined } : {}),
    // The container's filter (runc exec): the default profile as the container's capabilities made it.
    ...(proc.capabilities && config.seccomp === 'default' ? { seccomp: resolveSeccomp('default', capabilitySetsOf(config).bounding) } : {}),
    ...(proc.noNewPrivileges !== undefined ? { noNewPrivileges: proc.noNewPrivileges } : {}),
    ...(proc.scheduler !== undefined ? { scheduler: proc.scheduler } : {}),
    ...(proc.ioPriority !== undefined ? { ioPriority: proc.ioPriority } : {}),
  });
  if (c.scheduler?.policy === 'SCHED_DEADLINE') {
    // The process forks into the container's pid namespace once set up, unprivileged: a
    // SCHED_DEADLINE process may not fork (EAGAIN), and one reset on fork may not get it back.
    throw configError('scheduler.policy: SCHED_DEADLINE is not applied to a process started in a running container (it is set before the fork into the container, which that policy forbids): give this process another policy', 'scheduler.policy');
  }
  if (!isAlive(state)) throw notRunningError(state.id);
  // As runc exec: a process joining a frozen cgroup would hang, frozen (checked again at the join).
  const { ignorePaused = false, ...execOptions } = options;
  if (!ignorePaused && hasCgroup(config) && cgroupFrozen(openContainerCgroup(config))) throw pausedExecError(state.id);

  const types = new Set(config.namespaces.map((ns) => ns.type));
  const fds: number[] = [];
  const joins: Step[] = [];
  const closeFds = () => {
    for (const fd of fds.splice(0)) closeSync(fd);
  };
  const notRunning = (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !(err instanceof NsError)) {
      return notRunningError(state.id, err);
    }
    return err;
  };
  let result: R;
  try {
    for (const [type, name, flag] of JOIN_ORDER) {
      if (!types.has(type)) continue;
      const path = `/proc/${state.pid}/ns/${name}`;
      // Only join what differs from ours (a namespace shared with the host needs no setns).
      if (readlinkSync(path) === readlinkSync(`/proc/self/ns/${name}`)) continue;
      const fd = openSync(path, 'r');
      fds.push(fd);
      joins.push({ op: 'setns', fd, nstype: flag, path });
    }
    // A container without a mount namespace of its own runs chroot(2)ed into its rootfs in the
    // caller's: the new process takes the same root, that of the container's process.
    if (!types.has('mount')) joins.push({ op: 'chroot', path: `/proc/${state.pid}/root` });
    if (!isAlive(state)) throw notRunningError(state.id);
    // The seccomp agent of a profile with SCMP_ACT_NOTIFY gets the running container's state (runc exec).
    const ociState = () => ({ ociVersion: OCI_VERSION, id: state.id, status: 'running' as const, pid: state.pid, bundle: state.bundle, annotations: { ...(state.annotations ?? {}) } });
    result = start(
      c.terminal,
      { ...execOptions, [OCI_STATE]: ociState } as ExecOptions,
      (io) => {
      // Checked again now that a pty may have been opened in the container's devpts.
      if (!isAlive(state)) throw notRunningError(state.id);
      // A user namespace of the container's own: its maps are the config's. One it joined by
      // path has maps of its own, and says itself whether setgroups(2) is allowed there.
      const userns = config.namespaces.some((ns) => ns.type === 'user' && ns.path === undefined);
      const idMaps = userns ? { uidMappings: config.uidMappings ?? [], gidMappings: config.gidMappings ?? [] } : undefined;
      const joinedUser = config.namespaces.some((ns) => ns.type === 'user' && ns.path !== undefined);
      const setgroups = joinedUser ? readSetgroups(state.pid) : undefined;
      const tail = processSteps(c, io, idMaps, undefined, setgroups === undefined ? {} : { setgroups });
      // A container with a cgroup of its own: the new process joins it first (as runc exec).
      const cgroup: Step[] = hasCgroup(config) ? [{ op: 'sync', name: ignorePaused ? CGROUP_JOIN_FROZEN_SYNC : CGROUP_JOIN_SYNC }] : [];
      // The stdio pipes are handed to the process's user (runc's fixStdioPermissions).
      const hostUid = idMaps ? mapToHost(tail.user.uid, idMaps.uidMappings) : joinedUser ? null : tail.user.uid;
      const session = [...stdioSteps(io), ...stdioOwnerSteps(io, { uid: tail.user.uid, hostUid })];
      // The container's session keyring, once in its user namespace (runc's setns init).
      const steps = [...cgroup, ...execInSteps([...joins, ...execKeyringSteps({ id: state.id, noNewKeyring: config.noNewKeyring === true })], session, tail.steps)];
      const plan = { cloneFlags: 0, steps, ...(io.parentDeathSignal !== undefined ? { parentDeathSignal: io.parentDeathSignal } : {}) };
      return { id: state.id, container: c, plan, user: tail.user, args: c.args, idMaps };
      },
      `/proc/${state.pid}/root`,
    );
  } catch (err) {
    closeFds();
    throw notRunning(err);
  }
  if (!(result instanceof Promise)) {
    closeFds();
    return result;
  }
  return result.then(
    (p) => {
      closeFds();
      return p;
    },
    (err: unknown) => {
      closeFds();
      throw notRunning(err);
    },
  ) as R;
}
