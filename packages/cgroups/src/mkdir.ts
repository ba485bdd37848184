/**
 * Making a cgroup's directories: runc's mkdir -p per hierarchy, with what each kind of level
 * needs before a process can join (v1 cpuset cpus/mems, v2 subtree_control).
 */
import { dirname, join } from 'node:path';
import { errnoCode, fsError } from './errors.js';
import type { CgroupLayout } from './layout.js';
import type { CgroupDirs } from './path.js';
import { parsePids, type CgroupSys } from './sys.js';

/** What of a Cgroup these functions use. */
export interface DirsOwner {
  readonly path: string;
  readonly layout: CgroupLayout;
  readonly dirs: CgroupDirs;
  readonly sys: CgroupSys;
}

/**
 * cgroup2 levels this process found with every controller their cgroup.controllers offers
 * enabled in their cgroup.subtree_control, per CgroupSys: the next cgroup made below one is
 * made without reading those files again (two reads and a stat a start). A controller disabled
 * there since shows as a write whose file is missing; Cgroup.create() then forgets these
 * (forgetEnabledParents) and makes the cgroup once more, reading them.
 */
const enabledParents = new WeakMap<CgroupSys, Set<string>>();

/** Read every parent's subtree_control again at the next create (see enabledParents). @returns whether any was remembered */
export function forgetEnabledParents(sys: CgroupSys): boolean {
  const had = (enabledParents.get(sys)?.size ?? 0) > 0;
  enabledParents.delete(sys);
  return had;
}

function remember(sys: CgroupSys, dir: string): void {
  const known = enabledParents.get(sys);
  if (known) known.add(dir);
  else enabledParents.set(sys, new Set([dir]));
}

/** Words of a space-separated cgroup file (cgroup.controllers, cgroup.subtree_control). */
const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

function writeOrThrow(cg: DirsOwner, dir: string, file: string, value: string): void {
  const path = join(dir, file);
  try {
    cg.sys.writeFile(path, value);
  } catch (err) {
    throw fsError(err, 'write', path, `write ${JSON.stringify(value)} to ${path}`);
  }
}

/**
 * mkdir the cgroup in each hierarchy of `cg.dirs` (Cgroup.create): one mkdir when the parent
 * exists, else level by level; v2 levels get their controllers enabled, new v1 cpusets their
 * parent's cpus and mems. Appends what it made to `created` (to remove on failure).
 * @throws CgroupError errno codes of a failed mkdir or write, naming the path
 */
export function makeCgroupDirs(cg: DirsOwner, created: string[]): void {
  const mine = new Set(Object.values(cg.dirs.v1));
  const hierarchies = [...cg.layout.v1.filter((h) => mine.has(join(h.mountPoint, cg.path))), ...(cg.layout.unified && cg.dirs.unified ? [cg.layout.unified] : [])];
  for (const h of hierarchies) {
    const leaf = join(h.mountPoint, cg.path);
    const parent = dirname(leaf);
    // Fast path: the parent exists (the usual case), one mkdir; on v2 its subtree_control
    // gets the controllers first, so the new cgroup has them from the start (runc's order).
    if (h.version === 2 && parent !== h.mountPoint && !enabledParents.get(cg.sys)?.has(parent) && cg.sys.exists(parent) && enableControllers(cg, parent)) {
      remember(cg.sys, parent);
    }
    let fresh = false;
    try {
      fresh = cg.sys.mkdir(leaf);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw fsError(err, 'mkdir', leaf, `mkdir ${leaf}`);
      enabledParents.get(cg.sys)?.delete(parent); // gone: made again level by level
      makeLevels(cg, h.mountPoint, h.version, created);
      fresh = false;
    }
    if (fresh) created.push(leaf);
    if (h.version === 1 && h.controllers.includes('cpuset')) ensureCpuset(cg, leaf, h.mountPoint);
  }
}

/** mkdir -p, level by level, enabling v2 controllers in each new intermediate level. */
function makeLevels(cg: DirsOwner, mountPoint: string, version: 1 | 2, created: string[]): void {
  const segs = cg.path.split('/').slice(1);
  let dir = mountPoint;
  segs.forEach((seg, i) => {
    dir = join(dir, seg);
    try {
      if (cg.sys.mkdir(dir)) created.push(dir);
    } catch (err) {
      throw fsError(err, 'mkdir', dir, `mkdir ${dir}`);
    }
    if (version === 2 && i < segs.length - 1 && enableControllers(cg, dir)) remember(cg.sys, dir);
  });
}

/**
 * runc's copyIfNeeded: a new v1 cpuset has empty cpus/mems, so nothing could join it; copy
 * them from the parent, fixing empty ancestors first (an empty cpuset holds no process, so
 * this never touches a cgroup in use).
 */
function ensureCpuset(cg: DirsOwner, dir: string, mountPoint: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if (cg.sys.readFile(join(dir, file)).trim() !== '') continue;
    const parent = dirname(dir);
    if (parent !== mountPoint) ensureCpuset(cg, parent, mountPoint);
    writeOrThrow(cg, dir, file, cg.sys.readFile(join(parent, file)).trim());
  }
}

/**
 * Enable in a v2 level's subtree_control what its cgroup.controllers offers (runc enables all).
 * @returns true when every one is enabled (now or before); false when some could not be
 */
function enableControllers(cg: DirsOwner, dir: string): boolean {
  const available = words(cg.sys.readFile(join(dir, 'cgroup.controllers')));
  const enabled = new Set(words(cg.sys.readFile(join(dir, 'cgroup.subtree_control'))));
  const want = available.filter((c) => !enabled.has(c));
  if (want.length === 0) return true;
  // A level with processes cannot enable domain controllers, and is not ours to change.
  if (parsePids(cg.sys.readFile(join(dir, 'cgroup.procs'))).length > 0) return false;
  try {
    cg.sys.writeFile(join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
    return true;
  } catch {
    // One refusing controller (cpu with realtime tasks ...) fails the whole write: try each.
    let all = true;
    for (const c of want) {
      try {
        cg.sys.writeFile(join(dir, 'cgroup.subtree_control'), `+${c}`);
      } catch {
        all = false; // left disabled; a field needing it fails in apply() with its name
      }
    }
    return all;
  }
}
