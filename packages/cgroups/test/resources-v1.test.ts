import { describe, expect, it } from 'vitest';
import { toV1Writes } from '../src/resources-v1.js';
import type { CgroupWrite } from '../src/types.js';
import { EVERYTHING } from './helpers/resources.js';

/** [controller, file, value, jsonPath] of each write, the shape the assertions read best in. */
const rows = (ws: CgroupWrite[]) => ws.map((w) => [w.controller, w.file, w.value, w.jsonPath.replace('linux.resources.', '')]);
const R = 'linux.resources';

describe('toV1Writes: every field', () => {
  it('writes exactly these files, values and in this order', () => {
    expect(rows(toV1Writes(EVERYTHING))).toEqual([
      ['cpuset', 'cpuset.cpus', '0-1', 'cpu.cpus'],
      ['cpuset', 'cpuset.mems', '0', 'cpu.mems'],
      ['memory', 'memory.limit_in_bytes', '536870912', 'memory.limit'],
      ['memory', 'memory.memsw.limit_in_bytes', '1073741824', 'memory.swap'],
      ['memory', 'memory.soft_limit_in_bytes', '268435456', 'memory.reservation'],
      ['memory', 'memory.kmem.limit_in_bytes', '67108864', 'memory.kernel'],
      ['memory', 'memory.kmem.tcp.limit_in_bytes', '16777216', 'memory.kernelTCP'],
      ['memory', 'memory.swappiness', '30', 'memory.swappiness'],
      ['memory', 'memory.oom_control', '1', 'memory.disableOOMKiller'],
      ['memory', 'memory.use_hierarchy', '1', 'memory.useHierarchy'],
      ['cpu', 'cpu.rt_period_us', '1000000', 'cpu.realtimePeriod'],
      ['cpu', 'cpu.rt_runtime_us', '950000', 'cpu.realtimeRuntime'],
      ['cpu', 'cpu.shares', '512', 'cpu.shares'],
      ['cpu', 'cpu.cfs_period_us', '100000', 'cpu.period'],
      ['cpu', 'cpu.cfs_burst_us', '10000', 'cpu.burst'],
      ['cpu', 'cpu.cfs_quota_us', '50000', 'cpu.quota'],
      ['cpu', 'cpu.idle', '0', 'cpu.idle'],
      ['pids', 'pids.max', '16', 'pids.limit'],
      ['blkio', 'blkio.weight', '500', 'blockIO.weight'],
      ['blkio', 'blkio.leaf_weight', '300', 'blockIO.leafWeight'],
      ['blkio', 'blkio.weight_device', '8:0 600', 'blockIO.weightDevice[0].weight'],
      ['blkio', 'blkio.leaf_weight_device', '8:0 200', 'blockIO.weightDevice[0].leafWeight'],
      ['blkio', 'blkio.weight_device', '8:16 700', 'blockIO.weightDevice[1].weight'],
      ['blkio', 'blkio.throttle.read_bps_device', '8:0 1048576', 'blockIO.throttleReadBpsDevice[0]'],
      ['blkio', 'blkio.throttle.write_bps_device', '8:0 2097152', 'blockIO.throttleWriteBpsDevice[0]'],
      ['blkio', 'blkio.throttle.read_iops_device', '8:16 100', 'blockIO.throttleReadIOPSDevice[0]'],
      ['blkio', 'blkio.throttle.write_iops_device', '8:16 200', 'blockIO.throttleWriteIOPSDevice[0]'],
      ['hugetlb', 'hugetlb.2MB.limit_in_bytes', '209715200', 'hugepageLimits[0].limit'],
      ['hugetlb', 'hugetlb.2MB.rsvd.limit_in_bytes', '209715200', 'hugepageLimits[0].limit'],
      ['hugetlb', 'hugetlb.1GB.limit_in_bytes', '1073741824', 'hugepageLimits[1].limit'],
      ['hugetlb', 'hugetlb.1GB.rsvd.limit_in_bytes', '1073741824', 'hugepageLimits[1].limit'],
      ['net_cls', 'net_cls.classid', '1048577', 'network.classID'],
      ['net_prio', 'net_prio.ifpriomap', 'eth0 500', 'network.priorities[0]'],
      ['net_prio', 'net_prio.ifpriomap', 'lo 1', 'network.priorities[1]'],
      ['rdma', 'rdma.max', 'mlx5_1 hca_handle=3 hca_object=10000', 'rdma["mlx5_1"]'],
      ['rdma', 'rdma.max', 'rxe3 hca_object=100', 'rdma["rxe3"]'],
    ]);
  });

  it('marks the order-sensitive and optional writes', () => {
    const ws = toV1Writes(EVERYTHING);
    const flag = (file: string) => ws.filter((w) => w.file === file).map((w) => ({ retry: !!w.retryOnEINVAL, optional: !!w.optional, fallback: w.fallback?.file }));
    expect(flag('memory.limit_in_bytes')).toEqual([{ retry: true, optional: false, fallback: undefined }]);
    expect(flag('cpu.cfs_period_us')[0]!.retry).toBe(true);
    expect(flag('cpu.cfs_burst_us')[0]!.retry).toBe(true);
    expect(flag('cpu.rt_period_us')[0]!.retry).toBe(true);
    expect(flag('cpu.cfs_quota_us')[0]!.retry).toBe(false);
    expect(flag('blkio.weight')[0]!.fallback).toBe('blkio.bfq.weight');
    expect(flag('blkio.weight_device')[0]!.fallback).toBe('blkio.bfq.weight_device');
    expect(flag('hugetlb.2MB.rsvd.limit_in_bytes')[0]!.optional).toBe(true);
    expect(ws.every((w) => w.version === 1)).toBe(true);
  });
});

describe('toV1Writes: special values', () => {
  it('-1 is unlimited and passes through; a limit of -1 without swap lifts swap too (when swap accounting exists)', () => {
    const ws = toV1Writes({ memory: { limit: -1 } });
    expect(rows(ws)).toEqual([
      ['memory', 'memory.limit_in_bytes', '-1', 'memory.limit'],
      ['memory', 'memory.memsw.limit_in_bytes', '-1', 'memory.limit'],
    ]);
    expect(ws[1]!.optional).toBe(true);
  });
  it('zero is unset for limits, shares, quota, period and weights (runc)', () => {
    expect(toV1Writes({ memory: { limit: 0, swap: 0, reservation: 0, kernel: 0 }, cpu: { shares: 0, quota: 0, period: 0 }, blockIO: { weight: 0 } })).toEqual([]);
  });
  it('pids: negative is max, 0 is a real limit', () => {
    expect(rows(toV1Writes({ pids: { limit: -1 } }))).toEqual([['pids', 'pids.max', 'max', 'pids.limit']]);
    expect(rows(toV1Writes({ pids: { limit: 0 } }))).toEqual([['pids', 'pids.max', '0', 'pids.limit']]);
  });
  it('booleans false are written too (an update can turn them off)', () => {
    expect(rows(toV1Writes({ memory: { disableOOMKiller: false, useHierarchy: false } }))).toEqual([
      ['memory', 'memory.oom_control', '0', 'memory.disableOOMKiller'],
      ['memory', 'memory.use_hierarchy', '0', 'memory.useHierarchy'],
    ]);
  });
  it('huge values are written as integers, not 1e+21; 2^63-1 (read as 2^63) as itself', () => {
    expect(toV1Writes({ memory: { limit: 2 ** 60 + 2 ** 59 } })[0]!.value).toBe('1729382256910270464');
    expect(toV1Writes({ memory: { limit: 9223372036854775807 } })[0]!.value).toBe('9223372036854775807');
  });
  it('an empty cpus/mems is unset', () => {
    expect(toV1Writes({ cpu: { cpus: '', mems: '' } })).toEqual([]);
  });
});

describe('toV1Writes: errors name the field', () => {
  it('shares outside 2..262144 (the kernel would clamp silently)', () => {
    expect(() => toV1Writes({ cpu: { shares: 1 } })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.cpu.shares` }));
    expect(() => toV1Writes({ cpu: { shares: 262145 } })).toThrow(/outside 2..262144/);
  });
  it('unified keys cannot go to v1', () => {
    expect(() => toV1Writes({ unified: { 'memory.high': '1' } })).toThrow(expect.objectContaining({ jsonPath: `${R}.unified["memory.high"]` }));
  });
  it('swap below limit', () => {
    expect(() => toV1Writes({ memory: { limit: 100, swap: 50 } })).toThrow(expect.objectContaining({ jsonPath: `${R}.memory.swap` }));
  });
});
