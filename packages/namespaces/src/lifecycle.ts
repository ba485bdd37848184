import { closeSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { ErrorCode, NsError, native } from '@ns/syscalls';
import type { Container } from './container.js';
import { exec, type ExecOptions } from './exec.js';
import type { ContainerProcess } from './process.js';
import { signalNumber } from './process.js';
import {
  OCI_VERSION,
  StateStore,
  currentStatus,
  isAlive,
  processStartTime,
  type ContainerState,
} from './state.js';
import { validateContainer } from './validate.js';
import { withRootless } from './plan.js';

export interface StartOptions extends ExecOptions {
  /** Where container state lives; default a StateStore on {@link defaultStateRoot}. */
  store?: StateStore;
  /** OCI annotations to record. */
  annotations?: Record<string, string>;
}

/**
 * Start a container and record its state, as `runc run`: the id is claimed first (a second
 * container with the same id fails with `ERR_NS_STATE`), the process is started with exec(),
 * and its pid and start time are written to `<root>/<id>/state.json`. A foreground container
 * (not `detached`) removes its state when it exits; a detached one keeps it until
 * {@link deleteContainer}. On a start error the claimed state is removed again.
 *
 * @throws NsError as exec(), plus `ERR_NS_STATE` for an id in use.
 */
export function startContainer(container: Container, options: StartOptions = {}): { process: ContainerProcess; state: ContainerState } {
  const store = options.store ?? new StateStore();
  const c = withRootless(validateContainer(container));
  const state: ContainerState = {
    ociVersion: OCI_VERSION,
    id: c.id,
    status: 'creating',
    pid: 0,
    bundle: c.bundle ?? process.cwd(),
    annotations: options.annotations ?? {},
    created: new Date().toISOString(),
    startTime: '',
    config: c,
    detached: options.detached ?? false,
  };
  store.create(state);
  let proc: ContainerProcess;
  try {
    proc = exec(c, options);
  } catch (err) {
    store.remove(c.id);
    throw err;
  }
  state.pid = proc.pid;
  state.startTime = processStartTime(proc.pid) ?? '';
  state.status = 'running';
  try {
    store.write(state);
  } catch (err) {
    proc.kill('SIGKILL');
    store.remove(c.id);
    throw err;
  }
  if (!state.detached) {
    proc.once('exit', () => {
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

/** The pid namespace inode of a process, as `pid:[4026531836]`, or null. */
function pidNamespace(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/**
 * Pids (host view) of every process in the container: those in the pid namespace of its
 * init, or with no pid namespace of its own, the init alone. Empty when it is stopped.
 * @see pid_namespaces(7)
 */
export function containerPids(state: ContainerState): number[] {
  if (!isAlive(state)) return [];
  const ns = pidNamespace(state.pid);
  // Only a pid namespace that really differs from ours is the container's: never widen a
  // signal to every process that merely shares the host's (a stale or forged state file).
  if (!ns || ns === pidNamespace(process.pid)) return [state.pid];
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pidNamespace(pid) === ns) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

/** One process of a container, for `ns ps`. */
export interface ContainerProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  state: string;
  command: string;
}

/** Details of each process of the container (from /proc/PID/stat, status and cmdline). proc(5). */
export function containerProcesses(state: ContainerState): ContainerProcessInfo[] {
  const out: ContainerProcessInfo[] = [];
  for (const pid of containerPids(state)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      out.push({ pid, ppid: Number(fields[1]), uid, state: fields[0]!, command: cmdline || `[${comm}]` });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * Send a signal to the container's init (or with `all`, to every process in it), with a
 * pidfd opened and then checked against the recorded start time, so a reused pid is never
 * signalled. As `runc kill [--all] ID SIGNAL`.
 *
 * @param signal name (`SIGTERM`, `TERM`) or number; default SIGTERM.
 * @throws NsError `ERR_NS_NOT_FOUND` for an unknown id, `ERR_NS_STATE` when it is not
 *   running, `ERR_NS_CONFIG` for an unknown signal.
 */
export function killContainer(store: StateStore, id: string, signal: NodeJS.Signals | number | string = 'SIGTERM', options: { all?: boolean } = {}): void {
  const sig = signalNumber(signal);
  const state = store.read(id);
  if (!isAlive(state)) throw new NsError(ErrorCode.STATE, `container ${id} is not running`);
  const pids = options.all ? containerPids(state) : [state.pid];
  const addon = native();
  for (const pid of pids) {
    const startTime = processStartTime(pid);
    let fd: number;
    try {
      fd = addon.pidfdOpen(pid);
    } catch {
      continue; // exited meanwhile
    }
    try {
      // Checked after opening the pidfd: from here on the pid cannot be reused under us.
      if (processStartTime(pid) !== startTime || (pid === state.pid && startTime !== state.startTime)) continue;
      addon.pidfdSignal(fd, sig);
    } catch (err) {
      if ((err as NsError).code !== 'ESRCH') throw err;
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Remove a container's state, as `runc delete`: a running container is refused unless
 * `force`, which SIGKILLs every process in it and waits (up to `timeoutMs`, default 5000)
 * for the init to be gone. Nothing stays mounted: every mount lived in the container's own
 * mount namespace.
 *
 * @throws NsError `ERR_NS_NOT_FOUND` for an unknown id, `ERR_NS_STATE` for a running
 *   container without `force`, or when it does not die in time.
 */
export async function deleteContainer(store: StateStore, id: string, options: { force?: boolean; timeoutMs?: number } = {}): Promise<void> {
  store.read(id); // ERR_NS_NOT_FOUND before anything (the lock) is created
  await store.withLock(id, async () => {
    const state = store.read(id);
    const status = currentStatus(state);
    if (status !== 'stopped') {
      if (!options.force) {
        throw new NsError(ErrorCode.STATE, `cannot delete container ${id} that is ${status} (stop it first, or use --force)`);
      }
      killContainer(store, id, 'SIGKILL', { all: true });
      const deadline = Date.now() + (options.timeoutMs ?? 5000);
      while (isAlive(state)) {
        if (Date.now() > deadline) throw new NsError(ErrorCode.STATE, `container ${id} did not stop after SIGKILL`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    store.remove(id);
  });
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
