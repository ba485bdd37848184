/**
 * The processes of a recorded container: which they are (`runc ps`) and signalling them
 * (`runc kill [--all]`).
 */
import { closeSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { type NsError, native } from '@ns/syscalls';
import { openContainerCgroup, thawForKill } from './cgroup.js';
import { signalNumber } from '../process/process.js';
import { isAlive, notRunningError, processStartTime, type ContainerState, type StateStore } from './state.js';

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
  // With a cgroup of its own, that is where its processes are (as runc ps reads it).
  const cg = openContainerCgroup(state.config);
  if (cg) return cg.pids({ recursive: true }).sort((a, b) => a - b);
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

/** The processes still in the cgroup of a container whose init has exited (none without a cgroup). */
function leftInCgroup(state: ContainerState): number[] {
  const cg = openContainerCgroup(state.config);
  return cg ? cg.pids({ recursive: true }).sort((a, b) => a - b) : [];
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
 * With `all`, a container whose init has exited is no error: what is left in its cgroup (a
 * container without a pid namespace of its own may leave processes) is signalled, and nothing
 * at all when none is, as runc; containerd's shim kills an exited init's children so.
 *
 * A container started with ns's init (`init: true`) has that init as its recorded process: it
 * forwards every signal it can catch to the program. With `all`, such a signal goes to every
 * process but the init, so the program gets it once (runc, which signals tini too, delivers it
 * twice); SIGKILL, SIGSTOP and the check of signal 0 go to the init too.
 *
 * SIGKILL into a paused container thaws it afterwards where the cgroup v1 freezer holds its
 * processes (they act on no signal while frozen), as runc does: it then ends.
 *
 * @param signal name (`SIGTERM`, `TERM`) or number; default SIGTERM.
 * @throws NsError `ERR_NS_NOT_FOUND` for an unknown id, `ERR_NS_STATE` (runc's words
 *   `container not running`, see {@link notRunningError}) when it is not running and not
 *   `all`, `ERR_NS_CONFIG` for an unknown signal.
 */
export function killContainer(store: StateStore, id: string, signal: NodeJS.Signals | number | string = 'SIGTERM', options: { all?: boolean } = {}): void {
  const sig = signalNumber(signal);
  const state = store.read(id);
  const alive = isAlive(state);
  if (!alive && !options.all) throw notRunningError(id);
  let pids = !options.all ? [state.pid] : alive ? containerPids(state) : leftInCgroup(state);
  // ns's init would forward it to the program, which is sent it here already.
  if (options.all && state.config.init === true && sig !== 0 && sig !== osConstants.signals.SIGKILL && sig !== osConstants.signals.SIGSTOP) pids = pids.filter((pid) => pid !== state.pid);
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
  // A paused container on cgroup v1 would not act on it before a resume.
  if (sig === osConstants.signals.SIGKILL && pids.length > 0) {
    try {
      thawForKill(openContainerCgroup(state.config));
    } catch {
      // the kill was sent: a cgroup that cannot be opened now is no error of it
    }
  }
}
