/**
 * A v1 freezer cgroup made when a cgroup is first paused, not at every start. A container's
 * cgroup made with `hierarchies: 'needed'` is not in the freezer hierarchy (ALWAYS_V1): each
 * mkdir, join and rmdir there cost a start about 50 µs, and most containers are never paused.
 * Pausing one makes the freezer cgroup, sets it FROZEN while it is still empty, and moves the
 * cgroup's processes in (those of its pids or other process-tracking directory, and of its
 * child cgroups there): a task that joins a frozen freezer cgroup freezes (freezer_attach), so
 * a process that forks meanwhile is caught on the next pass, until every process is in.
 * @see Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst, cgroups(7) "cgroup.procs"
 */
import { dirname, join } from 'node:path';
import { CgroupError, ERR_NS_STATE, errnoCode, fsError } from './errors.js';
import type { CgroupLayout } from './layout.js';
import { listPids, type CgroupHandle } from './lifecycle.js';
import { allDirs, type CgroupDirs } from './path.js';
import { parsePids, sleep, type CgroupSys } from './sys.js';

/** What of a Cgroup these functions use. */
export interface FreezerOwner extends CgroupHandle {
  readonly path: string;
  readonly layout: CgroupLayout;
  dirs: CgroupDirs;
  readonly sys: CgroupSys;
}

/**
 * The freezer directory a cgroup without one would get: on a host with a v1 freezer
 * hierarchy, for a cgroup that is in v1 hierarchies but not that one; else undefined.
 */
export function lazyFreezerDir(cg: FreezerOwner): string | undefined {
  if (cg.dirs.v1.freezer !== undefined || Object.keys(cg.dirs.v1).length === 0) return undefined;
  const h = cg.layout.v1.find((x) => x.controllers.includes('freezer'));
  return h === undefined ? undefined : join(h.mountPoint, cg.path);
}

function write(sys: CgroupSys, dir: string, file: string, value: string): void {
  const path = join(dir, file);
  try {
    sys.writeFile(path, value);
  } catch (err) {
    throw fsError(err, 'write', path, `write ${value} to ${path}`);
  }
}

/**
 * Give `cg` a v1 freezer cgroup holding all its processes, frozen (see the module note), and
 * add it to `cg.dirs`. Does nothing when it has one or the host has no v1 freezer.
 * @param timeoutMs how long processes may keep escaping by forking (default 5000)
 * @throws CgroupError errno codes of a failed mkdir or write (naming the path); `ERR_NS_STATE`
 *   when processes were still outside after `timeoutMs`. The freezer cgroup is thawed then.
 */
export async function joinFrozenV1Freezer(cg: FreezerOwner, timeoutMs = 5000): Promise<void> {
  const dir = lazyFreezerDir(cg);
  if (dir === undefined) return;
  const mountPoint = cg.layout.v1.find((x) => x.controllers.includes('freezer'))!.mountPoint;
  // mkdir -p (a parent level may be missing in this hierarchy only).
  const levels: string[] = [];
  for (let d = dir; d !== mountPoint && d !== dirname(d); d = dirname(d)) levels.unshift(d);
  for (const d of levels) {
    try {
      cg.sys.mkdir(d);
    } catch (err) {
      throw fsError(err, 'mkdir', d, `mkdir ${d}`);
    }
  }
  const deadline = Date.now() + timeoutMs;
  write(cg.sys, dir, 'freezer.state', 'FROZEN');
  try {
    let before = new Set<number>();
    for (;;) {
      // Every process of the cgroup, from the directories it has (freezer not among them yet).
      const want = listPids(cg, { recursive: true });
      const inside = new Set(parsePids(cg.sys.readFile(join(dir, 'cgroup.procs'))));
      const outside = want.filter((p) => !inside.has(p));
      // Done; or only processes already written once are left: exiting ones, which the kernel
      // does not move (and which run nothing more).
      if (outside.every((p) => before.has(p))) break;
      before = new Set(outside);
      if (Date.now() > deadline) throw new CgroupError(ERR_NS_STATE, `processes of ${cg.path} kept escaping the freezer for ${timeoutMs} ms: ${outside.join(' ')}`, { path: join(dir, 'cgroup.procs') });
      for (const pid of outside) {
        try {
          cg.sys.writeFile(join(dir, 'cgroup.procs'), String(pid));
        } catch (err) {
          if (errnoCode(err) !== 'ESRCH') throw fsError(err, 'write', join(dir, 'cgroup.procs'), `write ${pid} to ${join(dir, 'cgroup.procs')}`);
        }
      }
      await sleep(0);
    }
  } catch (err) {
    try {
      write(cg.sys, dir, 'freezer.state', 'THAWED');
    } catch {
      // the first error is the one to report
    }
    throw err;
  }
  adoptLazyFreezer(cg);
}

/**
 * Add to `cg.dirs` a freezer cgroup made by a pause elsewhere (another process's handle, `ns
 * pause`), when there is one: before thawing, killing or reading the freezer state.
 */
export function adoptLazyFreezer(cg: FreezerOwner): void {
  const dir = lazyFreezerDir(cg);
  if (dir === undefined || !cg.sys.exists(dir)) return;
  const h = cg.layout.v1.find((x) => x.controllers.includes('freezer'))!;
  cg.dirs = { ...cg.dirs, v1: { ...cg.dirs.v1, ...Object.fromEntries(h.controllers.map((c) => [c, dir])) } };
}

/**
 * Remove a freezer cgroup made by a pause (in this process or another one) that `cg.dirs` does
 * not list, when there is one: a stat(2) first, as there usually is none (an rmdir's ENOENT
 * costs Node an exception, ~40 us of every limited start's end). Throws as rmdir (EBUSY with
 * processes).
 */
export function removeLazyFreezer(cg: FreezerOwner, rmdir: (dir: string) => void): void {
  const dir = lazyFreezerDir(cg);
  if (dir !== undefined && !allDirs(cg.dirs).includes(dir) && cg.sys.exists(dir)) rmdir(dir);
}
