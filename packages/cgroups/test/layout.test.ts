import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { layoutFromMountInfo, parseMountInfo, parseProcCgroup } from '../src/layout.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('layoutFromMountInfo', () => {
  it('v2 only: unified, every controller of cgroup.controllers on /sys/fs/cgroup', () => {
    const l = layoutFromMountInfo(fixture('mountinfo-v2.txt'), ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
    expect(l.mode).toBe('unified');
    expect(l.v1).toEqual([]);
    expect(l.unified).toEqual({ version: 2, mountPoint: '/sys/fs/cgroup', root: '/', controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'] });
    expect(Object.keys(l.controllers).sort()).toEqual(['cpu', 'cpuset', 'hugetlb', 'io', 'memory', 'misc', 'pids', 'rdma']);
    expect(l.controllers.memory!.mountPoint).toBe('/sys/fs/cgroup');
  });

  it('v1 only: legacy, co-mounted controllers share a hierarchy, name=systemd is not a controller', () => {
    const l = layoutFromMountInfo(fixture('mountinfo-v1.txt'));
    expect(l.mode).toBe('legacy');
    expect(l.unified).toBeUndefined();
    expect(l.controllers.cpu!.mountPoint).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(l.controllers.cpuacct).toBe(l.controllers.cpu);
    expect(l.controllers.net_prio!.mountPoint).toBe('/sys/fs/cgroup/net_cls,net_prio');
    expect(l.controllers['name=systemd']).toBeUndefined();
    expect(l.v1.find((h) => h.controllers.includes('name=systemd'))?.mountPoint).toBe('/sys/fs/cgroup/systemd');
    // the pids hierarchy is mounted twice: the one under /sys/fs/cgroup wins
    expect(l.controllers.pids!.mountPoint).toBe('/sys/fs/cgroup/pids');
    expect(Object.keys(l.controllers).sort()).toEqual(
      ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory', 'net_cls', 'net_prio', 'perf_event', 'pids', 'rdma'],
    );
  });

  it('hybrid (this machine kind): v1 controllers, hugetlb on the cgroup2 mount at /sys/fs/cgroup/unified', () => {
    const l = layoutFromMountInfo(fixture('mountinfo-hybrid.txt'), ['hugetlb']);
    expect(l.mode).toBe('hybrid');
    expect(l.unified?.mountPoint).toBe('/sys/fs/cgroup/unified');
    expect(l.controllers.memory).toMatchObject({ version: 1, mountPoint: '/sys/fs/cgroup/memory' });
    expect(l.controllers.cpu).toMatchObject({ version: 1, mountPoint: '/sys/fs/cgroup/cpu' });
    expect(l.controllers.cpuacct).toMatchObject({ version: 1, mountPoint: '/sys/fs/cgroup/cpuacct' });
    expect(l.controllers.hugetlb).toMatchObject({ version: 2, mountPoint: '/sys/fs/cgroup/unified' });
    expect(l.controllers.io).toBeUndefined();
    expect(l.controllers.net_cls).toBeUndefined();
  });

  it('a cgroup2 mount next to only a named v1 hierarchy is still unified', () => {
    const text = [
      '30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
      '31 24 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd',
    ].join('\n');
    expect(layoutFromMountInfo(text, ['memory']).mode).toBe('unified');
  });

  it('no cgroup filesystem at all is ENOENT', () => {
    expect(() => layoutFromMountInfo('22 1 259:2 / / rw - ext4 /dev/sda rw')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('keeps the mount root of a bind mount or cgroup namespace', () => {
    const l = layoutFromMountInfo('40 30 0:26 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw', ['pids']);
    expect(l.unified).toMatchObject({ root: '/docker/abc', mountPoint: '/sys/fs/cgroup' });
  });
});

describe('parseMountInfo', () => {
  it('decodes octal escapes and the optional fields before "-"', () => {
    const [m] = parseMountInfo('40 25 0:22 / /mnt/with\\040space rw,relatime shared:24 master:3 - cgroup cgroup rw,pids');
    expect(m).toEqual({ root: '/', mountPoint: '/mnt/with space', fsType: 'cgroup', source: 'cgroup', superOptions: ['rw', 'pids'] });
  });
  it('skips malformed lines', () => {
    expect(parseMountInfo('garbage\n\n1 2 3')).toEqual([]);
  });
});

describe('parseProcCgroup', () => {
  it('reads v1 and v2 lines', () => {
    expect(parseProcCgroup('9:name=systemd:/\n4:memory:/process_api/x\n2:cpu,cpuacct:/a\n0::/init.scope\n')).toEqual([
      { id: 9, controllers: ['name=systemd'], path: '/' },
      { id: 4, controllers: ['memory'], path: '/process_api/x' },
      { id: 2, controllers: ['cpu', 'cpuacct'], path: '/a' },
      { id: 0, controllers: [], path: '/init.scope' },
    ]);
  });
});
