/**
 * `linux.resources` to the exact writes for this host: each field group goes to the
 * hierarchy that holds its controller (a hybrid host mixes v1 and v2), a field no hierarchy
 * can honour is ERR_NS_CONFIG naming it, and the device rules become v1 writes or a v2 BPF
 * program. Pure: the layout is an argument.
 */
import { compileDeviceFilter, type DeviceFilter } from './bpf.js';
import { deviceRules, v1DeviceWrites } from './devices.js';
import { configError } from './errors.js';
import type { CgroupLayout } from './layout.js';
import { blockIOV1, cpuV1, cpusetV1, hugetlbV1, memoryV1, networkV1, pidsV1, rdmaV1 } from './resources-v1.js';
import { cpuV2, cpusetV2, hugetlbV2, ioV2, memoryChecksV2, memoryV2, networkV2, pidsV2, rdmaV2, unifiedV2 } from './resources-v2.js';
import type { CgroupCheck, CgroupWrite, LinuxResources } from './types.js';
import { validateResources } from './validate.js';

/** What applying `linux.resources` on this host means. */
export interface CgroupPlan {
  /** Every write, in order. */
  writes: CgroupWrite[];
  /** Checks to make before the writes. */
  checks: CgroupCheck[];
  /** On a host whose devices cgroup is v2: the BPF program to load and attach to the cgroup2 directory. */
  deviceFilter?: DeviceFilter;
}

export interface PlanOptions {
  /** Plan the device rules (default true). False leaves device access alone (an update without `devices`). */
  devices?: boolean;
  /** Put runc's default allow list after the config's device rules (default true). */
  defaultDevices?: boolean;
  /** The cgroup's current devices.list (v1), to update a live cgroup with the fewest writes. */
  devicesList?: string;
  /**
   * On v2, check a memory limit against the current usage even without `checkBeforeUpdate`
   * (an update of a live cgroup: v1's kernel refuses a limit below the usage with EBUSY, v2's
   * would reclaim and then OOM-kill the container).
   */
  checkMemory?: boolean;
}

const R = 'linux.resources';

/**
 * Device plans by rule list: most containers share one (the default), and the emulator and
 * compiler cost ~70 µs of a ~0.5 ms start. Small and bounded; entries are never mutated.
 */
const deviceCache = new Map<string, unknown>();

function cached<T>(key: string, make: () => T): T {
  if (deviceCache.has(key)) return deviceCache.get(key) as T;
  const value = make();
  if (deviceCache.size >= 32) deviceCache.delete(deviceCache.keys().next().value!);
  deviceCache.set(key, value);
  return value;
}

/**
 * Plan `linux.resources` for `layout` (config-linux.md "Control groups"). Order: cpuset, devices,
 * memory, cpu, pids, blkio/io, hugetlb, network, rdma, then `unified` (last, so it overrides).
 * On a hybrid host a group goes to the hierarchy holding its controller: memory on v1, hugetlb
 * on v2 ... ; `unified` keys only to controllers on the cgroup2 mount.
 *
 * @param resources `linux.resources` (validated here)
 * @returns the plan, deeply frozen (the same object for the same limits, options and layout)
 * @throws CgroupError `ERR_NS_CONFIG` naming the field when it is malformed, cannot be converted,
 *   or needs a controller this host does not have
 */
export function planResources(resources: LinuxResources, layout: CgroupLayout, options: PlanOptions = {}): CgroupPlan {
  // The same limits are planned again at every start (and twice: the hierarchies, then the
  // writes): keep the last plans per layout, frozen. A live cgroup's device list is not cached.
  if (options.devicesList !== undefined) return makePlan(resources, layout, options);
  const key = `${options.devices ?? true} ${options.defaultDevices ?? true} ${options.checkMemory ?? false} ${JSON.stringify(resources)}`;
  let plans = planCache.get(layout);
  if (!plans) planCache.set(layout, (plans = new Map()));
  let plan = plans.get(key);
  if (!plan) {
    plan = deepFreeze(makePlan(resources, layout, options));
    if (plans.size >= 32) plans.delete(plans.keys().next().value!);
    plans.set(key, plan);
  }
  return plan;
}

const planCache = new WeakMap<CgroupLayout, Map<string, CgroupPlan>>();

function deepFreeze<T>(value: T): T {
  // Typed arrays (a BPF program) cannot be frozen; nothing writes into them.
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function makePlan(resources: LinuxResources, layout: CgroupLayout, options: PlanOptions): CgroupPlan {
  const r = validateResources(resources);
  const version = (c: string): 1 | 2 | undefined => layout.controllers[c]?.version;
  const missing = (ws: CgroupWrite[], controller: string): never => {
    throw configError(ws[0]!.jsonPath, `needs the ${controller} controller, which no cgroup hierarchy of this host (${layout.mode}) has`);
  };
  /** The writes of one group, from the hierarchy that has its controller. */
  const group = (c1: string, c2: string, v1: () => CgroupWrite[], v2: () => CgroupWrite[]): CgroupWrite[] => {
    if (version(c1) === 1) return v1();
    if (version(c2) === 2) return v2();
    const ws = layout.mode === 'unified' ? v2() : v1();
    return ws.length ? missing(ws, layout.mode === 'unified' ? c2 : c1) : [];
  };

  const writes: CgroupWrite[] = [];
  const checks: CgroupCheck[] = [];
  let deviceFilter: DeviceFilter | undefined;
  const { cpu, memory, pids, blockIO, hugepageLimits, network, rdma, unified } = r;

  if (cpu) writes.push(...group('cpuset', 'cpuset', () => cpusetV1(cpu), () => cpusetV2(cpu)));
  if (options.devices ?? true) {
    const rules = deviceRules(r.devices, { defaults: options.defaultDevices ?? true });
    if (version('devices') === 1) writes.push(...cached(`1 ${options.devicesList} ${JSON.stringify(rules)}`, () => v1DeviceWrites(rules, options.devicesList)));
    else if (layout.unified) deviceFilter = cached(`2 ${JSON.stringify(rules)}`, () => compileDeviceFilter(rules));
    else if (rules.length) throw configError(`${R}.devices`, 'needs the devices controller (v1) or a cgroup2 mount for a BPF device filter');
  }
  if (memory) {
    writes.push(...group('memory', 'memory', () => memoryV1(memory), () => memoryV2(memory)));
    if (version('memory') === 2) checks.push(...memoryChecksV2(memory, undefined, options.checkMemory));
  }
  if (cpu) writes.push(...group('cpu', 'cpu', () => cpuV1(cpu), () => cpuV2(cpu)));
  if (pids) writes.push(...group('pids', 'pids', () => pidsV1(pids), () => pidsV2(pids)));
  if (blockIO) writes.push(...group('blkio', 'io', () => blockIOV1(blockIO), () => ioV2(blockIO)));
  if (hugepageLimits) writes.push(...group('hugetlb', 'hugetlb', () => hugetlbV1(hugepageLimits), () => hugetlbV2(hugepageLimits)));
  if (network) {
    const ws = networkV1(network);
    for (const w of ws) {
      if (version(w.controller) === 1) writes.push(w);
      else if (layout.mode === 'unified') networkV2(network);
      else missing([w], w.controller);
    }
  }
  if (rdma) writes.push(...group('rdma', 'rdma', () => rdmaV1(rdma), () => rdmaV2(rdma)));
  if (unified) {
    for (const w of unifiedV2(unified)) {
      if (!layout.unified) throw configError(w.jsonPath, 'cgroup v2 files cannot be set: this host has no cgroup2 mount (cgroup v1 only)');
      if (w.controller !== 'cgroup' && version(w.controller) !== 2) {
        const where = version(w.controller) === 1 ? 'is on a cgroup v1 hierarchy here' : 'is not available on this host';
        throw configError(w.jsonPath, `the ${w.controller} controller ${where}, so its v2 file cannot be set`);
      }
      writes.push(w);
    }
  }
  return { writes, checks, ...(deviceFilter ? { deviceFilter } : {}) };
}
