import type { LinuxResources } from '../../src/types.js';

/** Every field of config-linux.md "Control groups" but devices and unified. */
export const EVERYTHING: LinuxResources = {
  memory: { limit: 536870912, reservation: 268435456, swap: 1073741824, kernel: 67108864, kernelTCP: 16777216, swappiness: 30, disableOOMKiller: true, useHierarchy: true, checkBeforeUpdate: true },
  cpu: { shares: 512, quota: 50000, period: 100000, burst: 10000, realtimeRuntime: 950000, realtimePeriod: 1000000, cpus: '0-1', mems: '0', idle: 0 },
  pids: { limit: 16 },
  blockIO: {
    weight: 500,
    leafWeight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 600, leafWeight: 200 }, { major: 8, minor: 16, weight: 700 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 200 }],
  },
  hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }, { pageSize: '1GB', limit: 1073741824 }],
  network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }, { name: 'lo', priority: 1 }] },
  rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, rxe3: { hcaObjects: 100 } },
};
