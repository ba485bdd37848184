/**
 * Applying a planned `linux.resources` to a cgroup's directories (Cgroup.apply): the checks,
 * the writes in order (fallback files, optional ones, runc's EINVAL retry for cpu period /
 * memory limit ordering) and the v2 device filter.
 */
import { join } from 'node:path';
import type { DeviceFilter } from './bpf.js';
import { CgroupError, ERR_NS_CONFIG, configError, errnoCode, fsError } from './errors.js';
import type { CgroupPlan } from './plan.js';
import type { CgroupDirs } from './path.js';
import { FileWriter, type CgroupSys } from './sys.js';
import type { CgroupCheck, CgroupWrite } from './types.js';

/** What of a Cgroup applying uses. */
export interface ApplyTarget {
  readonly path: string;
  readonly dirs: CgroupDirs;
  readonly sys: CgroupSys;
}

export interface ApplyHooks {
  /** CgroupOptions.attachDeviceFilter. */
  attachDeviceFilter?: ((dir: string, filter: DeviceFilter) => void) | undefined;
}

/** Words of a space-separated cgroup file (cgroup.controllers). */
const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

/**
 * Apply `plan` to `cg`: controllers enabled for its v2 writes, the checks, the writes, the
 * device filter.
 * @throws CgroupError `ERR_NS_CONFIG` naming the field (and file), or the errno code of the write the kernel refused
 */
export function applyPlan(cg: ApplyTarget, plan: CgroupPlan, hooks: ApplyHooks, options: { fresh?: boolean } = {}): void {
  // A cgroup made just now has nothing to keep unchanged: a controller that is not enabled is
  // found from the write that fails (its file is missing), not by reading cgroup.controllers
  // before every start.
  if (!options.fresh) checkControllers(cg, plan.writes);
  for (const check of plan.checks) runCheck(cg, check);
  runWrites(cg, plan.writes);
  if (plan.deviceFilter) attach(cg, plan.deviceFilter, hooks.attachDeviceFilter);
}

function checkControllers(cg: ApplyTarget, writes: CgroupWrite[]): void {
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

function runCheck(cg: ApplyTarget, check: CgroupCheck): void {
  const dir = cg.dirs.v1.memory ?? cg.dirs.unified!;
  const read = (file: string): number => Number(cg.sys.readFile(join(dir, file)).trim());
  const used = read('memory.current') + (check.withSwap && cg.sys.exists(join(dir, 'memory.swap.current')) ? read('memory.swap.current') : 0);
  if (check.limit <= used) {
    throw configError(check.jsonPath, `the new limit ${check.limit} is not above the current usage ${used}`, join(dir, 'memory.current'));
  }
}

function runWrites(cg: ApplyTarget, writes: CgroupWrite[]): void {
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
      } catch (err) {
        const code = errnoCode(err);
        // No such file on v2: first, a controller not enabled for the cgroup (named as before).
        if (code === 'ENOENT' && w.version === 2) checkControllers(cg, [w]);
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
      // Written (every failure above went on, returned or threw).
      if (w.verifyLimit) verifyLimit(cg, path, f.value, w);
      return;
    }
  };
  try {
    // A limit read back (verifyLimit) goes first: when the kernel ignores it, nothing else of
    // the call is written (an update refused leaves the old limits).
    for (const w of writes) if (w.verifyLimit) one(w, true);
    for (const w of writes) if (!w.verifyLimit) one(w, true);
    for (const w of deferred) one(w, false);
  } finally {
    writer.close();
  }
}

/** A v1 limit file reads this much (PAGE_COUNTER_MAX pages) or more when it is unlimited. */
const UNLIMITED_V1 = 2n ** 62n;

/**
 * After the write of the finite limit `value` to `path` (CgroupWrite.verifyLimit): the file
 * still reading unlimited means the kernel ignores the field, which would leave the container
 * with less confinement than its config asks for.
 * @throws CgroupError `ERR_NS_CONFIG` naming the field and the file
 */
function verifyLimit(cg: ApplyTarget, path: string, value: string, w: CgroupWrite): void {
  let now: bigint;
  try {
    now = BigInt(cg.sys.readFile(path).trim());
  } catch {
    return; // unreadable: the write itself was taken, as for any other field
  }
  if (now >= UNLIMITED_V1 && BigInt(value) < UNLIMITED_V1) {
    throw configError(w.jsonPath, `this kernel does not honour it: ${path} still reads ${now} after ${value} was written (Linux 5.16 dropped kernel memory limits; remove the field)`, path);
  }
}

/** A refused write, with the memory usage when a v1 limit is below it (runc's message). */
function writeError(cg: ApplyTarget, err: unknown, path: string, value: string, w: CgroupWrite): CgroupError {
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

function attach(cg: ApplyTarget, filter: DeviceFilter, hook: ApplyHooks['attachDeviceFilter']): void {
  const dir = cg.dirs.unified!;
    if (!hook) {
    throw configError(
      'linux.resources.devices',
      `device rules on cgroup v2 need a BPF device filter loaded and attached to ${dir} (bpf(2)); no attachDeviceFilter was given (or pass devices: false to leave device access alone)`,
    );
  }
  hook(dir, filter);
}
