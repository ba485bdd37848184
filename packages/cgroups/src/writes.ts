/**
 * Writing a plan's cgroup files (Cgroup.apply): the v2 controller check, update()'s memory
 * check, and the writes in order with their fallbacks and runc's EINVAL retry.
 */
import { join } from 'node:path';
import { CgroupError, ERR_NS_CONFIG, configError, errnoCode, fsError } from './errors.js';
import type { CgroupDirs } from './path.js';
import { FileWriter, type CgroupSys } from './sys.js';
import type { CgroupCheck, CgroupWrite } from './types.js';

/** What of a Cgroup these use. */
export interface WritesOwner {
  readonly path: string;
  readonly dirs: CgroupDirs;
  readonly sys: CgroupSys;
}

/** Words of a space-separated cgroup file (cgroup.controllers). */
const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

/** v2 writes need their controller enabled for the cgroup (its cgroup.controllers). */
export function checkControllers(cg: WritesOwner, writes: CgroupWrite[]): void {
  const dir = cg.dirs.unified;
  const needed = writes.filter((w) => w.version === 2 && w.controller !== 'cgroup');
  if (dir === undefined || needed.length === 0) return;
  const enabled = new Set(words(cg.sys.readFile(join(dir, 'cgroup.controllers'))));
  for (const w of needed) {
    if (!enabled.has(w.controller)) {
      throw configError(w.jsonPath, `the ${w.controller} controller is not enabled for ${dir} (not in its parent's cgroup.subtree_control)`, join(dir, w.file));
    }
  }
}

/** A memory limit check of update(): the new limit must be above the current usage. */
export function runCheck(cg: WritesOwner, check: CgroupCheck): void {
  const dir = cg.dirs.v1.memory ?? cg.dirs.unified!;
  const read = (file: string): number => Number(cg.sys.readFile(join(dir, file)).trim());
  const used = read('memory.current') + (check.withSwap && cg.sys.exists(join(dir, 'memory.swap.current')) ? read('memory.swap.current') : 0);
  if (check.limit <= used) {
    throw configError(check.jsonPath, `the new limit ${check.limit} is not above the current usage ${used}`, join(dir, 'memory.current'));
  }
}

/**
 * Each write in order: a missing file uses its fallback, or is skipped when optional, or fails
 * naming the field; a write marked retryOnEINVAL is retried once after the others.
 */
export function runWrites(cg: WritesOwner, writes: CgroupWrite[]): void {
  const writer = new FileWriter(cg.sys);
  const deferred: CgroupWrite[] = [];
  const one = (w: CgroupWrite, retry: boolean): void => {
    const dir = w.version === 1 ? cg.dirs.v1[w.controller] : cg.dirs.unified;
    if (dir === undefined) throw configError(w.jsonPath, `no ${w.controller} controller directory for ${cg.path}`);
    const files = [{ file: w.file, value: w.value }, ...(w.fallback ? [w.fallback] : [])];
    for (const [i, f] of files.entries()) {
      const path = join(dir, f.file);
      try {
        writer.write(path, f.value);
        return;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' && i < files.length - 1) continue;
        if (code === 'ENOENT' && w.optional) return;
        if (code === 'ENOENT') {
          const tried = files.map((x) => x.file).join(' or ');
          throw new CgroupError(ERR_NS_CONFIG, `${w.jsonPath}: this host cannot honour it: ${tried} does not exist in ${dir}`, { path, jsonPath: w.jsonPath, cause: err });
        }
        if (code === 'EINVAL' && w.retryOnEINVAL && retry) {
          deferred.push(w);
          return;
        }
        throw writeError(cg, err, path, f.value, w);
      }
    }
  };
  try {
    for (const w of writes) one(w, true);
    for (const w of deferred) one(w, false);
  } finally {
    writer.close();
  }
}

/** A refused write, with the memory usage when a v1 limit is below it (runc's message). */
function writeError(cg: WritesOwner, err: unknown, path: string, value: string, w: CgroupWrite): CgroupError {
  const e = fsError(err, 'write', path, `write ${JSON.stringify(value)} to ${path}`, w.jsonPath);
  if (errnoCode(err) === 'EBUSY' && w.file === 'memory.limit_in_bytes') {
    try {
      const dir = cg.dirs.v1.memory!;
      const usage = cg.sys.readFile(join(dir, 'memory.usage_in_bytes')).trim();
      const peak = cg.sys.readFile(join(dir, 'memory.max_usage_in_bytes')).trim();
      e.message += ` (current usage ${usage}, peak ${peak})`;
    } catch {
      // keep the plain message
    }
  }
  return e;
}
