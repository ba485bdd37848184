import { describe, expect, it } from 'vitest';
import {
  convertBlkioWeightToIoWeight,
  convertCpuSharesToWeight,
  convertMemorySwapToV2,
  memoryChecksV2,
  toV2Writes,
} from '../src/resources-v2.js';
import type { CgroupWrite } from '../src/types.js';
import { EVERYTHING } from './helpers/resources.js';

const rows = (ws: CgroupWrite[]) => ws.map((w) => [w.controller, w.file, w.value, w.jsonPath.replace('linux.resources.', '')]);
const R = 'linux.resources';
const unsupported = (jsonPath: string) => expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.${jsonPath}`, message: expect.stringMatching(/not supported on cgroup v2/) });

/** What v2 can honour of EVERYTHING. */
const V2_OK = {
  memory: { limit: 536870912, reservation: 268435456, swap: 1073741824, kernel: -1, kernelTCP: -1, useHierarchy: true, disableOOMKiller: false, checkBeforeUpdate: true },
  cpu: { shares: 512, quota: 50000, period: 100000, burst: 10000, cpus: '0-1', mems: '0', idle: 0 },
  pids: { limit: 16 },
  blockIO: {
    weight: 500,
    weightDevice: [{ major: 8, minor: 0, weight: 600 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 200 }],
  },
  hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
  rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
  unified: { 'memory.high': '400000000', 'io.max': '259:0 rbps=2097152 wiops=120\n253:0 rbps=2097152 wiops=120\n', 'cgroup.max.descendants': '10' },
};

describe('toV2Writes: every field v2 can honour', () => {
  it('writes exactly these files and values, unified last', () => {
    expect(rows(toV2Writes(V2_OK))).toEqual([
      ['cpuset', 'cpuset.cpus', '0-1', 'cpu.cpus'],
      ['cpuset', 'cpuset.mems', '0', 'cpu.mems'],
      ['memory', 'memory.swap.max', '536870912', 'memory.swap'],
      ['memory', 'memory.max', '536870912', 'memory.limit'],
      ['memory', 'memory.low', '268435456', 'memory.reservation'],
      ['cpu', 'cpu.idle', '0', 'cpu.idle'],
      ['cpu', 'cpu.weight', '59', 'cpu.shares'],
      ['cpu', 'cpu.max.burst', '10000', 'cpu.burst'],
      ['cpu', 'cpu.max', '50000 100000', 'cpu.quota'],
      ['pids', 'pids.max', '16', 'pids.limit'],
      ['io', 'io.bfq.weight', '500', 'blockIO.weight'],
      ['io', 'io.bfq.weight', '8:0 600', 'blockIO.weightDevice[0].weight'],
      ['io', 'io.max', '8:0 rbps=1048576', 'blockIO.throttleReadBpsDevice[0]'],
      ['io', 'io.max', '8:0 wbps=2097152', 'blockIO.throttleWriteBpsDevice[0]'],
      ['io', 'io.max', '8:16 riops=100', 'blockIO.throttleReadIOPSDevice[0]'],
      ['io', 'io.max', '8:16 wiops=200', 'blockIO.throttleWriteIOPSDevice[0]'],
      ['hugetlb', 'hugetlb.2MB.max', '209715200', 'hugepageLimits[0].limit'],
      ['hugetlb', 'hugetlb.2MB.rsvd.max', '209715200', 'hugepageLimits[0].limit'],
      ['rdma', 'rdma.max', 'mlx5_1 hca_handle=3 hca_object=10000', 'rdma["mlx5_1"]'],
      ['memory', 'memory.high', '400000000', 'unified["memory.high"]'],
      ['io', 'io.max', '259:0 rbps=2097152 wiops=120', 'unified["io.max"]'],
      ['io', 'io.max', '253:0 rbps=2097152 wiops=120', 'unified["io.max"]'],
      ['cgroup', 'cgroup.max.descendants', '10', 'unified["cgroup.max.descendants"]'],
    ]);
  });

  it('io weights fall back to io.weight, converted, when BFQ is absent', () => {
    const ws = toV2Writes(V2_OK);
    expect(ws.filter((w) => w.fallback).map((w) => [w.file, w.value, w.fallback])).toEqual([
      ['io.bfq.weight', '500', { file: 'io.weight', value: '4950' }],
      ['io.bfq.weight', '8:0 600', { file: 'io.weight', value: '8:0 5960' }],
    ]);
    expect(ws.find((w) => w.file === 'cpu.max.burst')!.retryOnEINVAL).toBe(true);
    expect(ws.find((w) => w.file === 'hugetlb.2MB.rsvd.max')!.optional).toBe(true);
    expect(ws.every((w) => w.version === 2)).toBe(true);
  });
});

describe('v2 conversions (runc and crun formulas)', () => {
  it('cpu shares -> weight: 2 -> 1, 1024 -> 100, 262144 -> 10000, quadratic in log2 between', () => {
    // the pairs crun's tests/test_resources.py checks
    expect([2, 3, 1024, 260000, 262144].map(convertCpuSharesToWeight)).toEqual([1, 2, 100, 9929, 10000]);
    expect([0, 1, 512, 2048, 100000, 500000].map(convertCpuSharesToWeight)).toEqual([0, 1, 59, 174, 4340, 10000]);
  });
  it('blkio weight -> io weight: linear [10, 1000] -> [1, 10000]', () => {
    expect([0, 10, 100, 500, 1000].map(convertBlkioWeightToIoWeight)).toEqual([0, 1, 910, 4950, 10000]);
  });
  it('swap: memory+swap -> swap alone', () => {
    expect(convertMemorySwapToV2(1024, 512)).toBe(512);
    expect(convertMemorySwapToV2(512, 512)).toBe(0);
    expect(convertMemorySwapToV2(-1, 512)).toBe(-1);
    expect(convertMemorySwapToV2(0, -1)).toBe(-1);
    expect(convertMemorySwapToV2(2048, -1)).toBe(2048);
    expect(() => convertMemorySwapToV2(1024, 0)).toThrow(expect.objectContaining({ jsonPath: `${R}.memory.swap` }));
    expect(() => convertMemorySwapToV2(100, 200)).toThrow(/below the memory limit/);
  });
  it('memory: swap equal to limit writes swap.max 0; limit -1 lifts swap; unlimited is "max"', () => {
    expect(rows(toV2Writes({ memory: { limit: 512, swap: 512 } }))).toEqual([
      ['memory', 'memory.swap.max', '0', 'memory.swap'],
      ['memory', 'memory.max', '512', 'memory.limit'],
    ]);
    expect(rows(toV2Writes({ memory: { limit: -1 } }))).toEqual([
      ['memory', 'memory.swap.max', 'max', 'memory.limit'],
      ['memory', 'memory.max', 'max', 'memory.limit'],
    ]);
    expect(toV2Writes({ memory: { limit: -1 } })[0]!.optional).toBe(true);
    expect(rows(toV2Writes({ memory: { limit: 512 } }))).toEqual([['memory', 'memory.max', '512', 'memory.limit']]);
    expect(rows(toV2Writes({ memory: { reservation: -1 } }))).toEqual([['memory', 'memory.low', 'max', 'memory.reservation']]);
  });
  it('cpu.max: quota without period uses 100000; period alone or quota -1 is "max PERIOD"', () => {
    expect(toV2Writes({ cpu: { quota: 20000 } })[0]!.value).toBe('20000 100000');
    expect(toV2Writes({ cpu: { period: 50000 } })[0]!.value).toBe('max 50000');
    expect(toV2Writes({ cpu: { quota: -1, period: 200000 } })[0]!.value).toBe('max 200000');
  });
  it('checkBeforeUpdate: a check of the new limit against current usage', () => {
    expect(memoryChecksV2({ limit: 1000, checkBeforeUpdate: true })).toEqual([{ kind: 'memoryUsageBelow', limit: 1000, withSwap: false, jsonPath: `${R}.memory.checkBeforeUpdate` }]);
    expect(memoryChecksV2({ limit: 1000, swap: 3000, checkBeforeUpdate: true })[0]).toMatchObject({ limit: 3000, withSwap: true });
    expect(memoryChecksV2({ limit: 1000 })).toEqual([]);
  });
});

describe('toV2Writes: v1-only fields are errors naming them', () => {
  it.each([
    [{ memory: { kernel: 1 << 20 } }, 'memory.kernel'],
    [{ memory: { kernelTCP: 1 << 20 } }, 'memory.kernelTCP'],
    [{ memory: { swappiness: 0 } }, 'memory.swappiness'],
    [{ memory: { disableOOMKiller: true } }, 'memory.disableOOMKiller'],
    [{ memory: { useHierarchy: false } }, 'memory.useHierarchy'],
    [{ cpu: { realtimeRuntime: 1000 } }, 'cpu.realtimeRuntime'],
    [{ cpu: { realtimePeriod: 1000 } }, 'cpu.realtimePeriod'],
    [{ blockIO: { leafWeight: 100 } }, 'blockIO.leafWeight'],
    [{ blockIO: { weightDevice: [{ major: 8, minor: 0, leafWeight: 100 }] } }, 'blockIO.weightDevice[0].leafWeight'],
    [{ network: { classID: 1 } }, 'network.classID'],
    [{ network: { priorities: [{ name: 'eth0', priority: 1 }] } }, 'network.priorities'],
  ])('%j', (resources, path) => {
    expect(() => toV2Writes(resources)).toThrow(unsupported(path));
  });
  it('the whole v1 set fails on its first v1-only field', () => {
    expect(() => toV2Writes(EVERYTHING)).toThrow(unsupported('memory.kernel'));
  });
});
