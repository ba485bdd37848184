/**
 * Cgroups whose maker died. exec() makes a container's cgroup at the `cgroup` sync step and
 * removes it when the process has exited; if the Node process that called exec() is killed in
 * between (SIGKILL, the OOM killer), the container's processes die with it (PR_SET_PDEATHSIG),
 * but the cgroup stays, and with no state file nobody knows of it. So each such cgroup is
 * claimed first: a small record under `<state root>/.cgroups/` (`<maker pid>-<start time>.<path>`) naming it
 * and its maker (pid and start time); the maker removes the record with the cgroup. The next cgroup any ns
 * process makes first sweeps the records of dead makers, removing their cgroups when empty.
 *
 * runContainer() and createContainer() record the cgroup in the container's state instead,
 * and `delete` removes it (its processes may outlive the maker: a detached container).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroup } from '@ns/cgroups';
import { defaultStateRoot, processStartTime } from './state.js';

/** Where the records live: beside the state, where no container id can be (a dot). */
export function claimsDir(root: string = defaultStateRoot()): string {
  return join(root, '.cgroups');
}

let self: { pid: number; startTime: string } | undefined;
function maker(): { pid: number; startTime: string } {
  self ??= { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
  return self;
}

/**
 * Record that this process made the cgroup `path`, before anything is placed in it.
 * @returns a function that removes the record (once the cgroup is gone); a record that cannot
 *   be written (a read-only /run) is skipped, and so is its removal.
 */
export function claimCgroup(path: string, root?: string): () => void {
  const dir = claimsDir(root);
  // Named by maker first, so that a sweep passes over this process's own without reading them.
  const file = join(dir, `${ownPrefix()}${encodeURIComponent(path)}`);
  try {
    if (!madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      madeDirs.add(dir);
    }
    writeFileSync(file, JSON.stringify({ path, ...maker() }), { mode: 0o600 });
  } catch {
    madeDirs.delete(dir);
    return () => {};
  }
  return () => {
    try {
      unlinkSync(file);
    } catch {
      // gone already
    }
  };
}

/** The name prefix of this process's records: its pid and start time (a reused pid differs in the latter). */
function ownPrefix(): string {
  const m = maker();
  return `${m.pid}-${m.startTime}.`;
}

/** A record's name: `<maker pid>-<start time>.<encoded path>` (ownPrefix). */
const RECORD_NAME = /^(\d+)-(\d*)\./;

/** Claim directories this process made (or found) already: one mkdir per process, not per start. */
const madeDirs = new Set<string>();

/**
 * Remove the cgroups of records whose maker is gone (its pid dead, or reused by another
 * process: the start time differs), when they are empty; a busy one (a process that escaped
 * the parent-death signal) keeps its record for a later sweep. Never throws.
 * @param open opens a cgroup by path (the caller's layout and options)
 */
export function sweepOrphanCgroups(open: (path: string) => Cgroup, root?: string): void {
  const dir = claimsDir(root);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // none made yet
  }
  const own = ownPrefix();
  const dead: { file: string; path: string }[] = [];
  for (const name of names) {
    if (name.startsWith(own)) continue; // this process lives: its own to remove
    // The name carries the maker: a live one's record is not read (a busy host has many).
    const maker = RECORD_NAME.exec(name);
    if (maker && maker[2] !== '' && processStartTime(Number(maker[1])) === maker[2]) continue;
    const file = join(dir, name);
    try {
      const rec = JSON.parse(readFileSync(file, 'utf8')) as { path: string; pid: number; startTime: string };
      if (processStartTime(rec.pid) === rec.startTime) continue; // its maker lives: its own to remove
      dead.push({ file, path: rec.path });
    } catch {
      // unreadable or half-written: left for a later sweep
    }
  }
  // Deeper paths first: a claimed cgroup below another claimed one (@ns/sandbox's run cgroup
  // and the container's `box` in it) goes before its parent, in one sweep.
  dead.sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const { file, path } of dead) {
    try {
      open(path).removeEmpty();
      rmSync(file, { force: true });
    } catch {
      // busy: left for a later sweep
    }
  }
}
