/**
 * The cgroup manager: create a container's cgroup in every hierarchy, write its limits, add
 * processes, read stats, freeze, kill and remove it — what runc's libcontainer/cgroups/fs and
 * fs2 managers and youki's libcgroups do. Creating, applying and adding a process are
 * synchronous (they run inside the spawn engine's parent sync step); waiting ones are async.
 */
import { join } from 'node:path';
import type { DeviceFilter } from './bpf.js';
import { CgroupError, ERR_NS_CONFIG, ERR_NS_STATE, configError, errnoCode, fsError } from './errors.js';
import { extendToDirs, missingDirs } from './extend.js';
import { neededHierarchies, parentHierarchies, presentHierarchies } from './hierarchies.js';
import { adoptLazyFreezer, joinFrozenV1Freezer, lazyFreezerDir, removeLazyFreezer } from './freezer-v1.js';
import { applyPlan } from './apply.js';
import { forgetEnabledParents, makeCgroupDirs } from './mkdir.js';
import { detectLayout, processCgroupDirs, type CgroupHierarchy, type CgroupLayout } from './layout.js';
import { freeze, freezerProbes, freezerState, killAll, listPids, pidsUnder, thaw, type CgroupHandle, type FreezerState } from './lifecycle.js';
import { allDirs, cgroupDirs, type CgroupDirs } from './path.js';
import { planResources, type CgroupPlan } from './plan.js';
import { readOomKills, readStats, type CgroupStats } from './stats.js';
import { hostSys, sleep, type CgroupSys } from './sys.js';
import type { LinuxResources } from './types.js';

export interface CgroupOptions {
  /** The host layout (default: detectLayout()). */
  layout?: CgroupLayout;
  /** Host operations (default: the real ones; tests pass a recording fake). */
  sys?: CgroupSys;
  /**
   * Load a compiled device filter and attach it to the cgroup2 directory: bpf(2)
   * BPF_PROG_LOAD (BPF_PROG_TYPE_CGROUP_DEVICE) then BPF_PROG_ATTACH (BPF_CGROUP_DEVICE,
   * BPF_F_ALLOW_MULTI), replacing a previous one. Needed when device rules apply on a host
   * whose devices cgroup is v2; the native addon will provide it.
   */
  attachDeviceFilter?: (dir: string, filter: DeviceFilter) => void;
  /** Apply device rules on create (the config's, then runc's defaults; default true). */
  devices?: boolean;
  /** Append runc's default allow list to the config's device rules (default true). */
  defaultDevices?: boolean;
  /**
   * Which v1 hierarchies to make the cgroup in (cgroup v2 has one directory anyway): `all`
   * (default, as runc), or `needed`: those the limits write to, devices when device rules
   * apply, and memory, pids and cpuacct (OOM kills, processes, cpu usage); freezer only once
   * paused (freeze() makes it then).
   * Every mkdir, attach and rmdir in a v1 hierarchy costs a start; open() then sees only the
   * hierarchies where the cgroup exists.
   */
  hierarchies?: 'all' | 'needed';
  /**
   * With `hierarchies: 'needed'`, also every hierarchy where the cgroup's parent exists
   * (parentHierarchies): limits someone set on the parent (a Kubernetes pod's cgroup) then
   * reach the container, as with runc. For a cgroupsPath the config gives; not for the
   * runtime's own default parent, which only it makes (default false).
   */
  followParent?: boolean;
}

/** An absolute, normalized cgroup path other than the root. */
function checkPath(path: string): void {
  if (!path.startsWith('/') || path === '/' || path.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..')) {
    throw configError('linux.cgroupsPath', `expected a normalized absolute cgroup path below the root, got ${JSON.stringify(path)} (see resolveCgroupPath)`);
  }
}

/**
 * The cgroup directories this process (the runtime) lives in, read once per layout: a runtime
 * is not moved between cgroups under its feet, and /proc/self/cgroup costs a start a read.
 */
const ownDirsCache = new WeakMap<CgroupLayout, string[]>();
function ownDirs(layout: CgroupLayout): string[] {
  let own = ownDirsCache.get(layout);
  if (own === undefined) {
    try {
      own = processCgroupDirs(layout, 'self');
    } catch {
      own = [];
    }
    ownDirsCache.set(layout, own);
  }
  return own;
}

/** One container's cgroup, in every hierarchy of the host. */
export class Cgroup implements CgroupHandle {
  /** The cgroup path inside every hierarchy (`/ns/web1`). */
  readonly path: string;
  dirs: CgroupDirs;
  readonly layout: CgroupLayout;
  readonly sys: CgroupSys;
  private readonly options: CgroupOptions;

  private constructor(path: string, options: CgroupOptions) {
    checkPath(path);
    this.path = path;
    this.options = options;
    this.layout = options.layout ?? detectLayout();
    this.sys = options.sys ?? hostSys;
    this.dirs = cgroupDirs(this.layout, path);
    // Never manage a cgroup this process itself lives in (or, by construction, a hierarchy root).
    const own = ownDirs(this.layout);
    for (const d of allDirs(this.dirs)) {
      if (own.includes(d)) throw new CgroupError(ERR_NS_STATE, `${d} is a cgroup this process (the runtime) lives in: refusing to manage it`, { path: d });
    }
  }

  /**
   * Create the cgroup (mkdir -p in every hierarchy; on v1 copy cpuset.cpus/mems from the parent
   * into each new cpuset level, runc's copyIfNeeded; on v2 enable the available controllers in
   * the cgroup.subtree_control of each level between the top and the new cgroup, skipping any
   * level that holds processes), then apply `resources` (with the device rules unless
   * `options.devices` is false). On any failure, what was created is removed again.
   *
   * @param path an absolute cgroup path (resolveCgroupPath)
   * @param resources `linux.resources`; unset: no limits, but still the default device rules
   * @throws CgroupError `ERR_NS_CONFIG` (bad or unsupported field, naming it), `ERR_NS_STATE`
   *   (the cgroup exists and holds processes, or is the runtime's own), errno codes of a failed
   *   mkdir or write (naming the file and field)
   */
  static create(path: string, resources: LinuxResources = {}, options: CgroupOptions = {}): Cgroup {
    try {
      return Cgroup.createOnce(path, resources, options);
    } catch (err) {
      // A controller disabled in a parent since this process last enabled them there (mkdir.ts
      // remembers such parents): read and enable them again, once.
      const stale = err instanceof CgroupError && err.code === ERR_NS_CONFIG && /controller is not enabled/.test(err.message);
      if (!stale || !forgetEnabledParents(options.sys ?? hostSys)) throw err;
      return Cgroup.createOnce(path, resources, options);
    }
  }

  private static createOnce(path: string, resources: LinuxResources, options: CgroupOptions): Cgroup {
    const cg = new Cgroup(path, options);
    if (options.hierarchies === 'needed') {
      const needed = neededHierarchies(resources, cg.layout, { devices: options.devices ?? true, defaultDevices: options.defaultDevices ?? true });
      // And wherever its parent exists: limits set there must reach the container (a pod's).
      const parents = options.followParent ? parentHierarchies(cg.layout, path, needed, (d) => cg.sys.exists(d)) : { v1: [], unified: false };
      // And wherever the cgroup exists already: what is there would be the container's to list,
      // freeze, kill and remove (open() goes by what exists); checked for processes below.
      const have = { v1: [...needed.v1, ...parents.v1], unified: needed.unified || parents.unified };
      const present = presentHierarchies(cg.layout, path, have, (d) => cg.sys.exists(d));
      cg.keepV1([...have.v1, ...present.v1]);
      if (!have.unified && !present.unified) cg.dirs = { path: cg.dirs.path, v1: cg.dirs.v1 };
    }
    const created: string[] = [];
    try {
      cg.makeDirs(created);
      // A cgroup made just now is empty: look for processes only in the directories that were
      // there, and in their child cgroups too (a container's exit kills and removes the whole
      // subtree: a process of the host's there would die with it).
      const existing = allDirs(cg.dirs).filter((d) => !created.includes(d));
      const busy = existing.length === 0 ? [] : pidsUnder(cg, existing);
      if (busy.length) throw new CgroupError(ERR_NS_STATE, `cgroup ${path} already holds processes, in it or in its child cgroups (${busy.join(' ')})`, { path: existing[0]! });
      cg.apply(resources, { devices: options.devices ?? true, fresh: true });
    } catch (err) {
      for (const dir of created.reverse()) {
        try {
          cg.sys.rmdir(dir);
        } catch {
          // best effort: the original error matters more
        }
      }
      throw err;
    }
    return cg;
  }

  /**
   * An existing cgroup (to update, add a process to, pause, kill or remove), without creating
   * anything. A missing one is fine: destroy() of it does nothing.
   * @throws CgroupError `ERR_NS_CONFIG` for a bad path, `ERR_NS_STATE` for the runtime's own cgroup
   */
  static open(path: string, options: CgroupOptions = {}): Cgroup {
    const cg = new Cgroup(path, options);
    // Made with `hierarchies: 'needed'`, it is in some v1 hierarchies only: those it is in.
    const there = Object.entries(cg.dirs.v1).filter(([, dir]) => cg.sys.exists(dir));
    if (there.length > 0 && there.length < Object.keys(cg.dirs.v1).length) cg.dirs = { ...cg.dirs, v1: Object.fromEntries(there) };
    // On a hybrid host, one without a cgroup2 directory (neededUnified).
    if (there.length > 0 && cg.dirs.unified !== undefined && !cg.sys.exists(cg.dirs.unified)) cg.dirs = { path: cg.dirs.path, v1: cg.dirs.v1 };
    return cg;
  }

  /** Keep only the directories in `hierarchies` (neededV1Hierarchies). */
  private keepV1(hierarchies: readonly CgroupHierarchy[]): void {
    const keep = hierarchies.map((h) => h.mountPoint);
    const v1 = Object.entries(this.dirs.v1).filter(([, dir]) => keep.some((m) => dir.startsWith(`${m}/`)));
    this.dirs = { ...this.dirs, v1: Object.fromEntries(v1) };
  }

  /** Whether the cgroup directory exists in every hierarchy. */
  exists(): boolean {
    return allDirs(this.dirs).every((d) => this.sys.exists(d));
  }

  private makeDirs(created: string[]): void {
    makeCgroupDirs(this, created);
  }

  private writeOrThrow(dir: string, file: string, value: string, jsonPath?: string): void {
    const path = join(dir, file);
    try {
      this.sys.writeFile(path, value);
    } catch (err) {
      throw fsError(err, 'write', path, `write ${JSON.stringify(value)} to ${path}`, jsonPath);
    }
  }

  /**
   * Write `linux.resources` into the cgroup (planResources, then each write in order). A write
   * whose file is missing uses its fallback, or is skipped when optional, or fails naming the
   * field; a write marked retryOnEINVAL is retried once after the others (runc's cpu period /
   * memory limit ordering). v2 writes need their controller enabled for this cgroup.
   *
   * @param options `devices`: apply device rules (default: only when `resources.devices` is
   *   set); `defaultDevices` as in CgroupOptions; `devicesList`: the v1 devices.list to start
   *   from (unset: a cgroup in its inherited allow-all state, reset with a deny-all first);
   *   `fresh`: the cgroup was made just now (create()), so a controller that is not enabled
   *   for it is found from the first write that fails, not by reading cgroup.controllers
   *   first (an update checks first: nothing is written then)
   * @returns the plan that was applied
   * @throws CgroupError `ERR_NS_CONFIG` naming the field (and file), or the errno code of the write the kernel refused
   */
  apply(resources: LinuxResources, options: { devices?: boolean; defaultDevices?: boolean; devicesList?: string; checkMemory?: boolean; fresh?: boolean } = {}): CgroupPlan {
    const devices = options.devices ?? resources.devices !== undefined;
    const plan = planResources(resources, this.layout, {
      devices,
      ...(options.checkMemory ? { checkMemory: true } : {}),
      defaultDevices: options.defaultDevices ?? this.options.defaultDevices ?? true,
      ...(options.devicesList === undefined ? {} : { devicesList: options.devicesList }),
    });
    applyPlan(this, plan, { attachDeviceFilter: this.options.attachDeviceFilter }, { fresh: options.fresh === true });
    return plan;
  }

  /**
   * apply() for a live cgroup, as `runc update`: only the fields given change, and v1 device
   * rules go from the cgroup's current devices.list with the fewest writes (no deny-all window
   * while the container runs). On v2 a memory limit not above the current usage is refused
   * (ERR_NS_CONFIG naming `linux.resources.memory.limit` and memory.current), as v1's kernel
   * refuses it (EBUSY), where runc would write it and the kernel OOM-kill the container.
   * A cgroup made with `hierarchies: 'needed'` is first made in the hierarchies the new limits
   * write to, its processes moved there (extendToDirs), as runc's is in all of them.
   */
  update(resources: LinuxResources): CgroupPlan {
    const dir = this.dirs.v1.devices;
    let devicesList: string | undefined;
    if (resources.devices !== undefined && dir !== undefined) {
      try {
        devicesList = this.sys.readFile(join(dir, 'devices.list'));
      } catch (err) {
        throw fsError(err, 'read', join(dir, 'devices.list'), `read ${join(dir, 'devices.list')}`, 'linux.resources.devices');
      }
    }
    // Made with `hierarchies: 'needed'`: first into the hierarchies the new limits write to.
    const { writes } = planResources(resources, this.layout, { devices: false });
    const add = missingDirs(this.layout, this.dirs, writes);
    if (allDirs(add).length > 0 && allDirs(this.dirs).some((d) => this.sys.exists(d))) extendToDirs(this, add);
    return this.apply(resources, { checkMemory: true, ...(devicesList === undefined ? {} : { devicesList }) });
  }


  /**
   * Move a process into the cgroup: its pid into cgroup.procs of every directory (each v1
   * hierarchy, and the cgroup2 one). Threads follow their process. `joined`: directories the
   * process moved itself into (a single-threaded process writing 0 to a v1 `tasks` file skips
   * the kernel's threadgroup lock and its RCU grace period), left alone.
   * @throws CgroupError with the errno code (`ESRCH` gone, `ENOSPC` empty cpuset ...), naming the file
   */
  addProcess(pid: number, options: { joined?: ReadonlySet<string> } = {}): void {
    for (const dir of allDirs(this.dirs)) if (!options.joined?.has(dir)) this.writeOrThrow(dir, 'cgroup.procs', String(pid));
  }

  /** Pids in the cgroup (cgroup.procs of the cgroup2 directory when there is one). */
  pids(options: { recursive?: boolean } = {}): number[] {
    return listPids(this, options);
  }

  /** Processes the OOM killer killed in this cgroup so far (one file: readOomKills). */
  oomKills(): number {
    return readOomKills(this.dirs, this.sys);
  }

  /** Current statistics (readStats): memory, cpu, pids. */
  stats(): CgroupStats {
    return readStats(this.dirs, this.sys);
  }

  /**
   * Freeze every process and wait until frozen (lifecycle freeze()). On v1, a cgroup made
   * without a freezer cgroup (`hierarchies: 'needed'`) gets one now (freezer-v1.ts).
   */
  async freeze(timeoutMs?: number): Promise<void> {
    await joinFrozenV1Freezer(this, timeoutMs);
    return freeze(this, timeoutMs);
  }

  /** Thaw (lifecycle thaw()). */
  thaw(): void {
    adoptLazyFreezer(this);
    thaw(this);
  }

  /** FROZEN, FREEZING or THAWED; undefined without a freezer (on v1: before a first pause). */
  freezerState(): FreezerState | undefined {
    adoptLazyFreezer(this);
    return freezerState(this);
  }

  /**
   * The files and lines that mean frozen (lifecycle freezerProbes()), for a reader that cannot
   * ask this object (the native front's record), including those of the v1 freezer cgroup a
   * first pause would make (freezer-v1.ts) while there is none yet: a missing file reads as
   * not frozen, and the container reads as paused once a pause made it.
   */
  freezerProbes(): { file: string; line: string }[] {
    adoptLazyFreezer(this);
    const lazy = lazyFreezerDir(this);
    if (lazy !== undefined) return ['FROZEN', 'FREEZING'].map((line) => ({ file: join(lazy, 'freezer.state'), line }));
    return freezerProbes(this);
  }

  /**
   * Every directory destroy() removes, each hierarchy's (allDirs) and the v1 freezer cgroup a
   * pause may make later (freezer-v1.ts): for a reader that removes them itself (the native
   * front's record), which must take an absent one as removed.
   */
  removalDirs(): string[] {
    adoptLazyFreezer(this);
    const lazy = lazyFreezerDir(this);
    return lazy === undefined ? allDirs(this.dirs) : [...allDirs(this.dirs), lazy];
  }

  /** Signal every process (default SIGKILL, then wait until empty): lifecycle killAll(). */
  killAll(signal?: NodeJS.Signals | number, timeoutMs?: number): Promise<void> {
    adoptLazyFreezer(this);
    return killAll(this, signal, timeoutMs);
  }

  /**
   * Remove the cgroup from every hierarchy, child cgroups first. While rmdir says EBUSY (live
   * processes), kill everything in it and retry with backoff, up to `timeoutMs` (default 5000).
   * A cgroup that does not exist is already removed.
   * @throws CgroupError `ERR_NS_STATE` when it is still busy after `timeoutMs`; errno codes of other rmdir failures
   */
  async destroy(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 100)) {
      try {
        for (const dir of allDirs(this.dirs)) this.removeTree(dir);
        removeLazyFreezer(this, (dir) => this.removeTree(dir));
        return;
      } catch (err) {
        const code = (err as CgroupError).code;
        if (code !== 'EBUSY' && code !== 'ENOTEMPTY') throw err;
        if (Date.now() > deadline) throw new CgroupError(ERR_NS_STATE, `${(err as CgroupError).path} is still busy after ${timeoutMs} ms`, { path: (err as CgroupError).path ?? this.path, cause: err });
        // Paused elsewhere: killAll freezes, signals and thaws through that freezer cgroup.
        adoptLazyFreezer(this);
      }
      await killAll(this, 'SIGKILL', Math.max(100, deadline - Date.now())).catch(() => undefined);
      await sleep(delay);
    }
  }

  /**
   * Remove the cgroup now, from every hierarchy (child cgroups first), without waiting or
   * killing: for a cgroup known to be empty (its processes reaped), as after a failed start.
   * @throws CgroupError `EBUSY` when a process is still in it; errno codes of other rmdir failures
   */
  removeEmpty(): void {
    for (const dir of allDirs(this.dirs)) this.removeTree(dir);
    removeLazyFreezer(this, (dir) => this.removeTree(dir));
  }

  private removeTree(dir: string): void {
    // The usual cgroup has no child: rmdir at once, and list children only when it says so.
    try {
      this.sys.rmdir(dir);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' && code !== 'ENOTEMPTY') throw fsError(err, 'rmdir', dir, `rmdir ${dir}`);
    }
    for (const sub of this.sys.subdirs(dir)) this.removeTree(join(dir, sub));
    try {
      this.sys.rmdir(dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw fsError(err, 'rmdir', dir, `rmdir ${dir}`);
    }
  }
}

