import { releaseNetwork } from '../net/network.js';
import { chmodSync, closeSync, constants, openSync, readSync, rmSync } from 'node:fs';
import { asNsError, openContainerCgroup } from './cgroup.js';
import { hookState, runHooksWarning, withoutLifecycleHooks } from './hooks.js';
import { join } from 'node:path';
import { ErrorCode, NsError, native } from '@ns/syscalls';
import type { Container } from '../config/container.js';
import { exec, type ExecOptions } from '../process/exec.js';
import { LIFECYCLE } from '../process/sync.js';
import type { ContainerProcess } from '../process/process.js';
import {
  EXEC_FIFO,
  OCI_VERSION,
  StateStore,
  currentStatus,
  isAlive,
  processStartTime,
  type ContainerState,
} from './state.js';
import { validatedContainer, type ValidContainer } from '../config/valid.js';
import { killContainer } from './processes.js';

export { containerPids, containerProcesses, killContainer, type ContainerProcessInfo } from './processes.js';

export interface StartOptions extends ExecOptions {
  /** Where container state lives; default a StateStore on {@link defaultStateRoot}. */
  store?: StateStore;
  /** OCI annotations to record. */
  annotations?: Record<string, string>;
}

/**
 * Create and start a container and record its state, as `runc run`: the config is validated
 * (once: validatedContainer()), the id is claimed (a second container with the same id fails
 * with `ERR_NS_STATE`), the process is started with exec(), and its pid and start time are
 * written to `<root>/<id>/state.json`. A foreground container (not `detached`) removes its
 * state when it exits; a detached one keeps it until {@link deleteContainer}. On a start error
 * the claimed state is removed again.
 *
 * @throws NsError as exec(), plus `ERR_NS_STATE` for an id in use.
 * @see OCI runtime-spec runtime.md "Operations" (create, then start), runc run
 */
export function runContainer(container: Container | ValidContainer, options: StartOptions = {}): { process: ContainerProcess; state: ContainerState } {
  const store = options.store ?? new StateStore();
  const c = validatedContainer(container);
  const state = newState(c, options, options.detached ?? false);
  const proc = startRecorded(store, c, state, 'running', () => options);
  runHooksWarning(c.hooks, 'poststart', hookState(c, 'running', proc.pid));
  if (!state.detached) {
    proc.once('exit', () => {
      // A foreground run is create, start and delete in one (runc run): its network and poststop now.
      releaseNetworkWarning(c);
      runHooksWarning(c.hooks, 'poststop', hookState(c, 'stopped', 0));
      // Only our own record: a later container may have taken the id meanwhile.
      try {
        const now = store.read(c.id);
        if (now.pid === state.pid && now.startTime === state.startTime) store.remove(c.id);
      } catch {
        // already deleted
      }
    });
  }
  return { process: proc, state };
}

/**
 * The former name of {@link runContainer} (it creates and starts a container, as `runc run`;
 * starting a created one is {@link startCreatedContainer}).
 * @deprecated use runContainer()
 */
export const startContainer: typeof runContainer = runContainer;

/** The FIFO a created container's process waits on before execve (runc's exec.fifo). */
export function execFifoPath(store: StateStore, id: string): string {
  return join(store.dir(id), EXEC_FIFO);
}

/**
 * OCI create, as `runc create`: set the container up (namespaces, mounts, capabilities,
 * user) and leave its process waiting just before execve, detached from this Node process,
 * with state `created`. {@link startCreatedContainer} lets it run. The process's stdio is
 * fixed now, from `options.stdio` (`'inherit'` passes this process's own 0, 1, 2 on, as
 * `ns create` and runc create do; descriptors of files; `'ignore'`), and it keeps it after
 * this process exits. With a terminal (`process.terminal`) the pty's master goes to the unix
 * socket at `options.consoleSocket` (runc's `--console-socket`), which is then required.
 *
 * @throws NsError as exec(), `ERR_NS_STATE` for an id in use, `ERR_NS_CONFIG` for a terminal
 *   without `consoleSocket`.
 * @see OCI runtime-spec runtime.md "Operations: Create"
 */
export function createContainer(container: Container | ValidContainer, options: StartOptions = {}): { process: ContainerProcess; state: ContainerState } {
  const store = options.store ?? new StateStore();
  const c = validatedContainer(container);
  if (c.terminal && options.consoleSocket === undefined) {
    throw new NsError(ErrorCode.CONFIG, 'terminal: cannot allocate tty if the container is detached without setting console socket (options.consoleSocket)', { path: 'terminal' });
  }
  const state = newState(c, options, true);
  const proc = startRecorded(store, c, state, 'created', () => {
    const fifo = execFifoPath(store, c.id);
    native().mkfifo(fifo, 0o622);
    chmodSync(fifo, 0o622); // whatever the umask: the container's user opens it for writing
    return { ...options, detached: true, startFifo: fifo };
  });
  return { process: proc, state };
}

/**
 * The part runContainer() and createContainer() share: claim the id (`state`, status
 * `creating`), start the process with exec() (poststart and poststop are the caller's), then
 * record its pid, start time and `status`. On any failure the claimed state is removed again,
 * and a started process killed.
 * @param execOptions the exec() options, made once the id is claimed (create's exec fifo lives in its folder)
 */
function startRecorded(store: StateStore, c: ValidContainer, state: ContainerState, status: 'running' | 'created', execOptions: () => ExecOptions): ContainerProcess {
  store.create(state);
  let proc: ContainerProcess;
  try {
    proc = exec(withoutLifecycleHooks(c), { ...execOptions(), [LIFECYCLE]: true } as ExecOptions);
  } catch (err) {
    store.remove(c.id);
    // A failed prestart, createRuntime, createContainer or startContainer hook: the container
    // is destroyed and the lifecycle goes on with poststop (runtime.md "Lifecycle" 6-8, 12-13).
    if ((err as NsError).code === ErrorCode.HOOK) runHooksWarning(c.hooks, 'poststop', hookState(c, 'stopped', 0));
    throw err;
  }
  state.pid = proc.pid;
  state.startTime = processStartTime(proc.pid) ?? '';
  state.status = status;
  try {
    store.write(state);
  } catch (err) {
    proc.kill('SIGKILL');
    store.remove(c.id);
    throw err;
  }
  return proc;
}

/**
 * OCI start, as `runc start`: let a created container's process run its program (open the
 * exec.fifo it waits on and read its byte), then record it as running.
 *
 * @param timeoutMs how long to wait for the process's byte (default 5000).
 * @param cwd where the poststart hooks run (default this process's working directory)
 * @throws NsError `ERR_NS_NOT_FOUND` for an unknown id, `ERR_NS_STATE` when it is not
 *   `created` (already started, or its process died).
 * @see OCI runtime-spec runtime.md "Operations: Start"
 */
export async function startCreatedContainer(store: StateStore, id: string, options: { timeoutMs?: number; cwd?: string } = {}): Promise<ContainerState> {
  return store.withLock(id, async () => {
    const state = store.read(id);
    const status = currentStatus(state);
    if (status !== 'created') throw cannotStart(id, status);
    const fifo = execFifoPath(store, id);
    // Non-blocking: opening never waits, and the process's blocked open for writing returns.
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(1);
      const deadline = Date.now() + (options.timeoutMs ?? 5000);
      for (;;) {
        let n = 0;
        try {
          n = readSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n === 1) break;
        if (!isAlive(state)) throw new NsError(ErrorCode.STATE, `container ${id} exited before it started`);
        if (Date.now() > deadline) throw new NsError(ErrorCode.STATE, `container ${id} did not take the start signal`);
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      closeSync(fd);
    }
    rmSync(fifo, { force: true });
    const running: ContainerState = { ...state, status: 'running' };
    store.write(running);
    runHooksWarning(state.config.hooks, 'poststart', hookState(recordedBundle(state), 'running', state.pid), options.cwd);
    return running;
  });
}

/**
 * runc start's words for a container that is not `created` (runc start.go), followed by the id:
 * `cannot start an already running container: ID`, `cannot start a container that has stopped: ID`,
 * `cannot start a container in the paused state: ID`.
 */
function cannotStart(id: string, status: string): NsError {
  const words =
    status === 'running'
      ? 'cannot start an already running container'
      : status === 'stopped'
        ? 'cannot start a container that has stopped'
        : `cannot start a container in the ${status} state`;
  return new NsError(ErrorCode.STATE, `${words}: ${id}`);
}

/**
 * The container's config with the bundle its state recorded at create (the working directory
 * then, for a container without one): the hooks of `start` and `delete` see the bundle the
 * create hooks saw, never the working directory of whoever calls later (a warm `ns serve`).
 */
function recordedBundle(state: ContainerState): Container {
  return state.config.bundle === undefined && state.bundle ? { ...state.config, bundle: state.bundle } : state.config;
}

/** The state of a container being set up (`creating`, no pid yet). */
function newState(c: ValidContainer, options: StartOptions, detached: boolean): ContainerState {
  return {
    ociVersion: OCI_VERSION,
    id: c.id,
    status: 'creating',
    pid: 0,
    bundle: c.bundle ?? safeCwd(),
    annotations: options.annotations ?? c.annotations ?? {},
    created: new Date().toISOString(),
    startTime: '',
    config: c,
    detached,
    creator: { pid: process.pid, startTime: processStartTime(process.pid) ?? '' },
  };
}

function safeCwd(): string {
  try {
    return process.cwd();
  } catch {
    return '/';
  }
}

/**
 * Remove a container's state, as `runc delete`: a running container is refused unless
 * `force` (a created one, which never ran its program, is taken down either way), which
 * SIGKILLs every process in it and waits (up to `timeoutMs`, default 5000) for the init to be
 * gone. Its cgroup is removed (anything left in it killed first), also when the process that
 * started it is gone. Nothing stays mounted: every mount lived in the container's own mount
 * namespace. `cwd`: where the poststop hooks run (default this process's working directory).
 *
 * @throws NsError `ERR_NS_NOT_FOUND` for an unknown id, `ERR_NS_STATE` for a running
 *   container without `force`, or when it does not die in time.
 */
export async function deleteContainer(store: StateStore, id: string, options: { force?: boolean; timeoutMs?: number; cwd?: string } = {}): Promise<void> {
  store.read(id); // ERR_NS_NOT_FOUND before anything (the lock) is created
  await store.withLock(id, async () => {
    const state = store.read(id);
    const status = currentStatus(state);
    if (status !== 'stopped') {
      // A created container never ran its program: delete takes it down, as runc's does.
      if (!options.force && status !== 'created') {
        throw new NsError(ErrorCode.STATE, `cannot delete container ${id} that is not stopped: ${status} (stop it first, or use --force)`);
      }
      openContainerCgroup(state.config)?.thaw(); // a frozen process cannot die
      killContainer(store, id, 'SIGKILL', { all: true });
      const deadline = Date.now() + (options.timeoutMs ?? 5000);
      while (isAlive(state)) {
        if (Date.now() > deadline) throw new NsError(ErrorCode.STATE, `container ${id} did not stop after SIGKILL`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    // Its cgroup goes too: whatever is left in it is killed first (cgroup.kill where present).
    const cg = openContainerCgroup(state.config);
    if (cg) {
      try {
        await cg.destroy(options.timeoutMs ?? 5000);
      } catch (err) {
        throw asNsError(err);
      }
    }
    releaseNetwork(state.config);
    store.remove(id);
    runHooksWarning(state.config.hooks, 'poststop', hookState(recordedBundle(state), 'stopped', 0), options.cwd);
  });
}

/** releaseNetwork(), its failure a warning (`NS_NETWORK_CLEANUP`): where an exit is what the caller waits for. */
function releaseNetworkWarning(c: Parameters<typeof releaseNetwork>[0]): void {
  try {
    releaseNetwork(c);
  } catch (err) {
    process.emitWarning((err as Error).message, { code: 'NS_NETWORK_CLEANUP' });
  }
}

/** Every container in the store with its live status, for `ns list`. */
export function listContainers(store: StateStore): (ContainerState & { status: ContainerState['status'] })[] {
  const out: ContainerState[] = [];
  for (const id of store.list()) {
    try {
      const state = store.read(id);
      out.push({ ...state, status: currentStatus(state) });
    } catch {
      // removed while listing
    }
  }
  return out;
}
