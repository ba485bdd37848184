import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeInsns } from '../src/bpf.js';
import { layoutFromMountInfo } from '../src/layout.js';
import { planResources } from '../src/plan.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const V2 = layoutFromMountInfo(fixture('mountinfo-v2.txt'), ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
const V1 = layoutFromMountInfo(fixture('mountinfo-v1.txt'));
const HYBRID = layoutFromMountInfo(fixture('mountinfo-hybrid.txt'), ['hugetlb']);
const R = 'linux.resources';
const config = (jsonPath: string, message?: RegExp) => expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.${jsonPath}`, ...(message ? { message: expect.stringMatching(message) } : {}) });
const files = (plan: ReturnType<typeof planResources>) => plan.writes.map((w) => `${w.version}:${w.file}=${w.value}`);

describe('planResources', () => {
  it('v1 host: v1 files, device rules as devices.deny/allow after cpuset', () => {
    const plan = planResources({ cpu: { cpus: '0' }, memory: { limit: 1 << 25 }, pids: { limit: 16 } }, V1);
    expect(files(plan)).toEqual([
      '1:cpuset.cpus=0',
      '1:devices.deny=a *:* rwm',
      '1:devices.allow=b *:* m',
      '1:devices.allow=c *:* m',
      '1:devices.allow=c 1:3 rwm',
      '1:devices.allow=c 1:5 rwm',
      '1:devices.allow=c 1:7 rwm',
      '1:devices.allow=c 1:8 rwm',
      '1:devices.allow=c 1:9 rwm',
      '1:devices.allow=c 5:0 rwm',
      '1:devices.allow=c 5:2 rwm',
      '1:devices.allow=c 10:200 rwm',
      '1:devices.allow=c 136:* rwm',
      '1:memory.limit_in_bytes=33554432',
      '1:pids.max=16',
    ]);
    expect(plan.deviceFilter).toBeUndefined();
  });

  it('v2 host: v2 files, device rules as a BPF program, checks for checkBeforeUpdate', () => {
    const plan = planResources({ memory: { limit: 1 << 25, checkBeforeUpdate: true }, cpu: { shares: 1024 } }, V2);
    expect(files(plan)).toEqual(['2:memory.max=33554432', '2:cpu.weight=100']);
    expect(plan.checks).toEqual([expect.objectContaining({ kind: 'memoryUsageBelow', limit: 1 << 25 })]);
    expect(plan.deviceFilter?.defaultAllow).toBe(false);
    expect(decodeInsns(plan.deviceFilter!.program).length).toBeGreaterThan(8);
  });

  it('hybrid host: memory, cpu, pids on v1, hugetlb on v2, devices on v1', () => {
    const plan = planResources({ memory: { limit: 1 << 25 }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }, HYBRID, { devices: false });
    expect(files(plan)).toEqual(['1:memory.limit_in_bytes=33554432', '2:hugetlb.2MB.max=0', '2:hugetlb.2MB.rsvd.max=0']);
  });

  it('hybrid host: unified keys only for the controllers on the cgroup2 mount', () => {
    expect(files(planResources({ unified: { 'hugetlb.2MB.max': '0', 'cgroup.max.depth': '3' } }, HYBRID, { devices: false }))).toEqual([
      '2:hugetlb.2MB.max=0',
      '2:cgroup.max.depth=3',
    ]);
    expect(() => planResources({ unified: { 'memory.high': '1' } }, HYBRID)).toThrow(config('unified["memory.high"]', /memory controller is on a cgroup v1 hierarchy/));
    expect(() => planResources({ unified: { 'io.max': '8:0 rbps=1' } }, HYBRID)).toThrow(config('unified["io.max"]', /not available/));
  });

  it('v1 host: unified is an error, naming the key', () => {
    expect(() => planResources({ unified: { 'pids.max': '5' } }, V1)).toThrow(config('unified["pids.max"]', /no cgroup2 mount/));
  });

  it('a missing controller is an error naming the field, not a silent no-op', () => {
    expect(() => planResources({ blockIO: { weight: 100 } }, HYBRID)).not.toThrow();
    expect(() => planResources({ rdma: { mlx5_1: { hcaHandles: 1 } } }, HYBRID)).toThrow(config('rdma["mlx5_1"]', /needs the rdma controller/));
    expect(() => planResources({ network: { classID: 1 } }, HYBRID)).toThrow(config('network.classID', /net_cls controller/));
    expect(() => planResources({ network: { classID: 1 } }, V2)).toThrow(config('network.classID', /not supported on cgroup v2/));
    const noPids = layoutFromMountInfo('1 1 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw', ['memory']);
    expect(() => planResources({ pids: { limit: 5 } }, noPids)).toThrow(config('pids.limit', /needs the pids controller/));
    expect(planResources({ memory: {} }, noPids).writes).toEqual([]);
  });

  it('v2-only fields fail on a v2 host but not on v1', () => {
    expect(() => planResources({ memory: { swappiness: 10 } }, V2)).toThrow(config('memory.swappiness'));
    expect(files(planResources({ memory: { swappiness: 10 } }, V1, { devices: false }))).toEqual(['1:memory.swappiness=10']);
  });

  it('devices: the config rules, then the defaults; defaultDevices: false drops them; devices: false plans none', () => {
    const rules = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }];
    const d = (o: object) => files(planResources({ devices: rules }, V1, o)).filter((f) => f.includes('devices.'));
    expect(d({ defaultDevices: false })).toEqual(['1:devices.deny=a *:* rwm', '1:devices.allow=c 10:229 rw']);
    expect(d({})).toContain('1:devices.allow=c 10:229 rw');
    expect(d({})).toHaveLength(13); // deny-all, 10:229, runc's 11 defaults
    expect(d({ devices: false })).toEqual([]);
  });

  it('devices: a live cgroup is updated without a deny-all window', () => {
    const list = 'c 1:3 rwm\nc 1:5 rwm\n';
    const plan = planResources({ devices: [{ allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }] }, V1, { defaultDevices: false, devicesList: list });
    expect(files(plan)).toEqual(['1:devices.deny=c 1:3 rwm', '1:devices.deny=c 1:5 rwm', '1:devices.allow=c 1:9 rwm']);
  });
});
