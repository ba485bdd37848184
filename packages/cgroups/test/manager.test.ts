import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { Cgroup } from '../src/manager.js';
import { detectLayout, parseProcCgroup, processCgroupDirs } from '../src/layout.js';
import { fakeV1, fakeV2 } from './helpers/fake-tree.js';

const R = 'linux.resources';

describe('Cgroup.create on v1', () => {
  it('makes the directory in every hierarchy, copies cpuset from the parent, writes the limits', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/t/ns/a', { memory: { limit: 33554432 }, pids: { limit: 16 }, cpu: { quota: 50000, period: 100000 } }, { layout, sys });
    const mkdirs = sys.log.filter((e) => e[0] === 'mkdir').map((e) => e[1]);
    expect(mkdirs).toContain('/fake/memory/t/ns/a');
    expect(mkdirs).toContain('/fake/cpu,cpuacct/t/ns/a');
    expect(mkdirs).toHaveLength(9 * 3);
    expect(sys.files.get('/fake/cpuset/t/cpuset.cpus')).toBe('0-3');
    expect(sys.files.get('/fake/cpuset/t/ns/a/cpuset.mems')).toBe('0');
    const writes = sys.writes().filter(([p]) => p.includes('/t/ns/a/') && !p.includes('cpuset') && !p.includes('devices'));
    expect(writes).toEqual([
      ['/fake/memory/t/ns/a/memory.limit_in_bytes', '33554432'],
      ['/fake/cpu,cpuacct/t/ns/a/cpu.cfs_period_us', '100000'],
      ['/fake/cpu,cpuacct/t/ns/a/cpu.cfs_quota_us', '50000'],
      ['/fake/pids/t/ns/a/pids.max', '16'],
    ]);
    expect(sys.writes().filter(([p]) => p.endsWith('devices.deny'))).toEqual([['/fake/devices/t/ns/a/devices.deny', 'a *:* rwm']]);
    expect(cg.dirs.v1.cpuacct).toBe('/fake/cpu,cpuacct/t/ns/a');
    expect(cg.exists()).toBe(true);
  });

  it('with the parent in place: one mkdir per hierarchy, and an empty cpuset parent is fixed first', () => {
    const { sys, layout } = fakeV1();
    Cgroup.create('/t/ns/a', {}, { layout, sys, devices: false });
    sys.files.set('/fake/cpuset/t/ns/cpuset.cpus', ''); // someone emptied it (nothing can live in it then)
    sys.log.length = 0;
    Cgroup.create('/t/ns/b', {}, { layout, sys, devices: false });
    expect(sys.log.filter((e) => e[0] === 'mkdir')).toHaveLength(9);
    expect(sys.writes().filter(([p]) => p.includes('cpuset.cpus'))).toEqual([
      ['/fake/cpuset/t/ns/cpuset.cpus', '0-3'],
      ['/fake/cpuset/t/ns/b/cpuset.cpus', '0-3'],
    ]);
  });

  it('never writes into the hierarchy roots (where the host lives)', () => {
    const { sys, layout } = fakeV1({ hybrid: true });
    Cgroup.create('/t/a', { memory: { limit: 1 << 25 } }, { layout, sys });
    const roots = ['/fake/memory', '/fake/unified', '/fake/cpuset', '/fake/pids'];
    expect(sys.writes().filter(([p]) => roots.some((r) => p.startsWith(`${r}/`) && !p.slice(r.length + 1).includes('/')))).toEqual([]);
  });

  it('removes everything it created when a write fails, and names the field and file', () => {
    const { sys, layout } = fakeV1();
    sys.addDir('/fake/memory/t'); // an existing parent stays
    sys.files.set('/fake/memory/t/cgroup.procs', '');
    sys.fail = (path) => (path.endsWith('/pids.max') ? 'EINVAL' : undefined);
    let err: any;
    try {
      Cgroup.create('/t/a', { pids: { limit: 16 } }, { layout, sys });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'EINVAL', syscall: 'write', jsonPath: `${R}.pids.limit`, path: '/fake/pids/t/a/pids.max' });
    expect(err.message).toMatch(/write "16" to \/fake\/pids\/t\/a\/pids.max \(linux.resources.pids.limit\): EINVAL/);
    expect([...sys.dirs].filter((d) => d.includes('/t'))).toEqual(['/fake/memory/t']);
  });

  it('a missing file is ERR_NS_CONFIG naming the field; fallbacks and optional writes are used', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    cg.apply({ blockIO: { weight: 500 }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] });
    expect(sys.files.get('/fake/blkio/a/blkio.bfq.weight')).toBe('500'); // blkio.weight absent: BFQ's file
    expect(sys.files.get('/fake/hugetlb/a/hugetlb.2MB.limit_in_bytes')).toBe('0'); // no rsvd file: skipped
    expect(() => cg.apply({ blockIO: { leafWeight: 100 } })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.blockIO.leafWeight`, path: '/fake/blkio/a/blkio.leaf_weight', message: expect.stringMatching(/cannot honour/) }),
    );
    expect(() => cg.apply({ hugepageLimits: [{ pageSize: '1GB', limit: 0 }] })).toThrow(expect.objectContaining({ jsonPath: `${R}.hugepageLimits[0].limit` }));
  });

  it('retries a write refused with EINVAL after the others (memory limit above the old memsw limit)', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', { memory: { limit: 100, swap: 100 } }, { layout, sys, devices: false });
    sys.fail = (path, value) => {
      const dir = '/fake/memory/a';
      if (path === `${dir}/memory.limit_in_bytes` && Number(value) > Number(sys.files.get(`${dir}/memory.memsw.limit_in_bytes`))) return 'EINVAL';
      return undefined;
    };
    sys.log.length = 0;
    cg.update({ memory: { limit: 200, swap: 400 } });
    expect(sys.writes()).toEqual([
      ['/fake/memory/a/memory.memsw.limit_in_bytes', '400'],
      ['/fake/memory/a/memory.limit_in_bytes', '200'],
    ]);
  });

  it('a kernel memory limit the kernel takes but ignores (reads back unlimited, Linux >= 5.16) is ERR_NS_CONFIG naming the field; one it keeps is applied', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    const file = '/fake/memory/a/memory.kmem.limit_in_bytes';
    const unlimited = '9223372036854771712';
    sys.files.set(file, unlimited);
    sys.onWrite = (path) => void (path === file && sys.files.set(file, unlimited));
    expect(() => cg.update({ memory: { kernel: 64 * 1024 * 1024 } })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.memory.kernel`, path: file, message: expect.stringMatching(/does not honour it: .* still reads 9223372036854771712 after 67108864/) }),
    );
    // Refused before anything else of the call is written: the old limit stays.
    cg.update({ memory: { limit: 128 * 1024 * 1024 } });
    expect(() => cg.update({ memory: { limit: 100_000_000, kernel: 50_000_000 } })).toThrow(expect.objectContaining({ jsonPath: `${R}.memory.kernel` }));
    expect(sys.files.get('/fake/memory/a/memory.limit_in_bytes')).toBe(String(128 * 1024 * 1024));
    cg.update({ memory: { kernel: -1 } }); // unlimited is what it is
    sys.onWrite = () => undefined;
    cg.update({ memory: { kernel: 64 * 1024 * 1024 } });
    expect(sys.files.get(file)).toBe('67108864');
  });

  it('EBUSY on a memory limit says the usage', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    sys.files.set('/fake/memory/a/memory.usage_in_bytes', '5000');
    sys.fail = (path) => (path.endsWith('memory.limit_in_bytes') ? 'EBUSY' : undefined);
    expect(() => cg.update({ memory: { limit: 4096 } })).toThrow(/EBUSY.*current usage 5000, peak 0/);
  });

  it('refuses an existing cgroup that holds processes, leaving it alone', () => {
    const { sys, layout } = fakeV1();
    Cgroup.create('/a', {}, { layout, sys, devices: false });
    sys.files.set('/fake/pids/a/cgroup.procs', '4242\n');
    expect(() => Cgroup.create('/a', {}, { layout, sys })).toThrow(expect.objectContaining({ code: 'ERR_NS_STATE', message: expect.stringMatching(/already holds processes, in it or in its child cgroups \(4242\)/) }));
    expect(sys.dirs.has('/fake/pids/a')).toBe(true);
  });

  it('refuses an existing cgroup with a process in a child cgroup, in any hierarchy it was in before', () => {
    const { sys, layout } = fakeV1();
    // Only in the memory hierarchy, with a process one level down: the pids directory is new.
    sys.dirs.add('/fake/memory/a');
    sys.dirs.add('/fake/memory/a/svc');
    sys.files.set('/fake/memory/a/cgroup.procs', '');
    sys.files.set('/fake/memory/a/svc/cgroup.procs', '777\n');
    expect(() => Cgroup.create('/a', { memory: { limit: 1 << 26 }, pids: { limit: 10 } }, { layout, sys, devices: false })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_STATE', message: expect.stringMatching(/already holds processes, in it or in its child cgroups \(777\)/) }),
    );
    expect(sys.dirs.has('/fake/memory/a/svc')).toBe(true);
    expect(sys.dirs.has('/fake/pids/a')).toBe(false); // the one it made is removed again
  });

  it('update of devices on a live cgroup: the fewest writes from devices.list', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', { devices: [{ allow: false, access: 'rwm' }] }, { layout, sys, defaultDevices: false });
    sys.files.set('/fake/devices/a/devices.list', 'c 1:3 rwm\n');
    sys.log.length = 0;
    cg.update({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'rw' }] });
    expect(sys.writes()).toEqual([['/fake/devices/a/devices.allow', 'c 1:5 rw']]);
  });

  it('addProcess writes the pid into every directory; pids() reads it back', () => {
    const { sys, layout } = fakeV1({ hybrid: true });
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    cg.addProcess(4242);
    expect(sys.writes().filter(([p]) => p.endsWith('cgroup.procs')).map(([p]) => p)).toHaveLength(10);
    expect(sys.files.get('/fake/unified/a/cgroup.procs')).toBe('4242\n');
    expect(cg.pids()).toEqual([4242]);
  });
});

describe('Cgroup on v2', () => {
  it('enables controllers in the subtree_control of each new level, not the root nor the leaf', () => {
    const { sys, layout } = fakeV2();
    Cgroup.create('/t/ns/a', { memory: { limit: 1 << 25 }, pids: { limit: 16 } }, { layout, sys, devices: false });
    const sc = sys.writes().filter(([p]) => p.endsWith('subtree_control'));
    expect(sc).toEqual([
      ['/fake/v2/t/cgroup.subtree_control', '+cpuset +cpu +io +memory +hugetlb +pids'],
      ['/fake/v2/t/ns/cgroup.subtree_control', '+cpuset +cpu +io +memory +hugetlb +pids'],
    ]);
    expect(sys.files.get('/fake/v2/t/ns/a/memory.max')).toBe(String(1 << 25));
    expect(sys.files.get('/fake/v2/t/ns/a/pids.max')).toBe('16');
  });

  it('with the parent in place: enables what it lacks in its subtree_control, never in the root', () => {
    const { sys, layout } = fakeV2();
    sys.addDir('/fake/v2/rt');
    sys.files.set('/fake/v2/rt/cgroup.procs', '');
    sys.files.set('/fake/v2/rt/cgroup.controllers', 'cpuset cpu io memory hugetlb pids');
    sys.files.set('/fake/v2/rt/cgroup.subtree_control', 'memory');
    Cgroup.create('/rt/a', { pids: { limit: 3 } }, { layout, sys, devices: false });
    expect(sys.writes().filter(([p]) => p.endsWith('subtree_control'))).toEqual([['/fake/v2/rt/cgroup.subtree_control', '+cpuset +cpu +io +hugetlb +pids']]);
    sys.log.length = 0;
    Cgroup.create('/top', {}, { layout, sys, devices: false });
    expect(sys.writes()).toEqual([]);
  });

  it('skips a level that holds processes, and then a field needing the controller fails naming it', () => {
    const { sys, layout } = fakeV2();
    sys.addDir('/fake/v2/busy');
    sys.files.set('/fake/v2/busy/cgroup.procs', '77\n');
    sys.files.set('/fake/v2/busy/cgroup.controllers', 'cpuset cpu io memory hugetlb pids');
    sys.files.set('/fake/v2/busy/cgroup.subtree_control', '');
    expect(() => Cgroup.create('/busy/a', { pids: { limit: 5 } }, { layout, sys, devices: false })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.pids.limit`, path: '/fake/v2/busy/a/pids.max', message: expect.stringMatching(/pids controller is not enabled/) }),
    );
    expect(sys.writes().filter(([p]) => p.startsWith('/fake/v2/busy/cgroup'))).toEqual([]);
    expect(sys.dirs.has('/fake/v2/busy/a')).toBe(false);
  });

  it('a cgroup made just now is written without reading its cgroup.controllers first; update() reads it before any write', () => {
    const { sys, layout } = fakeV2();
    const read = vi.spyOn(sys, 'readFile');
    const cg = Cgroup.create('/a', { pids: { limit: 3 } }, { layout, sys, devices: false });
    expect(sys.files.get('/fake/v2/a/pids.max')).toBe('3');
    expect(read.mock.calls.map(([p]) => p)).not.toContain('/fake/v2/a/cgroup.controllers');
    cg.update({ pids: { limit: 4 } });
    expect(read.mock.calls.map(([p]) => p)).toContain('/fake/v2/a/cgroup.controllers');
  });

  it('a parent found with every controller enabled is not read again at the next create; one disabled there since is enabled again (create tries once more)', () => {
    const { sys, layout } = fakeV2();
    Cgroup.create('/p/a', { pids: { limit: 3 } }, { layout, sys, devices: false });
    const read = vi.spyOn(sys, 'readFile');
    const exists = vi.spyOn(sys, 'exists');
    Cgroup.create('/p/b', { pids: { limit: 3 } }, { layout, sys, devices: false });
    expect(read.mock.calls.map(([p]) => p).filter((p) => p.startsWith('/fake/v2/p/cgroup.'))).toEqual([]);
    expect(exists.mock.calls.map(([p]) => p)).not.toContain('/fake/v2/p');
    expect(sys.files.get('/fake/v2/p/b/pids.max')).toBe('3');
    // Someone else disables pids below /p: the next cgroup lacks pids.max at first.
    sys.files.set('/fake/v2/p/cgroup.subtree_control', 'cpuset cpu io memory hugetlb');
    Cgroup.create('/p/c', { pids: { limit: 4 } }, { layout, sys, devices: false });
    expect(sys.files.get('/fake/v2/p/c/pids.max')).toBe('4');
    expect(sys.writes()).toContainEqual(['/fake/v2/p/cgroup.subtree_control', '+pids']);
  });

  it('devices: hands the compiled BPF program to attachDeviceFilter; without one it is an error', () => {
    const { sys, layout } = fakeV2();
    const attach = vi.fn();
    Cgroup.create('/a', { devices: [{ allow: false, access: 'rwm' }] }, { layout, sys, attachDeviceFilter: attach });
    expect(attach).toHaveBeenCalledTimes(1);
    expect(attach.mock.calls[0]![0]).toBe('/fake/v2/a');
    expect(attach.mock.calls[0]![1].program.length % 8).toBe(0);
    expect(() => Cgroup.create('/b', {}, { layout, sys })).toThrow(expect.objectContaining({ jsonPath: `${R}.devices`, message: expect.stringMatching(/attachDeviceFilter/) }));
    expect(sys.dirs.has('/fake/v2/b')).toBe(false);
  });

  it('checkBeforeUpdate refuses a limit at or below usage (v2 would OOM-kill instead)', () => {
    const { sys, layout } = fakeV2();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    sys.files.set('/fake/v2/a/memory.current', '10000');
    expect(() => cg.update({ memory: { limit: 8192, checkBeforeUpdate: true } })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.memory.checkBeforeUpdate`, message: expect.stringMatching(/not above the current usage 10000/) }),
    );
    cg.update({ memory: { limit: 20000, checkBeforeUpdate: true } });
    expect(sys.files.get('/fake/v2/a/memory.max')).toBe('20000');
  });

  it('update() on v2 refuses a memory limit below the usage without checkBeforeUpdate too (v1 refuses it with EBUSY); apply() on create does not check', () => {
    const { sys, layout } = fakeV2();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    sys.files.set('/fake/v2/a/memory.current', '10000');
    expect(() => cg.update({ memory: { limit: 8192 } })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: `${R}.memory.limit`, path: '/fake/v2/a/memory.current', message: expect.stringMatching(/not above the current usage 10000/) }),
    );
    expect(sys.files.get('/fake/v2/a/memory.max')).not.toBe('8192');
    cg.apply({ memory: { limit: 8192 } });
    expect(sys.files.get('/fake/v2/a/memory.max')).toBe('8192');
  });

  it('kill-all uses cgroup.kill, destroy removes child cgroups first', async () => {
    const { sys, layout } = fakeV2();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    cg.addProcess(50);
    sys.addDir('/fake/v2/a/inner');
    sys.files.set('/fake/v2/a/inner/cgroup.procs', '');
    sys.onWrite = (path) => {
      if (path.endsWith('cgroup.kill')) sys.files.set('/fake/v2/a/cgroup.procs', '');
    };
    await cg.destroy();
    expect(sys.log.filter((e) => e[0] === 'rmdir')).toEqual([['rmdir', '/fake/v2/a/inner'], ['rmdir', '/fake/v2/a']]);
    expect(sys.writes().some(([p]) => p === '/fake/v2/a/cgroup.kill')).toBe(true);
    expect(cg.exists()).toBe(false);
    await cg.destroy(); // already gone: fine
  });

  it('freeze writes cgroup.freeze and waits for cgroup.events frozen 1', async () => {
    const { sys, layout } = fakeV2();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    let polls = 0;
    const read = sys.readFile.bind(sys);
    sys.readFile = (p) => (p.endsWith('cgroup.events') && sys.files.get('/fake/v2/a/cgroup.freeze') === '1' && ++polls > 2 ? 'populated 1\nfrozen 1\n' : read(p));
    expect(cg.freezerState()).toBe('THAWED');
    await cg.freeze();
    expect(cg.freezerState()).toBe('FROZEN');
    cg.thaw();
    expect(sys.files.get('/fake/v2/a/cgroup.freeze')).toBe('0');
  });
});

describe('Cgroup on v1: freeze, kill, destroy', () => {
  it('freeze polls freezer.state through FREEZING', async () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    let n = 0;
    sys.onWrite = (path, value) => {
      if (path.endsWith('freezer.state') && value === 'FROZEN') sys.files.set(path, ++n < 3 ? 'FREEZING' : 'FROZEN');
    };
    await cg.freeze();
    expect(cg.freezerState()).toBe('FROZEN');
    expect(n).toBe(3);
  });

  it('kill-all without cgroup.kill: freeze, signal every pid, thaw, until empty; destroy retries on EBUSY', async () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    cg.addProcess(11);
    cg.addProcess(12);
    sys.onWrite = (path, value) => {
      if (path.endsWith('freezer.state')) sys.files.set(path, value === 'FROZEN' ? 'FROZEN' : 'THAWED');
    };
    await cg.destroy();
    expect(sys.log.filter((e) => e[0] === 'kill')).toEqual([['kill', 11, 'SIGKILL'], ['kill', 12, 'SIGKILL']]);
    expect([...sys.dirs].filter((d) => d.endsWith('/a'))).toEqual([]);
  });

  it("hierarchies 'needed': no freezer cgroup until the first freeze, which makes it FROZEN, moves every process in (forks caught on a later pass), and destroy removes it", async () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/t/a', { pids: { limit: 9 } }, { layout, sys, devices: false, hierarchies: 'needed' });
    expect(sys.dirs.has('/fake/freezer/t/a')).toBe(false);
    expect(cg.freezerState()).toBeUndefined();
    cg.addProcess(11);
    cg.addProcess(12);
    let forked = false;
    sys.onWrite = (path, value) => {
      if (path.endsWith('freezer.state')) sys.files.set(path, value);
      // 12 forks 13 while the first pass moves it: 13 starts in the pids cgroup, outside the freezer.
      if (path === '/fake/freezer/t/a/cgroup.procs' && value === '12' && !forked) {
        forked = true;
        sys.files.set('/fake/pids/t/a/cgroup.procs', `${sys.files.get('/fake/pids/t/a/cgroup.procs')}13\n`);
      }
    };
    await cg.freeze();
    const moves = sys.writes().filter(([p]) => p.startsWith('/fake/freezer/'));
    expect(moves).toEqual([
      ['/fake/freezer/t/a/freezer.state', 'FROZEN'],
      ['/fake/freezer/t/a/cgroup.procs', '11'],
      ['/fake/freezer/t/a/cgroup.procs', '12'],
      ['/fake/freezer/t/a/cgroup.procs', '13'],
      ['/fake/freezer/t/a/freezer.state', 'FROZEN'],
    ]);
    expect(cg.freezerState()).toBe('FROZEN');
    // Another handle (as `ns resume` in another process, or exec()'s own) finds it.
    const other = Cgroup.open('/t/a', { layout, sys });
    expect(other.freezerState()).toBe('FROZEN');
    other.thaw();
    expect(cg.freezerState()).toBe('THAWED');
    const first = Cgroup.create('/t/b', {}, { layout, sys, devices: false, hierarchies: 'needed' });
    first.removeEmpty(); // never paused: nothing in the freezer hierarchy to remove
    await cg.destroy();
    expect([...sys.dirs].filter((d) => d.endsWith('/t/a') || d.endsWith('/t/b'))).toEqual([]);
  });

  it('a process the kernel does not move (exiting) does not keep the first freeze going', async () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false, hierarchies: 'needed' });
    cg.addProcess(21);
    sys.onWrite = (path, value) => {
      if (path.endsWith('freezer.state')) sys.files.set(path, value);
      if (path === '/fake/freezer/a/cgroup.procs') sys.files.set(path, ''); // refused silently
    };
    await cg.freeze();
    expect(sys.writes().filter(([p]) => p === '/fake/freezer/a/cgroup.procs')).toEqual([['/fake/freezer/a/cgroup.procs', '21']]);
  });

  it('a non-KILL signal goes once to each pid and does not wait', async () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    cg.addProcess(11);
    sys.onWrite = (path, value) => {
      if (path.endsWith('freezer.state')) sys.files.set(path, value);
    };
    await cg.killAll('SIGTERM');
    expect(sys.log.filter((e) => e[0] === 'kill')).toEqual([['kill', 11, 'SIGTERM']]);
    expect(cg.pids()).toEqual([11]);
  });
});

describe('safety', () => {
  it("refuses to manage the runtime's own cgroup", () => {
    const layout = detectLayout();
    const mine = processCgroupDirs(layout, 'self');
    const own = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8')).find((e) => e.path !== '/');
    if (!own || mine.length === 0) return; // this process sits in root cgroups only, which no path can name
    expect(() => Cgroup.open(own.path, { layout, sys: fakeV2().sys })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_STATE', message: expect.stringMatching(/this process \(the runtime\) lives in/) }),
    );
  });
  it('refuses a path that is not normalized or is the root', () => {
    const { sys, layout } = fakeV2();
    for (const p of ['/', 'a', '/a/../b', '/a//b']) expect(() => Cgroup.open(p, { layout, sys })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
  });
});
