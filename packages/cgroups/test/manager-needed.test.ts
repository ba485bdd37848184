// Cgroup.update() and create() of a cgroup made with `hierarchies: 'needed'` (issue 22: the
// kubelet's UpdateContainerResources and pod cgroups), on the recording fake cgroupfs.
import { describe, expect, it } from 'vitest';
import { Cgroup } from '../src/manager.js';
import { fakeV1 } from './helpers/fake-tree.js';

describe("update of a cgroup made with hierarchies: 'needed' (issue 22: the kubelet's UpdateContainerResources)", () => {
  it('makes it in the hierarchy of a new limit, moves the processes there, then writes the limit', () => {
    const { sys, layout } = fakeV1({ hybrid: true });
    Cgroup.create('/t/a', { memory: { limit: 1 << 25 } }, { layout, sys, hierarchies: 'needed' });
    expect(sys.exists('/fake/cpu,cpuacct/t/a')).toBe(true); // cpuacct is always there
    expect(sys.exists('/fake/cpuset/t/a')).toBe(false);
    for (const d of ['/fake/pids/t/a', '/fake/memory/t/a', '/fake/freezer/t/a']) sys.files.set(`${d}/cgroup.procs`, '41\n42\n');
    const cg = Cgroup.open('/t/a', { layout, sys });
    expect(cg.dirs.v1.cpuset).toBeUndefined();
    cg.update({ cpu: { cpus: '1', shares: 512 } });
    // The cpuset cgroup was made (its cpus and mems from the parent first), the processes moved, the limit written.
    const writes = sys.writes().filter(([p]) => p.startsWith('/fake/cpuset/t/a/'));
    expect(writes).toEqual([
      ['/fake/cpuset/t/a/cpuset.cpus', '0-3'],
      ['/fake/cpuset/t/a/cpuset.mems', '0'],
      ['/fake/cpuset/t/a/cgroup.procs', '41'],
      ['/fake/cpuset/t/a/cgroup.procs', '42'],
      ['/fake/cpuset/t/a/cpuset.cpus', '1'],
    ]);
    expect(sys.files.get('/fake/cpu,cpuacct/t/a/cpu.shares')).toBe('512');
    expect(cg.dirs.v1.cpuset).toBe('/fake/cpuset/t/a');
    // Not in the cgroup2 tree of the hybrid host: nothing of it was written.
    expect(sys.exists('/fake/unified/t/a')).toBe(false);
    // Opened again, it is in the new hierarchy too, and removal takes it along.
    expect(Cgroup.open('/t/a', { layout, sys }).dirs.v1.cpuset).toBe('/fake/cpuset/t/a');
  });

  it('a hugetlb limit (v1 hugetlb), and a `unified` key on a hybrid host (its cgroup2 tree): the directories are made, the processes moved', () => {
    const { sys, layout } = fakeV1({ hybrid: true, v2Controllers: ['hugetlb'] });
    const made = Cgroup.create('/t/h', {}, { layout, sys, hierarchies: 'needed', devices: false });
    expect(made.dirs.unified).toBeUndefined();
    sys.files.set('/fake/pids/t/h/cgroup.procs', '7\n');
    const cg = Cgroup.open('/t/h', { layout, sys });
    cg.update({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] });
    expect(sys.files.get('/fake/hugetlb/t/h/cgroup.procs')).toBe('7\n');
    expect(sys.files.get('/fake/hugetlb/t/h/hugetlb.2MB.limit_in_bytes')).toBe('4194304');
    cg.update({ unified: { 'cgroup.max.descendants': '5' } });
    expect(sys.files.get('/fake/unified/t/h/cgroup.procs')).toBe('7\n');
    expect(cg.dirs.unified).toBe('/fake/unified/t/h');
  });

  it('a cgroup that does not exist is not made by update', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.open('/t/none', { layout, sys });
    expect(() => cg.update({ cpu: { shares: 512 } })).toThrow();
    expect(sys.exists('/fake/cpuset/t/none')).toBe(false);
  });
});

describe("hierarchies: 'needed' under a parent made by someone else (issue 22: the kubelet's pod cgroup)", () => {
  it('makes the cgroup in every hierarchy where its parent exists, so limits set on the parent reach it', () => {
    const { sys, layout } = fakeV1({ hybrid: true });
    // The pod's cgroup, made by the kubelet in every hierarchy but blkio, and in the cgroup2 tree.
    for (const h of ['cpu,cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'pids', 'hugetlb', 'net_cls,net_prio', 'unified']) {
      sys.mkdir(`/fake/${h}/kube`);
      sys.mkdir(`/fake/${h}/kube/pod1`);
    }
    sys.files.set('/fake/cpuset/kube/cpuset.cpus', '0-3');
    sys.files.set('/fake/cpuset/kube/cpuset.mems', '0');
    sys.files.set('/fake/cpuset/kube/pod1/cpuset.cpus', '2');
    sys.files.set('/fake/cpuset/kube/pod1/cpuset.mems', '0');
    const cg = Cgroup.create('/kube/pod1/c1', {}, { layout, sys, hierarchies: 'needed', followParent: true, devices: false });
    expect(Object.keys(cg.dirs.v1).sort()).toEqual(['cpu', 'cpuacct', 'cpuset', 'freezer', 'hugetlb', 'memory', 'net_cls', 'net_prio', 'pids', 'devices'].sort());
    expect(cg.dirs.unified).toBe('/fake/unified/kube/pod1/c1');
    expect(sys.exists('/fake/blkio/kube/pod1/c1')).toBe(false);
    // The new cpuset is the pod's.
    expect(sys.files.get('/fake/cpuset/kube/pod1/c1/cpuset.cpus')).toBe('2');
  });

  it('where the parent does not exist (ns\'s own /ns made only where needed), only the needed hierarchies (the freezer made at the first pause)', () => {
    const { sys, layout } = fakeV1({ hybrid: true });
    const cg = Cgroup.create('/ns/a', {}, { layout, sys, hierarchies: 'needed', followParent: true, devices: false });
    expect(Object.keys(cg.dirs.v1).sort()).toEqual(['cpu', 'cpuacct', 'memory', 'pids']);
    expect(cg.dirs.unified).toBeUndefined();
    // A second container under the same /ns: still only those.
    const b = Cgroup.create('/ns/b', {}, { layout, sys, hierarchies: 'needed', followParent: true, devices: false });
    expect(Object.keys(b.dirs.v1).sort()).toEqual(['cpu', 'cpuacct', 'memory', 'pids']);
    // Without followParent (the runtime's own default parent), a parent made elsewhere is not followed.
    sys.mkdir('/fake/cpuset/kube');
    const c = Cgroup.create('/kube/c', {}, { layout, sys, hierarchies: 'needed', devices: false });
    expect(c.dirs.v1.cpuset).toBeUndefined();
  });
});
