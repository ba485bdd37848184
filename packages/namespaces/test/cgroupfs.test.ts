// What a `cgroup` mount shows on a cgroup v1 or hybrid host (plan/cgroupfs.ts): the
// container's own hierarchies only, named as on the host, links for co-mounted controllers.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { layoutFromMountInfo } from '@ns/cgroups';
import { cgroupFsView, cgroupJoinSteps } from '../src/plan/cgroupfs.js';

const line = (n: number, at: string, fs: string, opts: string) => `${n} 31 0:${n} / ${at} rw,relatime - ${fs} ${fs} ${opts}`;
const HYBRID = layoutFromMountInfo(
  [
    line(32, '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct'),
    line(34, '/sys/fs/cgroup/cpuset', 'cgroup', 'rw,cpuset'),
    line(35, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
    line(36, '/sys/fs/cgroup/devices', 'cgroup', 'rw,devices'),
    line(37, '/sys/fs/cgroup/freezer', 'cgroup', 'rw,freezer'),
    line(38, '/sys/fs/cgroup/blkio', 'cgroup', 'rw,blkio'),
    line(39, '/sys/fs/cgroup/pids', 'cgroup', 'rw,pids'),
    line(40, '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
    line(41, '/sys/fs/cgroup/unified', 'cgroup2', 'rw'),
  ].join('\n'),
);
const UNIFIED = layoutFromMountInfo(line(30, '/sys/fs/cgroup', 'cgroup2', 'rw'), ['cpu', 'memory', 'pids', 'io']);

describe('cgroupFsView', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a unified host: its one cgroup2 directory (bound without a cgroup namespace), none without a cgroup', () => {
    expect(cgroupFsView({ id: 'a', resources: { pids: { limit: 3 } } }, UNIFIED)).toEqual({
      mode: 'v2',
      entries: [{ name: '', fstype: 'cgroup2', data: null, hostDir: '/sys/fs/cgroup/ns/a' }],
      links: [],
    });
    expect(cgroupFsView({ id: 'a' }, UNIFIED)).toEqual({ mode: 'v2', entries: [], links: [] });
  });

  it('the hierarchies its cgroup is in, with its directories; cpu and cpuacct linked; never cpuset, blkio, freezer (until paused) or name=systemd without a cgroup there', () => {
    const view = cgroupFsView({ id: 'a', resources: { memory: { limit: 1 << 25 } }, cgroupsPath: '/ns/x' }, HYBRID)!;
    expect(view.entries.map((e) => [e.name, e.fstype, e.data, e.hostDir])).toEqual([
      ['cpu,cpuacct', 'cgroup', 'cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct/ns/x'],
      ['memory', 'cgroup', 'memory', '/sys/fs/cgroup/memory/ns/x'],
      ['devices', 'cgroup', 'devices', '/sys/fs/cgroup/devices/ns/x'],
      ['pids', 'cgroup', 'pids', '/sys/fs/cgroup/pids/ns/x'],
    ]);
    expect(view.links).toEqual([
      { name: 'cpu', target: 'cpu,cpuacct' },
      { name: 'cpuacct', target: 'cpu,cpuacct' },
    ]);
  });

  it('a limit brings its hierarchy (cpuset, blkio); the default path is ns/<id>', () => {
    const view = cgroupFsView({ id: 'web', resources: { cpu: { cpus: '0' }, blockIO: { weight: 100 } } }, HYBRID)!;
    expect(view.entries.map((e) => e.name)).toEqual(['cpu,cpuacct', 'cpuset', 'memory', 'devices', 'blkio', 'pids']);
    expect(view.entries[1]!.hostDir).toBe('/sys/fs/cgroup/cpuset/ns/web');
  });

  it('the cgroup2 directory of a hybrid host only when a limit writes there (`unified` keys, hugetlb on v2)', () => {
    const view = cgroupFsView({ id: 'u', resources: { unified: { 'cgroup.max.depth': '3' } } }, HYBRID)!;
    expect(view.entries.at(-1)).toEqual({ name: 'unified', fstype: 'cgroup2', data: null, hostDir: '/sys/fs/cgroup/unified/ns/u' });
  });

  it('the process joins its v1 cgroups itself (0 into tasks) right after the cgroup step; not with a user namespace, nor on v2', () => {
    const c = { id: 'j', resources: { pids: { limit: 5 } }, cgroupsPath: '/ns/j', namespaces: [{ type: 'mount' as const }] };
    expect(cgroupJoinSteps(c, HYBRID)).toEqual(
      ['cpu,cpuacct', 'memory', 'devices', 'pids'].map((h) => ({ op: 'writeFile', path: `/sys/fs/cgroup/${h}/ns/j/tasks`, data: '0', field: 'linux.cgroupsPath' })),
    );
    expect(cgroupJoinSteps({ ...c, namespaces: [{ type: 'user' as const }, { type: 'mount' as const }] }, HYBRID)).toEqual([]);
    expect(cgroupJoinSteps(c, UNIFIED)).toEqual([]);
  });

  it('no cgroup of its own, not root, or a config the cgroup step will refuse: nothing (an empty tmpfs)', () => {
    expect(cgroupFsView({ id: 'a' }, HYBRID)).toEqual({ mode: 'v1', entries: [], links: [] });
    expect(cgroupFsView({ id: 'a', resources: { memory: { limit: -3 } } }, HYBRID)).toEqual({ mode: 'v1', entries: [], links: [] });
    expect(cgroupFsView({ id: 'a', resources: {}, cgroupsPath: '../up' }, HYBRID)).toEqual({ mode: 'v1', entries: [], links: [] });
    vi.spyOn(process, 'geteuid').mockReturnValue(1000);
    expect(cgroupFsView({ id: 'a', resources: { pids: { limit: 3 } } }, HYBRID)).toEqual({ mode: 'v1', entries: [], links: [] });
  });
});
