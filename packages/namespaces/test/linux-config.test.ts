// Issue 19, without root: how devices, namespaces joined by path, a config without a mount
// namespace, rootfsPropagation, a read-only /dev and an empty HOME are checked and planned.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLONE, MS, type MountStep, type Step } from '@ns/syscalls';
import { DEFAULT_MOUNTS, DEFAULT_NAMESPACES, fromOciSpec, planContainer, rootfsContainer, validateContainer, type Container, type NsError } from '../src/index.js';

const mounts = (steps: Step[]) => steps.filter((s): s is MountStep => s.op === 'mount');
const ops = (steps: Step[]) => steps.map((s) => s.op);

let rootfs: string;
beforeAll(() => {
  rootfs = mkdtempSync(join(tmpdir(), 'ns-linux-config-'));
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
});
afterAll(() => rmSync(rootfs, { recursive: true, force: true }));

const rc = (overrides: Partial<Container> = {}) => rootfsContainer(rootfs, { id: 'c19', args: ['/bin/true'], ...overrides });

/** Expect validateContainer to throw ERR_NS_CONFIG with `path` and a message starting with it. */
function rejects(c: Partial<Container>, path: string, message?: RegExp): void {
  let error: { code?: string; path?: string; message: string } | undefined;
  try {
    validateContainer(rc(c));
  } catch (err) {
    error = err as typeof error;
  }
  expect(error).toMatchObject({ code: 'ERR_NS_CONFIG', path });
  expect(error!.message.startsWith(`${path}: `)).toBe(true);
  if (message) expect(error!.message).toMatch(message);
}

describe('devices: checked by JSON path', () => {
  it('takes c, b, u and p nodes below /dev', () => {
    expect(() =>
      validateContainer(rc({ devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }, { path: '/dev/sda9', type: 'b', major: 8, minor: 9 }, { path: '/dev/u', type: 'u', major: 1, minor: 3 }, { path: '/dev/fifo', type: 'p' }] })),
    ).not.toThrow();
  });
  it('refuses a bad type', () => rejects({ devices: [{ path: '/dev/x', type: 'x' as 'c', major: 1, minor: 1 }] }, 'devices[0].type'));
  it('refuses a path outside /dev, also one climbing out of it', () => {
    rejects({ devices: [{ path: '/etc/x', type: 'c', major: 1, minor: 3 }] }, 'devices[0].path', /outside \/dev/);
    rejects({ devices: [{ path: '/dev/../../etc/x', type: 'c', major: 1, minor: 3 }] }, 'devices[0].path', /outside \/dev/);
    rejects({ devices: [{ path: '/dev', type: 'c', major: 1, minor: 3 }] }, 'devices[0].path');
    rejects({ devices: [{ path: 'dev/x', type: 'c', major: 1, minor: 3 }] }, 'devices[0].path');
  });
  it('refuses numbers out of range and a fileMode past 0o7777', () => {
    rejects({ devices: [{ path: '/dev/x', type: 'c', major: 4096, minor: 1 }] }, 'devices[0].major');
    rejects({ devices: [{ path: '/dev/x', type: 'c', major: 1, minor: 0x100000 }] }, 'devices[0].minor');
    rejects({ devices: [{ path: '/dev/x', type: 'c', major: -1, minor: 1 }] }, 'devices[0].major');
    rejects({ devices: [{ path: '/dev/x', type: 'c', minor: 1 }] }, 'devices[0].major', /required for type c/);
    rejects({ devices: [{ path: '/dev/x', type: 'c', major: 1, minor: 1, fileMode: 0o10000 }] }, 'devices[0].fileMode', /0o10000/);
  });
  it('refuses a path listed twice', () => rejects({ devices: [{ path: '/dev/x', type: 'p' }, { path: '/dev/./x', type: 'p' }] }, 'devices[1].path'));
  it('needs a /dev of the container own', () => {
    rejects({ devices: [{ path: '/dev/x', type: 'p' }], mounts: [DEFAULT_MOUNTS[0]!, { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }] }, 'devices', /mounts\[1\] binds/);
  });
  it('names linux.devices in a config.json', () => {
    // Type bits of another type (S_IFBLK on a character device) are refused, naming the field.
    const spec = { ociVersion: '1.2.0', process: { args: ['true'], cwd: '/' }, root: { path: rootfs }, linux: { namespaces: [{ type: 'mount' }], devices: [{ path: '/dev/x', type: 'c', major: 1, minor: 1, fileMode: 0o60666 }] } };
    expect(() => fromOciSpec(spec, { bundle: '/b', id: 'x' })).toThrow(expect.objectContaining({ path: 'linux.devices[0].fileMode', message: 'config.json: linux.devices[0].fileMode: expected permission bits 0..0o7777, got 0o60666' }));
  });
  it('takes a fileMode with the file type bits of its own type, as podman writes it (S_IFCHR | 0666), as runc', () => {
    const devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 1, fileMode: 0o20666 }, { path: '/dev/b', type: 'b', major: 7, minor: 0, fileMode: 0o60600 }, { path: '/dev/p', type: 'p', fileMode: 0o10640 }];
    const spec = { ociVersion: '1.2.0', process: { args: ['true'], cwd: '/' }, root: { path: rootfs }, linux: { namespaces: [{ type: 'mount' }], devices } };
    expect(fromOciSpec(spec, { bundle: '/b', id: 'x' }).devices!.map((d) => d.fileMode)).toEqual([0o666, 0o600, 0o640]);
  });
});

describe('devices: planned after the default ones', () => {
  const devices = [{ path: '/dev/fuse', type: 'c' as const, major: 10, minor: 229, fileMode: 0o600, uid: 1, gid: 2 }, { path: '/dev/net/tun', type: 'c' as const, major: 10, minor: 200 }, { path: '/dev/null', type: 'c' as const, major: 1, minor: 3, fileMode: 0o600 }, { path: '/dev/q', type: 'p' as const }];
  it('with a devices cgroup: mknod with type, mode and owner; a node of the config replaces the default one', () => {
    const { plan } = planContainer(rc({ cgroupsPath: '/x', devices }));
    const nodes = plan.steps.filter((s) => s.op === 'mknod' || s.op === 'chown' || (s.op === 'mkdir' && s.path === '/newroot/dev/net'));
    expect(nodes.map((s) => [s.op, 'path' in s ? s.path : '', s.op === 'mknod' ? s.mode : 0])).toEqual([
      ['mknod', '/newroot/dev/zero', 0o20666],
      ['mknod', '/newroot/dev/full', 0o20666],
      ['mknod', '/newroot/dev/random', 0o20666],
      ['mknod', '/newroot/dev/urandom', 0o20666],
      ['mknod', '/newroot/dev/tty', 0o20666],
      ['mknod', '/newroot/dev/fuse', 0o20600],
      ['chown', '/newroot/dev/fuse', 0],
      ['mkdir', '/newroot/dev/net', 0],
      ['mknod', '/newroot/dev/net/tun', 0o20666],
      ['mknod', '/newroot/dev/null', 0o20600],
      ['mknod', '/newroot/dev/q', 0o10666],
    ]);
    expect(plan.steps.find((s) => s.op === 'chown')).toMatchObject({ uid: 1, gid: 2, nofollow: true });
  });
  it('without one: the host node bound (FIFOs still made), and an error naming the entry when the host has no such device', () => {
    const { plan } = planContainer(rc({ devices: [{ path: '/dev/null', type: 'c', major: 1, minor: 3 }, { path: '/dev/q', type: 'p' }] }));
    expect(mounts(plan.steps).filter((m) => m.source === '/oldroot/dev/null' && m.target === '/newroot/dev/null')).toHaveLength(1);
    expect(plan.steps.filter((s) => s.op === 'mknod').map((s) => (s as { path: string }).path)).toEqual(['/newroot/dev/q']);
    expect(() => planContainer(rc({ devices: [{ path: '/dev/null', type: 'c', major: 1, minor: 5 }] }))).toThrow(expect.objectContaining({ path: 'devices[0].path', message: expect.stringContaining("the host's /dev/null is c 1:3") }));
    expect(() => planContainer(rc({ devices: [{ path: '/dev/no-such-node', type: 'b', major: 8, minor: 0 }] }))).toThrow(/is no device node/);
  });
});

describe('namespaces joined by path', () => {
  it('takes every type, and refuses time offsets and maps with a joined namespace', () => {
    const types = ['ipc', 'uts', 'pid', 'user', 'cgroup', 'time', 'network'] as const;
    expect(() => validateContainer(rc({ hostname: '', namespaces: [{ type: 'mount' }, ...types.map((type) => ({ type, path: `/proc/1/ns/${type}` }))] }))).not.toThrow();
    rejects({ namespaces: [...DEFAULT_NAMESPACES, { type: 'time', path: '/proc/1/ns/time' }], timeOffsets: { boottime: { secs: 5 } } }, 'timeOffsets', /joined by path \(namespaces\[\d\]\) has its offsets already/);
    rejects({ namespaces: [{ type: 'mount' }, { type: 'user', path: '/proc/1/ns/user' }], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }, 'uidMappings', /joined by path/);
    rejects({ namespaces: [{ type: 'mount' }, { type: 'ipc', path: 'proc/1/ns/ipc' }] }, 'namespaces[1].path', /absolute/);
  });
  it('joins user first and mount last, before stdio, and forks into a joined pid namespace', () => {
    const c = rc({ hostname: '', namespaces: [{ type: 'mount', path: '/m' }, { type: 'pid', path: '/p' }, { type: 'ipc', path: '/i' }, { type: 'user', path: '/u' }], mounts: [], maskedPaths: [], readonlyPaths: [] });
    const { plan } = planContainer(c);
    expect(plan.cloneFlags).toBe(0);
    const head = plan.steps.slice(0, plan.steps.findIndex((s) => s.op === 'setsid'));
    expect(head).toEqual([
      { op: 'setns', path: '/u', nstype: CLONE.NEWUSER },
      { op: 'setns', path: '/i', nstype: CLONE.NEWIPC },
      { op: 'setns', path: '/p', nstype: CLONE.NEWPID },
      { op: 'setns', path: '/m', nstype: CLONE.NEWNS },
      { op: 'cloneParent' },
    ]);
    // A joined mount namespace is used as it is: no mount, no pivot_root, no chroot.
    expect(ops(plan.steps)).not.toContain('pivotRoot');
    expect(ops(plan.steps)).not.toContain('chroot');
    expect(mounts(plan.steps)).toEqual([]);
  });
  it('with a joined user namespace, a new pid namespace is unshared after it (owned by it), then forked into', () => {
    const { plan } = planContainer(rc({ hostname: '', namespaces: [{ type: 'user', path: '/u' }, { type: 'mount' }, { type: 'pid' }] }));
    expect(plan.cloneFlags).toBe(0);
    expect(plan.steps.slice(0, 3)).toEqual([{ op: 'setns', path: '/u', nstype: CLONE.NEWUSER }, { op: 'unshare', flags: CLONE.NEWPID | CLONE.NEWNS }, { op: 'cloneParent' }]);
  });
});

describe('no mount namespace of its own', () => {
  const none = (overrides: Partial<Container> = {}) => ({ namespaces: DEFAULT_NAMESPACES.filter((n) => n.type !== 'mount'), mounts: [], maskedPaths: [], readonlyPaths: [], ...overrides });
  it('runs chroot()ed into the rootfs, creating the working directory, as runc', () => {
    const { plan } = planContainer(rc(none({ cwd: '/work/here' })));
    expect(mounts(plan.steps)).toEqual([]);
    const at = plan.steps.findIndex((s) => s.op === 'chroot');
    expect(plan.steps.slice(at, at + 3)).toEqual([
      { op: 'chroot', path: rootfs },
      { op: 'mkdir', path: '/work', mode: 0o755, existOk: true },
      { op: 'mkdir', path: '/work/here', mode: 0o755, existOk: true },
    ]);
  });
  it('refuses what needs one, with the reason', () => {
    rejects(none({ maskedPaths: ['/proc/kcore'] }), 'maskedPaths', /unable to restrict sys entries without a private mount namespace/);
    rejects(none({ readonlyPaths: ['/proc/sys'] }), 'readonlyPaths', /without a private mount namespace/);
    rejects(none({ mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }] }), 'mounts', /outlive the container/);
    rejects(none({ readonly: true }), 'readonly');
    rejects(none({ rootfsPropagation: 'rslave' }), 'rootfsPropagation');
    rejects(none({ devices: [{ path: '/dev/q', type: 'p' }] }), 'devices');
    expect(() => validateContainer({ ...rc(none()), rootfs: null })).toThrow(expect.objectContaining({ path: 'rootfs' }));
  });
  it('names linux.maskedPaths in a config.json', () => {
    const spec = { ociVersion: '1.2.0', process: { args: ['true'], cwd: '/' }, root: { path: rootfs }, linux: { namespaces: [{ type: 'pid' }], maskedPaths: ['/proc/kcore'] } };
    expect(() => fromOciSpec(spec, { bundle: '/b', id: 'x' })).toThrow(expect.objectContaining({ path: 'linux.maskedPaths', message: expect.stringMatching(/^config\.json: linux\.maskedPaths: unable to restrict sys entries/) }));
  });
});

describe('rootfsPropagation', () => {
  const propagationSteps = (p: string) => {
    const { plan } = planContainer(rc({ rootfsPropagation: p }));
    return mounts(plan.steps).filter((m) => m.source === null && m.fstype === null && !(m.flags & (MS.BIND | MS.REMOUNT)));
  };
  it('shared: only / and /tmp made private for the staging, the rootfs a slave for the pivot, / shared at the end', () => {
    const m = propagationSteps('rshared');
    expect(m[0]).toMatchObject({ target: '/', flags: MS.PRIVATE });
    expect(m[1]).toMatchObject({ target: '/tmp', flags: MS.PRIVATE, ignoreInvalid: true });
    expect(m[2]).toMatchObject({ target: '/newroot', flags: MS.REC | MS.SLAVE });
    expect(m.at(-1)).toEqual({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.SHARED, data: null });
  });
  it('slave: every mount a slave from the start, and / once more at the end; private by default', () => {
    expect(propagationSteps('slave').map((m) => [m.target, m.flags])).toEqual([['/', MS.REC | MS.SLAVE], ['/', MS.SLAVE]]);
    expect(propagationSteps('rprivate').map((m) => [m.target, m.flags])).toEqual([['/', MS.REC | MS.PRIVATE]]);
    expect(propagationSteps('runbindable').map((m) => [m.target, m.flags])).toEqual([['/', MS.REC | MS.PRIVATE], ['/', MS.REC | MS.UNBINDABLE]]);
  });
  it('refuses an unknown value', () => rejects({ rootfsPropagation: 'bogus' }, 'rootfsPropagation'));
});

describe('read-only /dev and tmpfs mounts', () => {
  it('mounts them writable, populates them, and remounts them read-only last', () => {
    const ro = DEFAULT_MOUNTS.map((m) => (m.destination === '/dev' || m.destination === '/dev/shm' ? { ...m, options: [...(m.options ?? []), 'ro'] } : m));
    // No masked paths: they are bound between the last of these and pivot_root.
    const { plan } = planContainer(rc({ maskedPaths: [], mounts: [...ro, { destination: '/run', type: 'tmpfs', options: ['ro'] }, { destination: '/run/x', type: 'tmpfs' }] }));
    const m = mounts(plan.steps);
    for (const target of ['/newroot/dev', '/newroot/dev/shm', '/newroot/run']) expect(m.find((s) => s.target === target)!.flags & MS.RDONLY).toBe(0);
    const pivot = plan.steps.findIndex((s) => s.op === 'pivotRoot');
    const last = plan.steps.slice(pivot - 3, pivot);
    expect(last.map((s) => [(s as MountStep).target, (s as MountStep).flags, (s as MountStep).preserveFlags])).toEqual([
      ['/newroot/dev', MS.BIND | MS.REMOUNT | MS.RDONLY, true],
      ['/newroot/dev/shm', MS.BIND | MS.REMOUNT | MS.RDONLY, true],
      ['/newroot/run', MS.BIND | MS.REMOUNT | MS.RDONLY, true],
    ]);
  });
});

describe('the environment', () => {
  it('takes HOME from passwd when it is empty, in place', () => {
    const { env } = planContainer(rc({ env: ['A=1', 'HOME=', 'B=2'] }));
    expect(env).toEqual(['A=1', 'HOME=/root', 'B=2']);
    expect(planContainer(rc({ env: ['HOME=/x'] })).env).toEqual(['HOME=/x']);
  });
  it('refuses duplicate rlimits and sets domainname only in a new UTS namespace', () => {
    rejects({ rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }] }, 'rlimits[1].type');
    expect(planContainer(rc({ domainname: 'example.org' })).plan.steps).toContainEqual({ op: 'setdomainname', domainname: 'example.org' });
    rejects({ domainname: 'x', hostname: '', namespaces: [{ type: 'mount' }] }, 'domainname');
  });
});

/** A minimal valid config.json to change. */
function minimal(): Record<string, any> {
  return { ociVersion: '1.2.0', process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } }, root: { path: rootfs }, linux: { namespaces: [{ type: 'mount' }] } };
}

describe('fromOciSpec: fields ns refuses rather than ignores', () => {
  const cases: [string, (spec: ReturnType<typeof minimal>) => void][] = [
    ['process.apparmorProfile', (s) => (s.process.apparmorProfile = 'docker-default')],
    ['process.selinuxLabel', (s) => (s.process.selinuxLabel = 'system_u:system_r:container_t:s0')],
    // tmpcopyup over a directory with files (it would hide them); see the test below for an empty one.
    ['mounts[0].options[1]', (s) => (s.mounts = [{ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'tmpcopyup'] }])],
    ['linux.mountLabel', (s) => (s.linux.mountLabel = 'system_u:object_r:container_file_t:s0')],
    ['linux.intelRdt', (s) => (s.linux.intelRdt = { closID: 'guaranteed_group' })],
  ];
  it.each(cases)('%s is an error naming it', (path, set) => {
    const spec = minimal();
    set(spec);
    let error: NsError | undefined;
    try {
      fromOciSpec(spec, { bundle: '/b', id: 'x' });
    } catch (err) {
      error = err as NsError;
    }
    expect(error).toMatchObject({ code: 'ERR_NS_CONFIG', path });
    expect(error!.message.startsWith(`config.json: ${path}: `)).toBe(true);
  });

  it('tmpcopyup over a missing or empty directory is taken: nothing to copy (podman --read-only), not through a symlink', () => {
    const spec = minimal();
    spec.mounts = ['/tmp', '/var/tmp'].map((destination) => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['rw', 'tmpcopyup'] }));
    const c = fromOciSpec(spec, { bundle: '/b', id: 'x' });
    expect(c.mounts!.map((m) => m.destination)).toEqual(['/tmp', '/var/tmp']);
    // Not mount data for the kernel (tmpfs refuses it: EINVAL).
    const mounts = planContainer(c).plan.steps.filter((st): st is MountStep => st.op === 'mount');
    expect(mounts.filter((st) => st.fstype === 'tmpfs' && st.target.endsWith('/tmp')).length).toBeGreaterThanOrEqual(2);
    for (const st of mounts) expect(st.data ?? '').not.toMatch(/tmpcopyup/);
    spec.mounts = [{ destination: '/proc/../etc/', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup'] }];
    expect(() => fromOciSpec(spec, { bundle: '/b', id: 'x' })).toThrow(/mounts\[0\]\.options\[0\]: tmpcopyup is not implemented .*hiding what/);
  });

  it('empty ones are fine (hooks: {}, an empty apparmorProfile)', () => {
    const spec = minimal();
    spec.hooks = { prestart: [], poststop: [] };
    spec.process.apparmorProfile = '';
    expect(() => fromOciSpec(spec, { bundle: '/b', id: 'x' })).not.toThrow();
  });
});
