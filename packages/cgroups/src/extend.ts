/**
 * `update` of a cgroup made with `hierarchies: 'needed'` (Cgroup.create): a new limit of a
 * controller whose hierarchy the cgroup is not in yet (cpu shares of a container started
 * without, the cpuset of the kubelet's CPU manager, a hugetlb limit on a hybrid host's cgroup2
 * tree). runc's cgroup is in every hierarchy, so its `update` just writes; here the cgroup is
 * made in that hierarchy first and the container's processes are moved into it, so the limit
 * applies to them as it would with runc.
 */
import { join } from 'node:path';
import { CgroupError, ERR_NS_STATE, errnoCode, fsError } from './errors.js';
import type { CgroupLayout } from './layout.js';
import { makeCgroupDirs } from './mkdir.js';
import { allDirs, cgroupDirs, type CgroupDirs } from './path.js';
import { parsePids, type CgroupSys } from './sys.js';
import type { CgroupWrite } from './types.js';

/** What of a Cgroup this uses; `dirs` is replaced by the extended set. */
export interface ExtendOwner {
  readonly path: string;
  readonly layout: CgroupLayout;
  dirs: CgroupDirs;
  readonly sys: CgroupSys;
  pids(): number[];
}

/** How many passes of moving processes before giving up (each pass moves what forked meanwhile). */
const MAX_PASSES = 20;

/**
 * The directories `writes` need that `dirs` lacks: each v1 controller's hierarchy directory (all
 * controllers co-mounted with it come along: cpu with cpuacct), and the cgroup2 one for v2 writes
 * on a hybrid host. Empty when the cgroup is in every hierarchy a write goes to.
 */
export function missingDirs(layout: CgroupLayout, dirs: CgroupDirs, writes: readonly CgroupWrite[]): CgroupDirs {
  const full = cgroupDirs(layout, dirs.path);
  const v1: Record<string, string> = {};
  for (const w of writes) {
    if (w.version !== 1 || dirs.v1[w.controller] !== undefined || full.v1[w.controller] === undefined) continue;
    const dir = full.v1[w.controller]!;
    for (const [c, d] of Object.entries(full.v1)) if (d === dir) v1[c] = d;
  }
  const unified = dirs.unified === undefined && full.unified !== undefined && writes.some((w) => w.version === 2);
  return { path: dirs.path, v1, ...(unified ? { unified: full.unified } : {}) };
}

/**
 * Make `owner`'s cgroup in the hierarchies of `add` (missingDirs) and move every process of the
 * cgroup (owner.pids()) into each new directory, pass after pass until a pass finds nothing
 * left to move (a process that forked meanwhile has a child where the parent was). Then
 * `owner.dirs` includes them. Gone processes (`ESRCH`) are skipped.
 * @throws CgroupError errno codes of a failed mkdir or cgroup.procs write (naming the file);
 *   `ERR_NS_STATE` when processes still appear after 20 passes (a fork storm)
 */
export function extendToDirs(owner: ExtendOwner, add: CgroupDirs): void {
  const targets = allDirs(add);
  if (targets.length === 0) return;
  makeCgroupDirs({ path: owner.path, layout: owner.layout, dirs: add, sys: owner.sys }, []);
  for (let pass = 0; ; pass++) {
    let moved = 0;
    const pids = owner.pids();
    for (const dir of targets) {
      const procs = join(dir, 'cgroup.procs');
      const there = new Set(parsePids(owner.sys.readFile(procs)));
      for (const pid of pids) {
        if (there.has(pid)) continue;
        try {
          owner.sys.writeFile(procs, String(pid));
          moved++;
        } catch (err) {
          if (errnoCode(err) !== 'ESRCH') throw fsError(err, 'write', procs, `move process ${pid} into ${procs}`);
        }
      }
    }
    if (moved === 0) break;
    if (pass >= MAX_PASSES) throw new CgroupError(ERR_NS_STATE, `processes of ${owner.path} kept appearing while moving them into ${targets.join(', ')}`, { path: targets[0]! });
  }
  owner.dirs = { path: owner.dirs.path, v1: { ...owner.dirs.v1, ...add.v1 }, ...(add.unified ?? owner.dirs.unified ? { unified: add.unified ?? owner.dirs.unified } : {}) };
}
