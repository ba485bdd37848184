import { closeSync, fchmodSync, fchownSync, openSync } from 'node:fs';
import type { Cgroup } from '@ns/cgroups';
import { DEFAULT_SETUP_TIMEOUT, NsError, native, spawn, spawnAsync, type Child, type Plan, type SpawnOptions } from '@ns/syscalls';
import { connectConsoleSocket, sendConsole, sendConsoleOn } from './console-socket.js';
import { pipeStdio, terminalExtras } from './stdio.js';
import { isOwnConsole } from '../plan/console.js';
import type { Container } from '../config/container.js';
import { mapToHost } from '../config/idmap.js';
import { openJoinedNamespaces, withJoinDescriptors } from '../config/nsfiles.js';
import { withIdmapDescriptors } from './idmap-userns.js';
import type { ValidContainer } from '../config/valid.js';
import { planContainerCached } from '../plan/cache.js';
import { hookSetupMs } from '../plan/hooks.js';
import { stdioOwners, type IdMaps, type PlanIo } from '../plan/index.js';
import type { ResolvedUser } from '../plan/user.js';
import { ContainerProcess, closeAll, pipeStream, ptyStreams, signalNumber, type ExitHook } from './process.js';
import { LIFECYCLE, OCI_STATE, cloneHandler, syncHandler } from './sync.js';
import { withFault } from './fault.js';
import { CGROUP_SYNC } from '../plan/namespaces.js';
// The handlers of the cgroup sync steps register themselves (container/cgroup.ts).
import '../container/cgroup.js';
import '../net/network.js';
import './console-sync.js';
import { checkSeccompListener, type ListenerStateOf } from '../container/seccomp-listener.js';
import { refuseLifecycleHooks } from '../container/hooks.js';

/** One stdio slot, as child_process: a pipe, the caller's own descriptor, /dev/null, or a descriptor. */
export type { StdioEntry } from './stdio.js';

export type { ExecOptions } from './exec-options.js';
import type { ExecOptions } from './exec-options.js';

function abortError(signal: AbortSignal): NsError {
  return new NsError('ABORT_ERR', 'The operation was aborted', { cause: signal.reason });
}

/** What a launcher plans once the descriptors are known. */
export interface Planned {
  id: string;
  /** The config the plan was made from, for the sync handlers. */
  container: Readonly<Container>;
  plan: Plan;
  user: ResolvedUser;
  args: string[];
  /** With a new user namespace: the maps written at the `idmap` sync step. */
  idMaps?: IdMaps | undefined;
  /** Descriptors opened for the plan (namespaces to join): closed once the child is spawned, or the start failed. */
  fds?: number[];
}

/** Everything launch() opened and planned, until the child is spawned. */
interface Prepared {
  planned: Planned;
  spawnOptions: SpawnOptions;
  io: PlanIo;
  pty: { master: number; slave: number; path: string } | undefined;
  /** The master of a console the container made (plan/console.ts), once the parent took it; else -1. */
  ownConsole: { master: number };
  pipes: { index: number; fd: number; readable: boolean }[];
  childFds: number[];
  parentFds: number[];
  killSignal: number;
  /** Registered by sync handlers: undo their work when the start fails after them (newest last). */
  cleanups: (() => void)[];
  explainers: ((err: unknown) => unknown)[];
  /** Registered by sync handlers for the process handle: work after its exit, its cgroup. */
  extras: { exitHooks: ExitHook[]; releaseHooks: (() => void)[]; cgroup?: Cgroup };
  /** The clone handler of the plan's first sync step (sync.ts), run just before the clone. */
  beforeClone: () => { cgroupFd: number } | void;
}

/**
 * Wire stdio (pipes, inherited descriptors, /dev/null, or a pty, from the devpts under
 * `ptyRoot` when given), and let `makePlan` plan the child with those descriptors. On error
 * every descriptor opened here is closed again.
 */
function prepare(terminal: boolean, options: ExecOptions, makePlan: (io: PlanIo) => Planned, ptyRoot?: string): Prepared {
  if (options.signal?.aborted) throw abortError(options.signal);
  const killSignal = signalNumber(options.killSignal ?? 'SIGKILL');
  const addon = native();
  const childFds: number[] = [];
  const parentFds: number[] = [];
  const io: PlanIo = { stdio: [] };
  if (options.detached || options.startFifo) io.parentDeathSignal = 0;
  const pipes: { index: number; fd: number; readable: boolean }[] = [];
  let pty: { master: number; slave: number; path: string } | undefined;
  try {
    if (options.consoleSocket !== undefined && !terminal) {
      throw new NsError('ERR_NS_CONFIG', `consoleSocket ${options.consoleSocket}: cannot use a console socket for a process without a terminal (process.terminal)`, { path: 'consoleSocket' });
    }
    // The descriptors past 2 (runc --preserve-fds) go along with a terminal too.
    const extra = terminal ? terminalExtras(options.stdio) : [];
    const size = options.terminalSize ?? { cols: 80, rows: 24 };
    const hostPty = () => {
      pty = ptyRoot === undefined ? addon.openPty(size.cols, size.rows) : addon.openPty(size.cols, size.rows, ptyRoot);
      parentFds.push(pty.master);
      childFds.push(pty.slave);
      io.console = { fd: pty.slave, path: pty.path };
      io.stdio = [pty.slave, pty.slave, pty.slave, ...extra];
    };
    if (terminal && ptyRoot === undefined) {
      // A console of the container's own devpts when it has one (plan/console.ts); /dev/null
      // holds 0, 1, 2 until the openConsole step puts the slave there.
      const nul = openSync('/dev/null', 'r+');
      childFds.push(nul);
      io.console = { own: true, cols: size.cols, rows: size.rows };
      io.stdio = [nul, nul, nul, ...extra];
    } else if (terminal) {
      hostPty();
    } else {
      io.stdio = pipeStdio(options.stdio, { childFds, parentFds, pipes });
    }
    // Which of them are pipes to hand to the process's user (stdioOwnerSteps).
    if (!terminal) io.stdioOwners = stdioOwners(io.stdio);
    if (options.startFifo) {
      const fd = addon.openPath(options.startFifo);
      parentFds.push(fd);
      io.startFifoFd = fd;
    }
    let planned = withFault(makePlan(io));
    if (isOwnConsole(io.console) && !planned.plan.steps.some((s) => s.op === 'openConsole')) {
      // No devpts of its own to make the console of: a pty of the host's, bound onto
      // /dev/console, planned again (the first plan's descriptors closed).
      closeAll(planned.fds ?? []);
      hostPty();
      planned = withFault(makePlan(io));
    }
    childFds.push(...(planned.fds ?? []));
    // SCMP_ACT_NOTIFY: the agent's socket must be there before anything starts.
    checkSeccompListener(planned.container);
    if (pty) {
      // The console belongs to the process's user, as runc and Docker leave it.
      const maps = planned.idMaps;
      const uid = maps ? mapToHost(planned.user.uid, maps.uidMappings) : planned.user.uid;
      const gid = maps ? mapToHost(planned.user.gid, maps.gidMappings) : planned.user.gid;
      try {
        if (uid !== null && gid !== null) fchownSync(pty.slave, uid, gid);
        fchmodSync(pty.slave, 0o620);
      } catch (err) {
        if ((process.geteuid?.() ?? 0) === 0) throw err; // unprivileged: it is ours already
      }
    }
    // The console's receiver gets the master now, before anything starts (runc sends it
    // during its init; a start that fails after this hangs the console up).
    if (pty && options.consoleSocket !== undefined) {
      sendConsole(options.consoleSocket, pty.master, ptyRoot === undefined ? '/dev/ptmx' : '/dev/pts/ptmx');
      parentFds.splice(parentFds.indexOf(pty.master), 1);
      closeAll([pty.master]);
    }
    // The parent's part of each sync step, by its name (sync.ts).
    const cleanups: (() => void)[] = [];
    const explainers: ((err: unknown) => unknown)[] = [];
    const extras: Prepared['extras'] = { exitHooks: [], releaseHooks: [] };
    const ownConsole = { master: -1 };
    // The console's receiver, connected before anything starts (runc does the same): the
    // openConsole step's master is sent on it.
    let receiver = -1;
    if (options.consoleSocket !== undefined && isOwnConsole(io.console)) {
      receiver = connectConsoleSocket(options.consoleSocket);
      parentFds.push(receiver);
    }
    const { container, plan, user, idMaps } = planned;
    const context = {
      shared: new Map<string, unknown>(),
      container,
      plan,
      user,
      idMaps,
      onFailure: (cleanup: () => void) => void cleanups.push(cleanup),
      explainFailure: (explain: (err: unknown) => unknown) => void explainers.push(explain),
      onExit: (hook: ExitHook) => void extras.exitHooks.push(hook),
      onRelease: (cleanup: () => void) => void extras.releaseHooks.push(cleanup),
      setCgroup: (cgroup: Cgroup) => void (extras.cgroup = cgroup),
      takeConsole: (master: number) => {
        // The receiver gets it now, as runc sends it from its init; else it is ours.
        if (receiver >= 0) {
          try {
            sendConsoleOn(receiver, options.consoleSocket!, master, '/dev/ptmx');
          } finally {
            parentFds.splice(parentFds.indexOf(receiver), 1);
            closeAll([master, receiver]);
            receiver = -1;
          }
          return;
        }
        ownConsole.master = master;
        parentFds.push(master);
      },
      lifecycle: (options as { [LIFECYCLE]?: boolean })[LIFECYCLE] === true,
      ociState: (options as { [OCI_STATE]?: ListenerStateOf })[OCI_STATE],
    };
    const spawnOptions: SpawnOptions = {
      onSync: (step, index, pid, value, intoCgroup) => syncHandler(step.name)({ pid, step, index, value, intoCgroup, ...context }),
      // The cgroup is made while the child starts (it waits at the step until it is there).
      earlySync: plan.steps.findIndex(isCgroupSync),
      ...(options.cloneVia !== undefined ? { cloneVia: options.cloneVia } : {}),
      ...(options.setupTimeout !== undefined
        ? { setupTimeout: options.setupTimeout }
        : { setupTimeout: DEFAULT_SETUP_TIMEOUT + hookSetupMs(container, options.startFifo !== undefined) }),
    };
    const first = plan.steps[0];
    const clone = first?.op === 'sync' ? cloneHandler(first.name) : undefined;
    const beforeClone = () => clone?.(context);
    return { planned, spawnOptions, io, pty, ownConsole, pipes, childFds, parentFds, killSignal, cleanups, explainers, extras, beforeClone };
  } catch (err) {
    closeAll(childFds);
    closeAll(parentFds);
    throw err;
  }
}

/** Run the clone handler (a cgroup to clone into), then `clone` with it; its descriptor is closed after. */
function cloning<T>(p: Prepared, clone: (options: SpawnOptions) => T): T {
  const into = p.beforeClone();
  try {
    return clone(into ? { ...p.spawnOptions, cgroupFd: into.cgroupFd } : p.spawnOptions);
  } finally {
    if (into) closeSync(into.cgroupFd);
  }
}

/**
 * Undo what the sync handlers did (newest first) and close what prepare() opened, after a
 * failed spawn; returns the error to throw: `err`, or what an explainer (explainFailure) made
 * of it, asked first, while what the handlers made is still there.
 */
function abandon(p: Prepared, err: unknown): unknown {
  let why = err;
  for (const explain of p.explainers.splice(0)) {
    try {
      why = explain(why) ?? why;
    } catch {
      // the start's own error stands
    }
  }
  for (const cleanup of p.cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch {
      // the start's own error is the one to report
    }
  }
  closeAll(p.childFds);
  closeAll(p.parentFds);
  return why;
}

/** The ContainerProcess of a spawned child: streams on the parent's ends, abort wiring. */
function complete(p: Prepared, child: Child, options: ExecOptions): ContainerProcess {
  const { io } = p;
  // A console the container made: its slave opened from the master, held as a pty of ours is.
  const pty = p.pty ?? (p.ownConsole.master >= 0 ? { master: p.ownConsole.master, slave: native().ptyPeer(p.ownConsole.master), path: '/dev/console' } : undefined);
  // The pty slave stays open here until the process exits (see ptyStreams).
  closeAll(p.childFds.filter((fd) => fd !== pty?.slave));
  if (io.startFifoFd !== undefined) closeAll([io.startFifoFd]);
  const proc = new ContainerProcess(p.planned.id, child, p.extras);
  if (options.detached || options.startFifo) proc.unref();
  if (pty && options.consoleSocket !== undefined) {
    // The receiver holds the master: nothing of the console stays here.
    closeAll([pty.slave]);
  } else if (pty) {
    const streams = ptyStreams(pty.master, pty.slave);
    proc.stdin = streams.input;
    proc.stdout = streams.output;
    proc.terminal = { resize: streams.resize };
    proc.trackStream(streams.output);
    proc.once('exit', streams.finish);
  } else {
    for (const pipe of p.pipes) {
      const stream = pipeStream(pipe.fd, pipe.readable);
      if (pipe.index === 0) proc.stdin = stream;
      else if (pipe.index === 1) proc.stdout = stream;
      else if (pipe.index === 2) proc.stderr = stream;
      if (pipe.readable) proc.trackStream(stream);
    }
  }
  if (options.signal) {
    const signal = options.signal;
    const onAbort = () => proc.kill(p.killSignal);
    signal.addEventListener('abort', onAbort, { once: true });
    proc.once('exit', () => signal.removeEventListener('abort', onAbort));
  }
  return proc;
}

/**
 * Wire stdio, plan, spawn and wrap the child in a ContainerProcess; on any error every
 * descriptor opened here is closed again and nothing is left running.
 * @internal shared by exec() and execIn().
 */
export function launch(terminal: boolean, options: ExecOptions, makePlan: (io: PlanIo) => Planned, ptyRoot?: string): ContainerProcess {
  const p = prepare(terminal, options, makePlan, ptyRoot);
  let child: Child;
  try {
    child = cloning(p, (o) => spawn(p.planned.plan, o));
  } catch (err) {
    throw improveExecError(abandon(p, err), p.planned.args[0]!);
  }
  return complete(p, child, options);
}

/**
 * launch(), with the child's set-up off the event loop (spawnAsync).
 * @internal shared by execAsync() and execInAsync().
 */
export async function launchAsync(
  terminal: boolean,
  options: ExecOptions,
  makePlan: (io: PlanIo) => Planned,
  ptyRoot?: string,
): Promise<ContainerProcess> {
  const p = prepare(terminal, options, makePlan, ptyRoot);
  let child: Child;
  try {
    // The clone is made within spawnAsync()'s call: the descriptor is closed right after it.
    child = await cloning(p, (o) => spawnAsync(p.planned.plan, o));
  } catch (err) {
    throw improveExecError(abandon(p, err), p.planned.args[0]!);
  }
  return complete(p, child, options);
}

/**
 * Exec: start `container.args` in new namespaces inside the container's root filesystem,
 * as libcontainer's nsinit Exec did, with runc's defaults. Returns once the process has
 * called execve(2); its exit is reported on the returned process (`wait()`, `'exit'`).
 *
 * @param container the config (see {@link Container}); `embeddedDefault()` or
 *   `rootfsContainer(dir)` give defaults, `fromOciSpec()` reads a config.json. It is checked
 *   here (validatedContainer()), unless it is a ValidContainer already.
 * @throws NsError, synchronously, leaving nothing behind: `ERR_NS_CONFIG` for a bad field
 *   (message names it; a namespace joined by path that is not one, or of another type,
 *   included: `namespaces[2].path: /proc/123/ns/net is a network namespace, not ipc`),
 *   `ERR_NS_NOT_FOUND` for a missing rootfs, user, bind source or network namespace file, an
 *   errno name when a set-up step fails (`mount proc on /proc: EPERM`, `execve /bin/nope:
 *   ENOENT`), `ABORT_ERR` when `options.signal` is already aborted. A capability this ns or
 *   the running kernel does not know is no error: it is left out, as runc does, with a
 *   process warning (`process.emitWarning`, code `'NS_UNKNOWN_CAPABILITY'`; see
 *   validateContainer), never written to the container's stdio.
 * @see OCI runtime-spec runtime.md (create + start), clone(2), pivot_root(2)
 */
export function exec(container: Container | ValidContainer, options: ExecOptions = {}): ContainerProcess {
  // `?.`: a null config reaches validateContainer, which names it (not a TypeError here).
  return launch(container?.terminal, withConsoleSize(options, container), (io) => planned(planContainerCached(container, io)));
}

/**
 * What launch() needs of a container's plan. The namespaces it joins by path are opened and
 * checked now (nsfiles.ts), and their setns steps given those descriptors: a file that is
 * missing, not a namespace, or of another type fails here, naming its JSON path, before
 * anything is spawned. Id-mapped mounts get a user namespace with their mappings (idmap-userns.ts).
 * @internal exec() and createPool()
 */
export function planned({ plan, container, user, idMaps }: ReturnType<typeof planContainerCached>): Planned {
  refuseLifecycleHooks(container);
  const joined = openJoinedNamespaces(container);
  const fds = joined.map((j) => j.fd);
  let steps = withJoinDescriptors(plan.steps, joined);
  try {
    // Id-mapped mounts: a user namespace with each one's mappings (idmap-userns.ts).
    const idmap = withIdmapDescriptors(steps);
    steps = idmap.steps;
    fds.push(...idmap.fds);
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
  return { id: container.id, container, plan: steps === plan.steps ? plan : { ...plan, steps }, user, args: container.args, idMaps, fds };
}

/** `options` with the config's `consoleSize` as the terminal size, unless the caller gives one. */
function withConsoleSize(options: ExecOptions, container: Container | ValidContainer): ExecOptions {
  const size = container?.consoleSize;
  if (options.terminalSize !== undefined || !container?.terminal || typeof size !== 'object' || size === null) return options;
  return { ...options, terminalSize: { cols: size.width, rows: size.height } };
}

/**
 * exec() without blocking the event loop while the container sets itself up: resolves once
 * its process has called execve(2), rejects with the errors exec() throws. The blocking part
 * is planning and clone(2) only (about half of exec()'s; see docs/benchmarks.md).
 * @see exec
 */
export function execAsync(container: Container | ValidContainer, options: ExecOptions = {}): Promise<ContainerProcess> {
  return launchAsync(container?.terminal, withConsoleSize(options, container), (io) => planned(planContainerCached(container, io)));
}

/** `execve sh: ENOENT` after a PATH search reads better as runc puts it. @internal exec() and createPool() */
export function improveExecError(err: unknown, cmd: string): unknown {
  if (err instanceof NsError && err.syscall === 'execve' && !cmd.includes('/') && err.code === 'ENOENT') {
    return new NsError('ENOENT', `exec ${JSON.stringify(cmd)}: executable file not found in $PATH`, { path: cmd, syscall: 'execve' });
  }
  return err;
}

/** Whether `step` is the sync step at which the container's cgroup is made (CGROUP_SYNC). */
function isCgroupSync(step: Plan['steps'][number] | undefined): boolean {
  return step?.op === 'sync' && step.name === CGROUP_SYNC;
}
