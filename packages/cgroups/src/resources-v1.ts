/**
 * `linux.resources` to cgroup v1 files (Documentation/admin-guide/cgroup-v1/*.rst), the files
 * and order runc's libcontainer/cgroups/fs and crun's cgroup-resources.c write. Pure: each
 * function returns the writes; nothing touches the host. Zero means "unset" for the fields runc
 * reads as plain integers (memory limits, shares, quota, period, weights), as in runc.
 */
import { configError } from './errors.js';
import type {
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

function w1(controller: string, file: string, value: string, jsonPath: string, extra: Partial<CgroupWrite> = {}): CgroupWrite {
  return { version: 1, controller, file, value, jsonPath, ...extra };
}

/**
 * memory (cgroup-v1/memory.rst): limit -> memory.limit_in_bytes, swap -> memory.memsw.limit_in_bytes
 * (memory+swap, as the spec means it), reservation -> memory.soft_limit_in_bytes, kernel ->
 * memory.kmem.limit_in_bytes, kernelTCP -> memory.kmem.tcp.limit_in_bytes, swappiness ->
 * memory.swappiness, disableOOMKiller -> memory.oom_control, useHierarchy -> memory.use_hierarchy.
 * The limit goes first and is retried after the swap limit on EINVAL (the kernel wants
 * limit <= memsw at every step: crun's order). A limit of -1 without swap also lifts the swap
 * limit, when swap accounting exists (runc). checkBeforeUpdate writes nothing: the v1 kernel
 * refuses a limit below usage by itself (EBUSY).
 */
export function memoryV1(m: LinuxMemory, path = `${R}.memory`): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (m.limit !== undefined && m.limit !== 0) out.push(w1('memory', 'memory.limit_in_bytes', num(m.limit), `${path}.limit`, { retryOnEINVAL: true }));
  if (m.swap !== undefined && m.swap !== 0) out.push(w1('memory', 'memory.memsw.limit_in_bytes', num(m.swap), `${path}.swap`));
  else if (m.limit === -1 && m.swap === undefined) out.push(w1('memory', 'memory.memsw.limit_in_bytes', '-1', `${path}.limit`, { optional: true }));
  if (m.reservation !== undefined && m.reservation !== 0) out.push(w1('memory', 'memory.soft_limit_in_bytes', num(m.reservation), `${path}.reservation`));
  // Not enforced since Linux 5.16: the write fails (EOPNOTSUPP), the file is gone, or (later
  // kernels and backports, 6.18 here) the write is taken and ignored: read back, refused then.
  if (m.kernel !== undefined && m.kernel !== 0) out.push(w1('memory', 'memory.kmem.limit_in_bytes', num(m.kernel), `${path}.kernel`, m.kernel === -1 ? {} : { verifyLimit: true }));
  if (m.kernelTCP !== undefined && m.kernelTCP !== 0) out.push(w1('memory', 'memory.kmem.tcp.limit_in_bytes', num(m.kernelTCP), `${path}.kernelTCP`));
  if (m.swappiness !== undefined) out.push(w1('memory', 'memory.swappiness', num(m.swappiness), `${path}.swappiness`));
  if (m.disableOOMKiller !== undefined) out.push(w1('memory', 'memory.oom_control', m.disableOOMKiller ? '1' : '0', `${path}.disableOOMKiller`));
  if (m.useHierarchy !== undefined) out.push(w1('memory', 'memory.use_hierarchy', m.useHierarchy ? '1' : '0', `${path}.useHierarchy`));
  return out;
}

/** cpu.shares range of the v1 kernel (it silently clamps anything else). */
export const CPU_SHARES_MIN = 2;
export const CPU_SHARES_MAX = 262144;

/**
 * cpu (scheduler/sched-bwc.rst, sched-rt-group.rst): realtimePeriod -> cpu.rt_period_us and
 * realtimeRuntime -> cpu.rt_runtime_us first (runc sets them before the process joins),
 * shares -> cpu.shares (2..262144, else ERR_NS_CONFIG: the kernel would clamp it silently),
 * period -> cpu.cfs_period_us, burst -> cpu.cfs_burst_us, quota -> cpu.cfs_quota_us,
 * idle -> cpu.idle. Period, burst and rt period are retried after the rest on EINVAL (the
 * kernel checks them against the current quota: runc's order).
 */
export function cpuV1(c: LinuxCPU, path = `${R}.cpu`): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (c.realtimePeriod) out.push(w1('cpu', 'cpu.rt_period_us', num(c.realtimePeriod), `${path}.realtimePeriod`, { retryOnEINVAL: true }));
  if (c.realtimeRuntime) out.push(w1('cpu', 'cpu.rt_runtime_us', num(c.realtimeRuntime), `${path}.realtimeRuntime`));
  if (c.shares) {
    if (c.shares < CPU_SHARES_MIN || c.shares > CPU_SHARES_MAX) {
      throw configError(`${path}.shares`, `${c.shares} is outside ${CPU_SHARES_MIN}..${CPU_SHARES_MAX}, the range of cgroup v1 cpu.shares`);
    }
    out.push(w1('cpu', 'cpu.shares', num(c.shares), `${path}.shares`));
  }
  if (c.period) out.push(w1('cpu', 'cpu.cfs_period_us', num(c.period), `${path}.period`, { retryOnEINVAL: true }));
  if (c.burst !== undefined) out.push(w1('cpu', 'cpu.cfs_burst_us', num(c.burst), `${path}.burst`, { retryOnEINVAL: true }));
  if (c.quota) out.push(w1('cpu', 'cpu.cfs_quota_us', num(c.quota), `${path}.quota`));
  if (c.idle !== undefined) out.push(w1('cpu', 'cpu.idle', num(c.idle), `${path}.idle`));
  return out;
}

/** cpuset (cgroup-v1/cpusets.rst): cpus -> cpuset.cpus, mems -> cpuset.mems (an empty string is unset). */
export function cpusetV1(c: LinuxCPU, path = `${R}.cpu`): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (c.cpus) out.push(w1('cpuset', 'cpuset.cpus', c.cpus, `${path}.cpus`));
  if (c.mems) out.push(w1('cpuset', 'cpuset.mems', c.mems, `${path}.mems`));
  return out;
}

/** The pids.max text of a limit: negative is `max`, 0 is a real limit (config-linux.md "PIDs"). */
export function pidsMax(limit: number): string {
  return limit < 0 ? 'max' : num(limit);
}

/** pids (cgroup-v1/pids.rst): limit -> pids.max. */
export function pidsV1(p: LinuxPids, path = `${R}.pids`): CgroupWrite[] {
  return [w1('pids', 'pids.max', pidsMax(p.limit), `${path}.limit`)];
}

/** The four throttle lists, their v1 files and v2 io.max keys. */
export const THROTTLES = [
  ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device', 'rbps'],
  ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device', 'wbps'],
  ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device', 'riops'],
  ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device', 'wiops'],
] as const;

/**
 * blkio (cgroup-v1/blkio-controller.rst): weight -> blkio.weight (or blkio.bfq.weight when only
 * BFQ's file exists), leafWeight -> blkio.leaf_weight, weightDevice -> blkio.weight_device /
 * blkio.leaf_weight_device lines `MAJ:MIN WEIGHT`, throttle*Device ->
 * blkio.throttle.{read,write}_{bps,iops}_device lines `MAJ:MIN RATE`, one write each.
 */
export function blockIOV1(b: LinuxBlockIO, path = `${R}.blockIO`): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (b.weight) out.push(w1('blkio', 'blkio.weight', num(b.weight), `${path}.weight`, { fallback: { file: 'blkio.bfq.weight', value: num(b.weight) } }));
  if (b.leafWeight) out.push(w1('blkio', 'blkio.leaf_weight', num(b.leafWeight), `${path}.leafWeight`));
  (b.weightDevice ?? []).forEach((d, i) => {
    const dev = `${num(d.major)}:${num(d.minor)}`;
    if (d.weight) {
      const value = `${dev} ${num(d.weight)}`;
      out.push(w1('blkio', 'blkio.weight_device', value, `${path}.weightDevice[${i}].weight`, { fallback: { file: 'blkio.bfq.weight_device', value } }));
    }
    if (d.leafWeight) out.push(w1('blkio', 'blkio.leaf_weight_device', `${dev} ${num(d.leafWeight)}`, `${path}.weightDevice[${i}].leafWeight`));
  });
  for (const [key, file] of THROTTLES) {
    (b[key] ?? []).forEach((d, i) => {
      out.push(w1('blkio', file, `${num(d.major)}:${num(d.minor)} ${num(d.rate)}`, `${path}.${key}[${i}]`));
    });
  }
  return out;
}

/**
 * hugetlb (cgroup-v1/hugetlb.rst): each limit -> hugetlb.<size>.limit_in_bytes, and the
 * reservation limit hugetlb.<size>.rsvd.limit_in_bytes where the kernel has it (runc).
 */
export function hugetlbV1(limits: LinuxHugepageLimit[], path = `${R}.hugepageLimits`): CgroupWrite[] {
  return limits.flatMap((h, i) => [
    w1('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, num(h.limit), `${path}[${i}].limit`),
    w1('hugetlb', `hugetlb.${h.pageSize}.rsvd.limit_in_bytes`, num(h.limit), `${path}[${i}].limit`, { optional: true }),
  ]);
}

/** net_cls / net_prio (cgroup-v1/net_cls.rst, net_prio.rst): classID -> net_cls.classid, priorities -> net_prio.ifpriomap lines `IFACE PRIO`. */
export function networkV1(n: LinuxNetwork, path = `${R}.network`): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (n.classID !== undefined) out.push(w1('net_cls', 'net_cls.classid', num(n.classID), `${path}.classID`));
  (n.priorities ?? []).forEach((p, i) => out.push(w1('net_prio', 'net_prio.ifpriomap', `${p.name} ${num(p.priority)}`, `${path}.priorities[${i}]`)));
  return out;
}

/** The rdma.max line of one device: `mlx5_1 hca_handle=3 hca_object=10000` (same text on v1 and v2). */
export function rdmaLine(device: string, r: LinuxRdma): string {
  let line = device;
  if (r.hcaHandles !== undefined) line += ` hca_handle=${num(r.hcaHandles)}`;
  if (r.hcaObjects !== undefined) line += ` hca_object=${num(r.hcaObjects)}`;
  return line;
}

/** rdma (cgroup-v1/rdma.rst): one rdma.max write per device. */
export function rdmaV1(rdma: Record<string, LinuxRdma>, path = `${R}.rdma`): CgroupWrite[] {
  return Object.entries(rdma).map(([dev, r]) => w1('rdma', 'rdma.max', rdmaLine(dev, r), `${path}[${JSON.stringify(dev)}]`));
}

/**
 * Every v1 write for `resources` (devices aside: see v1DeviceWrites), in apply order: cpuset,
 * memory, cpu, pids, blkio, hugetlb, network, rdma. `unified` cannot be honoured on a v1
 * controller and is an error here (planResources sends `unified` keys to a hybrid host's v2
 * controllers instead).
 *
 * @param resources `linux.resources` (validated here)
 * @throws CgroupError `ERR_NS_CONFIG` naming the field: bad shape, shares out of range, `unified` set
 */
export function toV1Writes(resources: LinuxResources): CgroupWrite[] {
  const r = validateResources(resources);
  const u = Object.keys(r.unified ?? {});
  if (u.length) throw configError(`${R}.unified[${JSON.stringify(u[0])}]`, 'cgroup v2 files cannot be set on cgroup v1');
  return [
    ...(r.cpu ? cpusetV1(r.cpu) : []),
    ...(r.memory ? memoryV1(r.memory) : []),
    ...(r.cpu ? cpuV1(r.cpu) : []),
    ...(r.pids ? pidsV1(r.pids) : []),
    ...(r.blockIO ? blockIOV1(r.blockIO) : []),
    ...(r.hugepageLimits ? hugetlbV1(r.hugepageLimits) : []),
    ...(r.network ? networkV1(r.network) : []),
    ...(r.rdma ? rdmaV1(r.rdma) : []),
  ];
}
