/**
 * Pausing and killing what runs in a cgroup: the v1 freezer (cgroup-v1/freezer-subsystem.rst)
 * or the v2 core freezer (cgroup-v2.rst "cgroup.freeze", "cgroup.events"), and kill-all with
 * cgroup.kill (v2, Linux 5.14) or a signal to every pid of cgroup.procs until none is left.
 */
import { join } from 'node:path';
import { CgroupError, ERR_NS_STATE, errnoCode, fsError } from './errors.js';
import { allDirs, type CgroupDirs } from './path.js';
import { parsePids, sleep, type CgroupSys } from './sys.js';

export type FreezerState = 'THAWED' | 'FREEZING' | 'FROZEN';

/** The pieces of a cgroup the lifecycle functions use. */
export interface CgroupHandle {
  readonly dirs: CgroupDirs;
  readonly sys: CgroupSys;
}

/** The directory whose cgroup.procs lists every process of the cgroup: the cgroup2 one when there is one. */
function procsDir(h: CgroupHandle): string | undefined {
  return h.dirs.unified ?? h.dirs.v1.pids ?? h.dirs.v1.freezer ?? allDirs(h.dirs)[0];
}

function readPids(h: CgroupHandle, dir: string, recursive: boolean): number[] {
  let pids: number[];
  try {
    pids = parsePids(h.sys.readFile(join(dir, 'cgroup.procs')));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENODEV') return [];
    throw fsError(err, 'read', join(dir, 'cgroup.procs'), `read ${join(dir, 'cgroup.procs')}`);
  }
  if (!recursive) return pids;
  let subs: string[] = [];
  try {
    subs = h.sys.subdirs(dir);
  } catch {
    subs = [];
  }
  for (const s of subs) pids.push(...readPids(h, join(dir, s), true));
  return pids;
}

/**
 * Pids in the cgroup (cgroup.procs: thread-group leaders), and with `recursive` those of its
 * child cgroups too (a container may make its own).
 * @returns [] when the cgroup does not exist (any more)
 */
export function listPids(h: CgroupHandle, options: { recursive?: boolean } = {}): number[] {
  const dir = procsDir(h);
  return dir === undefined ? [] : readPids(h, dir, options.recursive ?? false);
}

/**
 * Pids in the cgroup directories `dirs` and every child cgroup below them, each once (runc's
 * GetAllPids: a cgroup whose subtree holds a process is not empty). For the hierarchies a
 * cgroup already had before it was made: on v1 a process may be in one of them only.
 * @returns [] for directories that do not exist
 */
export function pidsUnder(h: CgroupHandle, dirs: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const dir of dirs) for (const pid of readPids(h, dir, true)) pids.add(pid);
  return [...pids];
}

/** How freezing works here: the v1 freezer.state file, or the v2 cgroup.freeze file. */
function freezer(h: CgroupHandle): { kind: 'v1' | 'v2'; dir: string } | undefined {
  if (h.dirs.v1.freezer !== undefined) return { kind: 'v1', dir: h.dirs.v1.freezer };
  if (h.dirs.unified !== undefined && h.sys.exists(join(h.dirs.unified, 'cgroup.freeze'))) return { kind: 'v2', dir: h.dirs.unified };
  return undefined;
}

/**
 * The freezer state: v1 freezer.state as is; v2 FROZEN when cgroup.events says `frozen 1`,
 * FREEZING when cgroup.freeze is 1 but not all tasks stopped yet, else THAWED.
 * @returns undefined when the host has no freezer for this cgroup
 */
export function freezerState(h: CgroupHandle): FreezerState | undefined {
  const f = freezer(h);
  if (!f) return undefined;
  if (f.kind === 'v1') return h.sys.readFile(join(f.dir, 'freezer.state')).trim() as FreezerState;
  if (/^frozen 1$/m.test(h.sys.readFile(join(f.dir, 'cgroup.events')))) return 'FROZEN';
  return h.sys.readFile(join(f.dir, 'cgroup.freeze')).trim() === '1' ? 'FREEZING' : 'THAWED';
}

/**
 * What {@link freezerState} reads, as data: the files and lines any one of which means FROZEN
 * or FREEZING (v1 freezer.state `FROZEN` / `FREEZING`; v2 cgroup.events `frozen 1`,
 * cgroup.freeze `1`). For a reader that cannot call freezerState() (the native front's
 * record, @ns/namespaces front-record.ts). Empty when the host has no freezer for this cgroup.
 */
export function freezerProbes(h: CgroupHandle): { file: string; line: string }[] {
  const f = freezer(h);
  if (!f) return [];
  if (f.kind === 'v1') return ['FROZEN', 'FREEZING'].map((line) => ({ file: join(f.dir, 'freezer.state'), line }));
  return [
    { file: join(f.dir, 'cgroup.events'), line: 'frozen 1' },
    { file: join(f.dir, 'cgroup.freeze'), line: '1' },
  ];
}

function write(h: CgroupHandle, dir: string, file: string, value: string): void {
  const path = join(dir, file);
  try {
    h.sys.writeFile(path, value);
  } catch (err) {
    throw fsError(err, 'write', path, `write ${value} to ${path}`);
  }
}

/**
 * Freeze every process of the cgroup, and wait until the kernel says they all are (v1:
 * freezer.state reads FROZEN, rewriting FROZEN and thawing now and then as runc does, since a
 * v1 freeze can stall while tasks fork; v2: cgroup.events `frozen 1`). On failure the cgroup
 * is thawed again.
 *
 * @param timeoutMs give up after this long (default 5000)
 * @throws CgroupError `ERR_NS_STATE` when there is no freezer or it did not freeze in time; errno codes from the writes
 */
export async function freeze(h: CgroupHandle, timeoutMs = 5000): Promise<void> {
  const f = freezer(h);
  if (!f) throw new CgroupError(ERR_NS_STATE, `no freezer for ${h.dirs.path}: neither a v1 freezer hierarchy nor cgroup.freeze`);
  const deadline = Date.now() + timeoutMs;
  try {
    if (f.kind === 'v2') {
      write(h, f.dir, 'cgroup.freeze', '1');
      while (freezerState(h) !== 'FROZEN') {
        if (Date.now() > deadline) throw new CgroupError(ERR_NS_STATE, `${f.dir} did not freeze within ${timeoutMs} ms`, { path: join(f.dir, 'cgroup.events') });
        await sleep(2);
      }
      return;
    }
    for (let i = 0; ; i++) {
      if (i % 50 === 49) {
        write(h, f.dir, 'freezer.state', 'THAWED');
        await sleep(10);
      }
      write(h, f.dir, 'freezer.state', 'FROZEN');
      const state = h.sys.readFile(join(f.dir, 'freezer.state')).trim();
      if (state === 'FROZEN') return;
      if (state !== 'FREEZING') throw new CgroupError(ERR_NS_STATE, `unexpected freezer state ${state} while freezing ${f.dir}`, { path: join(f.dir, 'freezer.state') });
      if (Date.now() > deadline) throw new CgroupError(ERR_NS_STATE, `${f.dir} stayed FREEZING for ${timeoutMs} ms`, { path: join(f.dir, 'freezer.state') });
      await sleep(1);
    }
  } catch (err) {
    try {
      write(h, f.dir, f.kind === 'v1' ? 'freezer.state' : 'cgroup.freeze', f.kind === 'v1' ? 'THAWED' : '0');
    } catch {
      // the cgroup may be gone; the first error is the one to report
    }
    throw err;
  }
}

/**
 * Thaw the cgroup (v1 freezer.state THAWED, v2 cgroup.freeze 0). A cgroup without a freezer is
 * never frozen, so that is not an error.
 * @throws CgroupError with the errno code of a failed write
 */
export function thaw(h: CgroupHandle): void {
  const f = freezer(h);
  if (!f) return;
  if (f.kind === 'v1') write(h, f.dir, 'freezer.state', 'THAWED');
  else write(h, f.dir, 'cgroup.freeze', '0');
}

/**
 * Wait until the cgroup has no process left.
 * @returns false when `timeoutMs` passed first
 */
export async function waitEmpty(h: CgroupHandle, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; listPids(h, { recursive: true }).length > 0; delay = Math.min(delay * 2, 50)) {
    if (Date.now() > deadline) return false;
    await sleep(delay);
  }
  return true;
}

/**
 * Send `signal` to every process of the cgroup (runc's signalAllProcesses). SIGKILL on v2 with
 * cgroup.kill: one write, the kernel kills every task, even those forking meanwhile. Otherwise
 * freeze (when a freezer exists, so nothing forks away), signal each pid of cgroup.procs, thaw;
 * with SIGKILL, repeat until the cgroup is empty.
 *
 * @param signal default SIGKILL
 * @param timeoutMs for SIGKILL, how long to wait for the cgroup to empty (default 5000)
 * @throws CgroupError `ERR_NS_STATE` when processes survive SIGKILL for `timeoutMs`; errno codes from kill(2) other than ESRCH
 */
export async function killAll(h: CgroupHandle, signal: NodeJS.Signals | number = 'SIGKILL', timeoutMs = 5000): Promise<void> {
  const isKill = signal === 'SIGKILL' || signal === 9;
  const deadline = Date.now() + timeoutMs;
  const kill = h.dirs.unified === undefined ? undefined : join(h.dirs.unified, 'cgroup.kill');
  if (isKill && kill !== undefined && h.sys.exists(kill)) {
    write(h, h.dirs.unified!, 'cgroup.kill', '1');
    if (await waitEmpty(h, timeoutMs)) return;
    throw new CgroupError(ERR_NS_STATE, `processes of ${h.dirs.path} survived cgroup.kill for ${timeoutMs} ms`, { path: kill });
  }
  const canFreeze = freezer(h) !== undefined;
  for (;;) {
    const pids = listPids(h, { recursive: true });
    if (pids.length === 0) return;
    if (canFreeze) await freeze(h, Math.max(100, deadline - Date.now())).catch(() => undefined);
    try {
      for (const pid of pids) h.sys.kill(pid, signal);
    } finally {
      if (canFreeze) thaw(h);
    }
    if (!isKill) return;
    if (await waitEmpty(h, Math.min(200, Math.max(0, deadline - Date.now())))) return;
    if (Date.now() > deadline) throw new CgroupError(ERR_NS_STATE, `processes of ${h.dirs.path} survived SIGKILL for ${timeoutMs} ms: ${listPids(h, { recursive: true }).join(' ')}`);
  }
}
