import { describe, expect, it } from 'vitest';
import { validateResources } from '../src/validate.js';

const R = 'linux.resources';
const bad = (resources: unknown, jsonPath: string, message?: RegExp) => {
  let err: unknown;
  try {
    validateResources(resources);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${JSON.stringify(resources)} to fail at ${jsonPath}`).toMatchObject({ code: 'ERR_NS_CONFIG', name: 'CgroupError', jsonPath: `${R}${jsonPath}` });
  expect((err as Error).message.startsWith(`${R}${jsonPath}: `)).toBe(true);
  if (message) expect((err as Error).message).toMatch(message);
};

describe('validateResources', () => {
  it('accepts the spec examples and ignores unknown fields', () => {
    const r = {
      memory: { limit: 536870912, reservation: 536870912, swap: 536870912, kernel: -1, kernelTCP: -1, swappiness: 0, disableOOMKiller: false },
      cpu: { shares: 1024, quota: 1000000, burst: 1000000, period: 500000, realtimeRuntime: 950000, realtimePeriod: 1000000, cpus: '2-3', mems: '0-7', idle: 0 },
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
      futureThing: { x: 1 },
    };
    expect(validateResources(r)).toBe(r);
  });

  it.each<[unknown, string, RegExp?]>([
    [null, '', /expected an object/],
    [[], '', /expected an object/],
    [{ memory: 5 }, '.memory', /expected an object/],
    [{ memory: { limit: 1.5 } }, '.memory.limit', /bytes/],
    [{ memory: { limit: -2 } }, '.memory.limit', /-1 for unlimited/],
    // Past int64 (it was written modulo 2^64: 99999999999999999999 became 7766279631452241920).
    [{ memory: { limit: 99999999999999999999 } }, '.memory.limit', /at most 2\^63-1/],
    [{ memory: { limit: 1e300 } }, '.memory.limit', /at most 2\^63-1/],
    [{ cpu: { shares: 2 ** 70 } }, '.cpu.shares', /at most 2\^63-1/],
    [{ memory: { limit: '1G' } }, '.memory.limit'],
    [{ memory: { swappiness: 101 } }, '.memory.swappiness', /0\.\.100/],
    [{ memory: { disableOOMKiller: 'yes' } }, '.memory.disableOOMKiller', /boolean/],
    [{ memory: { limit: 1000, swap: 500 } }, '.memory.swap', /below the memory limit/],
    [{ cpu: { quota: -5 } }, '.cpu.quota'],
    [{ cpu: { idle: 2 } }, '.cpu.idle', /0 or 1/],
    [{ cpu: { cpus: '0-3,a' } }, '.cpu.cpus', /list like/],
    [{ cpu: { mems: '3-1' } }, '.cpu.mems', /backwards/],
    [{ cpu: { cpus: 3 } }, '.cpu.cpus'],
    [{ cpu: { quota: 1000, burst: 2000 } }, '.cpu.burst', /larger than quota/],
    [{ pids: {} }, '.pids.limit', /required/],
    [{ pids: { limit: 'max' } }, '.pids.limit'],
    [{ blockIO: { weight: 5 } }, '.blockIO.weight', /10\.\.1000/],
    [{ blockIO: { weightDevice: [{ major: 8, minor: 0 }] } }, '.blockIO.weightDevice[0]', /weight or leafWeight/],
    [{ blockIO: { weightDevice: [{ minor: 0, weight: 100 }] } }, '.blockIO.weightDevice[0].major', /required/],
    [{ blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0 }] } }, '.blockIO.throttleReadBpsDevice[0].rate', /required/],
    [{ blockIO: { throttleWriteIOPSDevice: {} } }, '.blockIO.throttleWriteIOPSDevice', /array/],
    [{ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }, '.hugepageLimits[0].pageSize', /"2MB"/],
    [{ hugepageLimits: [{ pageSize: '2MB' }] }, '.hugepageLimits[0].limit', /required/],
    [{ network: { classID: -1 } }, '.network.classID'],
    [{ network: { priorities: [{ name: 'eth 0', priority: 1 }] } }, '.network.priorities[0].name'],
    [{ rdma: { mlx5_1: {} } }, '.rdma["mlx5_1"]', /hcaHandles or hcaObjects/],
    [{ rdma: { mlx5_1: { hcaHandles: 2 ** 32 } } }, '.rdma["mlx5_1"].hcaHandles'],
    [{ unified: { 'memory.high': 5 } }, '.unified["memory.high"]', /string/],
    [{ unified: { '../memory.high': '5' } }, '.unified["../memory.high"]', /without "\/"/],
    [{ unified: { memoryhigh: '5' } }, '.unified["memoryhigh"]', /CONTROLLER\.FILE/],
    [{ devices: [{ access: 'rwm' }] }, '.devices[0].allow', /required/],
    [{ devices: [{ allow: true, type: 'x' }] }, '.devices[0].type', /"a", "b" or "c"/],
    [{ devices: [{ allow: true, type: 'c', access: 'rwx' }] }, '.devices[0].access', /r, w and m/],
    [{ devices: [{ allow: true, type: 'c', major: -2 }] }, '.devices[0].major'],
    [{ devices: {} }, '.devices', /array/],
  ])('%j fails at %s', (resources, jsonPath, message) => bad(resources, jsonPath, message));
});
