/**
 * `linux.resources` to cgroup v2 files (Documentation/admin-guide/cgroup-v2.rst), converting
 * the v1-style fields the way runc (libcontainer/cgroups/fs2, utils.go) and crun
 * (cgroup-resources.c) do. Pure. A v1-only field the v2 kernel cannot honour (swappiness,
 * kernel memory, realtime cpu, blkio leaf weights, net_cls/net_prio) is ERR_NS_CONFIG naming
 * it, as crun does, rather than ignored.
 */
import { configError } from './errors.js';
import { THROTTLES, pidsMax, rdmaLine } from './resources-v1.js';
import type {
  CgroupCheck,
  CgroupWrite,
  LinuxBlockIO,
  LinuxCPU,
  LinuxHugepageLimit,
  LinuxMemory,
  LinuxNetwork,
  LinuxPids,
  LinuxRdma,
  LinuxResources,
} from './types.js';
import { num, validateResources } from './validate.js';

const R = 'linux.resources';

function w2(controller: string, file: string, value: string, jsonPath: string, extra: Partial<CgroupWrite> = {}): CgroupWrite {
  return { version: 2, controller, file, value, jsonPath, ...extra };
}

/**
 * cpu.shares (v1, 2..262144, default 1024) to cpu.weight (v2, 1..10000, default 100): the
 * quadratic fit in log2 space runc (ConvertCPUSharesToCgroupV2Value) and crun
 * (convert_shares_to_weight) both use, mapping 2 -> 1, 1024 -> 100, 262144 -> 10000.
 * 0 stays 0 ("unset").
 */
export function convertCpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return Math.ceil(Math.pow(10, exponent));
}

/**
 * blkio.weight (10..1000) to io.weight (1..10000), linearly: 1 + (w - 10) * 9999 / 990,
 * integer division as runc's ConvertBlkIOToIOWeightValue and crun. 0 stays 0.
 */
export function convertBlkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * OCI `memory.swap` (memory + swap, the v1 meaning) to v2 memory.swap.max (swap alone), as
 * runc's ConvertMemorySwapToCgroupV2Value: limit -1 with swap unset -> -1 (both unlimited);
 * swap -1 or 0 -> as is; limit -1 -> swap as is; otherwise swap - limit.
 *
 * @returns bytes for memory.swap.max; -1 means `max`, 0 means "write nothing" unless swap > 0
 * @throws CgroupError `ERR_NS_CONFIG` on `linux.resources.memory.swap` when swap is set without a
 *   memory limit, or is below it
 */
export function convertMemorySwapToV2(swap: number, limit: number, path = `${R}.memory.swap`): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === -1) return swap;
  if (limit === 0) throw configError(path, 'a swap limit needs a memory limit on cgroup v2 (swap is memory+swap in the spec)');
  if (swap < limit) throw configError(path, `memory+swap limit ${swap} is below the memory limit ${limit}`);
  return swap - limit;
}

/** runc's numToStr: 0 -> nothing, -1 -> `max`, else the number. */
function v2Num(n: number): string {
  return n === 0 ? '' : n === -1 ? 'max' : num(n);
}

/**
 * memory: swap -> memory.swap.max (swap - limit, skipped without swap accounting when it is
 * `max` or 0, as runc), limit -> memory.max, reservation -> memory.low; -1 is `max`.
 * kernel/kernelTCP other than -1, swappiness, disableOOMKiller true and useHierarchy false
 * have no v2 equivalent: ERR_NS_CONFIG.
 */
export function memoryV2(m: LinuxMemory, path = `${R}.memory`): CgroupWrite[] {
  const unsupported = (key: string, why: string): never => {
    throw configError(`${path}.${key}`, `not supported on cgroup v2 (${why})`);
  };
  if (m.kernel !== undefined && m.kernel !== 0 && m.kernel !== -1) unsupported('kernel', 'kernel memory is charged to memory.max');
  if (m.kernelTCP !== undefined && m.kernelTCP !== 0 && m.kernelTCP !== -1) unsupported('kernelTCP', 'TCP buffers are charged to memory.max');
  if (m.swappiness !== undefined) unsupported('swappiness', 'there is no per-cgroup swappiness');
  if (m.disableOOMKiller) unsupported('disableOOMKiller', 'the OOM killer cannot be disabled per cgroup');
  if (m.useHierarchy === false) unsupported('useHierarchy', 'cgroup v2 is always hierarchical');

  const out: CgroupWrite[] = [];
  const limit = m.limit ?? 0;
  const swapIn = m.swap ?? 0;
  if (m.swap !== undefined || limit === -1) {
    const swap = convertMemorySwapToV2(swapIn, limit, `${path}.swap`);
    let value = v2Num(swap);
    // memory and memory+swap set to the same value: no swap at all.
    if (value === '' && swap === 0 && swapIn > 0) value = '0';
    if (value !== '') {
      const jsonPath = m.swap !== undefined ? `${path}.swap` : `${path}.limit`;
      out.push(w2('memory', 'memory.swap.max', value, jsonPath, value === 'max' || value === '0' ? { optional: true } : {}));
    }
  }
  if (limit !== 0) out.push(w2('memory', 'memory.max', v2Num(limit), `${path}.limit`));
  if (m.reservation) out.push(w2('memory', 'memory.low', v2Num(m.reservation), `${path}.reservation`));
  return out;
}

/**
 * The check `memory.checkBeforeUpdate` asks for on v2 (crun): the new limit (+ swap) must stay
 * above memory.current (+ memory.swap.current), because v2 would OOM-kill instead of refusing.
 */
export function memoryChecksV2(m: LinuxMemory, path = `${R}.memory`, always = false): CgroupCheck[] {
  if (!m.checkBeforeUpdate && !always) return [];
  const limit = m.limit !== undefined && m.limit > 0 ? m.limit : 0;
  const swap = m.swap !== undefined && m.swap > 0 ? m.swap : 0;
  if (limit === 0) return [];
  // swap is memory+swap in the spec: the total allowed is max(limit, swap).
  return [{ kind: 'memoryUsageBelow', limit: Math.max(limit, swap), withSwap: swap > 0, jsonPath: m.checkBeforeUpdate ? `${path}.checkBeforeUpdate` : `${path}.limit` }];
}

/**
 * cpu: shares -> cpu.weight (convertCpuSharesToWeight), quota/period -> cpu.max `QUOTA PERIOD`
 * (`max` for a quota <= 0, period 100000 when unset, as runc), burst -> cpu.max.burst (before
 * cpu.max, retried after it on EINVAL), idle -> cpu.idle. realtimeRuntime / realtimePeriod:
 * ERR_NS_CONFIG (no v2 interface).
 */
export function cpuV2(c: LinuxCPU, path = `${R}.cpu`): CgroupWrite[] {
  if (c.realtimeRuntime) throw configError(`${path}.realtimeRuntime`, 'not supported on cgroup v2 (no realtime group scheduling interface)');
  if (c.realtimePeriod) throw configError(`${path}.realtimePeriod`, 'not supported on cgroup v2 (no realtime group scheduling interface)');
  const out: CgroupWrite[] = [];
  if (c.idle !== undefined) out.push(w2('cpu', 'cpu.idle', num(c.idle), `${path}.idle`));
  if (c.shares) out.push(w2('cpu', 'cpu.weight', num(convertCpuSharesToWeight(c.shares)), `${path}.shares`));
  if (c.burst !== undefined) out.push(w2('cpu', 'cpu.max.burst', num(c.burst), `${path}.burst`, { retryOnEINVAL: true }));
  if (c.quota || c.period) {
    const quota = c.quota && c.quota > 0 ? num(c.quota) : 'max';
    out.push(w2('cpu', 'cpu.max', `${quota} ${num(c.period || 100000)}`, c.quota ? `${path}.quota` : `${path}.period`));
  }
  return out;
}

/** cpuset: cpus -> cpuset.cpus, mems -> cpuset.mems. */
export function cpusetV2(c: LinuxCPU, path = `${R}.cpu`): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (c.cpus) out.push(w2('cpuset', 'cpuset.cpus', c.cpus, `${path}.cpus`));
  if (c.mems) out.push(w2('cpuset', 'cpuset.mems', c.mems, `${path}.mems`));
  return out;
}

/** pids: limit -> pids.max (negative: `max`). */
export function pidsV2(p: LinuxPids, path = `${R}.pids`): CgroupWrite[] {
  return [w2('pids', 'pids.max', pidsMax(p.limit), `${path}.limit`)];
}

/**
 * io: weight -> io.bfq.weight as is when BFQ's file exists, else io.weight converted
 * (convertBlkioWeightToIoWeight), as runc and crun; weightDevice weights -> `MAJ:MIN W` lines the
 * same way; throttle*Device -> io.max `MAJ:MIN rbps=N` (wbps, riops, wiops). leafWeight (cgroup
 * or per device): ERR_NS_CONFIG (CFQ only, gone in v2).
 */
export function ioV2(b: LinuxBlockIO, path = `${R}.blockIO`): CgroupWrite[] {
  if (b.leafWeight) throw configError(`${path}.leafWeight`, 'not supported on cgroup v2 (leaf weights were CFQ only)');
  const out: CgroupWrite[] = [];
  if (b.weight) {
    out.push(w2('io', 'io.bfq.weight', num(b.weight), `${path}.weight`, { fallback: { file: 'io.weight', value: num(convertBlkioWeightToIoWeight(b.weight)) } }));
  }
  (b.weightDevice ?? []).forEach((d, i) => {
    if (d.leafWeight) throw configError(`${path}.weightDevice[${i}].leafWeight`, 'not supported on cgroup v2 (leaf weights were CFQ only)');
    if (!d.weight) return;
    const dev = `${num(d.major)}:${num(d.minor)}`;
    out.push(
      w2('io', 'io.bfq.weight', `${dev} ${num(d.weight)}`, `${path}.weightDevice[${i}].weight`, {
        fallback: { file: 'io.weight', value: `${dev} ${num(convertBlkioWeightToIoWeight(d.weight))}` },
      }),
    );
  });
  for (const [key, , name] of THROTTLES) {
    (b[key] ?? []).forEach((d, i) => out.push(w2('io', 'io.max', `${num(d.major)}:${num(d.minor)} ${name}=${num(d.rate)}`, `${path}.${key}[${i}]`)));
  }
  return out;
}

/** hugetlb: each limit -> hugetlb.<size>.max, and hugetlb.<size>.rsvd.max where the kernel has it (runc). */
export function hugetlbV2(limits: LinuxHugepageLimit[], path = `${R}.hugepageLimits`): CgroupWrite[] {
  return limits.flatMap((h, i) => [
    w2('hugetlb', `hugetlb.${h.pageSize}.max`, num(h.limit), `${path}[${i}].limit`),
    w2('hugetlb', `hugetlb.${h.pageSize}.rsvd.max`, num(h.limit), `${path}[${i}].limit`, { optional: true }),
  ]);
}

/** network: net_cls and net_prio have no v2 interface: ERR_NS_CONFIG when anything is set. */
export function networkV2(n: LinuxNetwork, path = `${R}.network`): CgroupWrite[] {
  if (n.classID !== undefined) throw configError(`${path}.classID`, 'not supported on cgroup v2 (net_cls is v1 only; match the cgroup path in nftables/BPF instead)');
  if (n.priorities?.length) throw configError(`${path}.priorities`, 'not supported on cgroup v2 (net_prio is v1 only)');
  return [];
}

/** rdma: one rdma.max write per device (same text as v1). */
export function rdmaV2(rdma: Record<string, LinuxRdma>, path = `${R}.rdma`): CgroupWrite[] {
  return Object.entries(rdma).map(([dev, r]) => w2('rdma', 'rdma.max', rdmaLine(dev, r), `${path}[${JSON.stringify(dev)}]`));
}

/**
 * unified: each key is a file of the container's cgroup2 directory; its value is written line
 * by line (one write per non-empty line, as crun: io.max takes one device per write). The
 * controller is the key's prefix (`memory.high` -> memory; `cgroup.*` is the core).
 */
export function unifiedV2(unified: Record<string, string>, path = `${R}.unified`): CgroupWrite[] {
  return Object.entries(unified).flatMap(([key, value]) => {
    const controller = key.slice(0, key.indexOf('.'));
    return value
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => w2(controller, key, line, `${path}[${JSON.stringify(key)}]`));
  });
}

/**
 * Every v2 write for `resources` (devices aside: see compileDeviceFilter), in apply order:
 * cpuset, memory, cpu, pids, io, hugetlb, rdma, and `unified` last so that it overrides
 * (crun, runc).
 *
 * @param resources `linux.resources` (validated here)
 * @throws CgroupError `ERR_NS_CONFIG` naming the field: bad shape or a field v2 cannot honour
 */
export function toV2Writes(resources: LinuxResources): CgroupWrite[] {
  const r = validateResources(resources);
  return [
    ...(r.cpu ? cpusetV2(r.cpu) : []),
    ...(r.memory ? memoryV2(r.memory) : []),
    ...(r.cpu ? cpuV2(r.cpu) : []),
    ...(r.pids ? pidsV2(r.pids) : []),
    ...(r.blockIO ? ioV2(r.blockIO) : []),
    ...(r.hugepageLimits ? hugetlbV2(r.hugepageLimits) : []),
    ...(r.network ? networkV2(r.network) : []),
    ...(r.rdma ? rdmaV2(r.rdma) : []),
    ...(r.unified ? unifiedV2(r.unified) : []),
  ];
}
