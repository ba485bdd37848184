import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLONE, MS, PR } from '@ns/syscalls';
import { DEFAULT_NAMESPACES, checkIdMappings, formatIdMap, mapToHost, planContainer, rootfsContainer, withRootless } from '../src/index.js';

describe('id mappings', () => {
  const maps = [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 1000, hostID: 1000, size: 1 },
  ];
  it('maps container ids to host ids', () => {
    expect(mapToHost(0, maps)).toBe(100000);
    expect(mapToHost(999, maps)).toBe(100999);
    expect(mapToHost(1000, maps)).toBe(1000);
    expect(mapToHost(1001, maps)).toBeNull();
  });
  it('formats uid_map lines', () => {
    expect(formatIdMap(maps)).toBe('0 100000 1000\n1000 1000 1\n');
  });
  it('rejects empty, zero-sized and overlapping mappings, naming the entry', () => {
    expect(() => checkIdMappings([], 'uidMappings')).toThrow('uidMappings: a user namespace needs at least one mapping');
    expect(() => checkIdMappings([{ containerID: 0, hostID: 1, size: 0 }], 'uidMappings')).toThrow(/^uidMappings\[0\]: expected/);
    expect(() => checkIdMappings([...maps, { containerID: 500, hostID: 5, size: 1 }], 'gidMappings')).toThrow('gidMappings[2]: overlaps gidMappings[0]');
  });
});

describe('planning with a user namespace', () => {
  let rootfs: string;
  beforeAll(() => {
    rootfs = mkdtempSync(join(tmpdir(), 'ns-userns-'));
    mkdirSync(join(rootfs, 'etc'));
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  });
  afterAll(() => rmSync(rootfs, { recursive: true, force: true }));

  const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const userns = (over = {}) =>
    rootfsContainer(rootfs, { id: 'u', namespaces: [...DEFAULT_NAMESPACES, { type: 'user' }], uidMappings: map, gidMappings: map, ...over });

  it('waits for the id maps, then becomes root of the namespace', () => {
    const { plan, idMaps } = planContainer(userns());
    expect(idMaps).toEqual({ uidMappings: map, gidMappings: map });
    const ops = plan.steps.map((s) => s.op);
    const sync = ops.indexOf('sync');
    expect(ops.slice(sync, sync + 4)).toEqual(['sync', 'prctl', 'setresgid', 'setresuid']);
    expect(sync).toBeLessThan(ops.indexOf('mount'));
  });

  it('makes the user namespace in ns-init, not at clone: dumpable only while the maps are written, then forks into the pid namespace', () => {
    const { plan, stdioAt } = planContainer(userns());
    // Exec'd into a user namespace with no maps yet, ns-init would lose every capability.
    expect(plan.cloneFlags & (CLONE.NEWUSER | CLONE.NEWPID)).toBe(0);
    const dumpable = (on: number) => ({ op: 'prctl', option: PR.SET_DUMPABLE, arg2: on, arg3: 0, arg4: 0, arg5: 0 });
    expect(plan.steps.slice(0, 4)).toEqual([{ op: 'unshare', flags: CLONE.NEWUSER }, dumpable(1), { op: 'sync', name: 'idmap' }, dumpable(0)]);
    const fork = plan.steps.findIndex((s) => s.op === 'cloneParent');
    const unshare = plan.steps[fork - 1] as { op: string; flags: number };
    expect(unshare.op).toBe('unshare');
    expect(unshare.flags & CLONE.NEWPID).toBe(CLONE.NEWPID);
    // The session (and a console) belongs to the process that runs the program.
    expect(stdioAt).toBe(fork + 1);
    expect(plan.steps[stdioAt]).toEqual({ op: 'setsid' });
  });

  it('binds the host device nodes instead of mknod, which a user namespace refuses', () => {
    const { plan } = planContainer(userns());
    expect(plan.steps.some((s) => s.op === 'mknod')).toBe(false);
    expect(plan.steps).toContainEqual({ op: 'mount', source: '/oldroot/dev/null', target: '/newroot/dev/null', fstype: null, flags: MS.BIND, data: null, nofollow: true });
  });

  it('drops devpts gid=5 when gid 5 is not mapped, and keeps it when it is', () => {
    const narrow = [{ containerID: 0, hostID: 100000, size: 1 }];
    const devpts = (c: ReturnType<typeof userns>) => planContainer(c).plan.steps.find((s) => s.op === 'mount' && s.fstype === 'devpts') as { data: string };
    expect(devpts(userns({ gidMappings: narrow, uidMappings: narrow })).data).not.toContain('gid=');
    expect(devpts(userns()).data).toContain('gid=5');
  });

  it('bind-mounts the host /sys when there is no network namespace of its own', () => {
    const { plan } = planContainer(userns({ hostname: '', namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'user' }] }));
    expect(plan.steps.some((s) => s.op === 'mount' && s.fstype === 'sysfs')).toBe(false);
    expect(plan.steps).toContainEqual(expect.objectContaining({ source: '/oldroot/sys', target: '/newroot/sys', flags: MS.BIND | MS.REC }));
  });

  it('keeps the locked flags on read-only remounts', () => {
    const { plan } = planContainer(userns({ readonly: true }));
    const remounts = plan.steps.filter((s) => s.op === 'mount' && (s.flags & MS.REMOUNT) !== 0);
    expect(remounts.length).toBeGreaterThan(0);
    expect(remounts.every((s) => s.preserveFlags === true)).toBe(true);
  });

  it('needs mappings with a user namespace, and a user namespace for mappings', () => {
    expect(() => planContainer(userns({ uidMappings: [] }))).toThrow('uidMappings: a user namespace needs at least one mapping');
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'u', uidMappings: map }))).toThrow(/need a user namespace/);
  });

  it('rootless: adds a user namespace mapping the caller to root only when not running as root', () => {
    const c = rootfsContainer(rootfs, { id: 'u' });
    const out = withRootless(c);
    if (process.geteuid!() === 0) {
      expect(out).toBe(c);
    } else {
      expect(out.namespaces[0]).toEqual({ type: 'user' });
      expect(out.uidMappings).toEqual([{ containerID: 0, hostID: process.geteuid!(), size: 1 }]);
    }
  });
});
