// /dev of a container, for real, as root (issue 19): the config's device nodes (mknod under a
// devices cgroup, the host's node bound without one, FIFOs made either way), a read-only /dev
// populated first, and an empty HOME. Bad entries fail before anything is spawned. Nothing is
// left mounted, no cgroup is left.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, DEFAULT_NAMESPACES, exec, rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, gone, hostMounts, isRoot, run } from './helpers.js';

/** A node's path, type and mode, owner, group, major and minor (hex), one line each. */
const LIST = (paths: string[]) => `stat -c '%n %A %u %g %t:%T' ${paths.join(' ')}`;

const DEVICES: Container['devices'] = [
  { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o640, uid: 7, gid: 8 },
  { path: '/dev/net/tun', type: 'c', major: 10, minor: 200 },
  { path: '/dev/ctl', type: 'p', fileMode: 0o600 },
];

describe.skipIf(!isRoot || !ROOTFS)('exec() with linux.devices (as root)', () => {
  it('makes them with mknod under a devices cgroup: type, numbers, mode and owner as asked, after the default nodes', async () => {
    const before = hostMounts();
    const cgroupsPath = `/ns-test-devices-${process.pid}`;
    const c = rootfsContainer(ROOTFS, { args: ['sh', '-c', LIST(['/dev/fuse', '/dev/net/tun', '/dev/ctl', '/dev/null'])], cgroupsPath, devices: DEVICES });
    const r = await run(c);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      '/dev/fuse crw-r----- 7 8 a:e5',
      '/dev/net/tun crw-rw-rw- 0 0 a:c8',
      '/dev/ctl prw------- 0 0 0:0',
      '/dev/null crw-rw-rw- 0 0 1:3',
      '',
    ]);
    expect(hostMounts()).toEqual(before);
    expect(existsSync(`/sys/fs/cgroup/unified${cgroupsPath}`) || existsSync(`/sys/fs/cgroup${cgroupsPath}`)).toBe(false);
  });

  it("binds the host's node without a devices cgroup (its mode and owner), and it works", async () => {
    const before = hostMounts();
    const c = rootfsContainer(ROOTFS, {
      args: ['sh', '-c', `${LIST(['/dev/net/tun', '/dev/ctl'])}; grep -c ' /dev/net/tun ' /proc/self/mountinfo; echo hi > /dev/ctl & cat /dev/ctl; wait`],
      devices: DEVICES.slice(1),
    });
    const r = await run(c);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['/dev/net/tun crw-rw-rw- 0 0 a:c8', '/dev/ctl prw------- 0 0 0:0', '1', 'hi', '']);
    expect(hostMounts()).toEqual(before);
  });

  it('in a user namespace too (no mknod there), as runc', async () => {
    const c = rootfsContainer(ROOTFS, {
      args: ['sh', '-c', LIST(['/dev/net/tun'])],
      namespaces: [{ type: 'user' }, ...DEFAULT_NAMESPACES],
      uidMappings: [{ containerID: 0, hostID: 0, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 0, size: 65536 }],
      devices: [{ path: '/dev/net/tun', type: 'c', major: 10, minor: 200 }],
    });
    const r = await run(c);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/dev/net/tun crw-rw-rw- 0 0 a:c8\n');
  });

  it('refuses bad entries by path before anything is spawned', () => {
    const before = hostMounts();
    const bad = (devices: unknown, path: string) =>
      expect(() => exec(rootfsContainer(ROOTFS, { args: ['true'], devices: devices as Container['devices'] }), { stdio: 'ignore' })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path }));
    bad([{ path: '/dev/x', type: 'q', major: 1, minor: 3 }], 'devices[0].type');
    bad([{ path: '/etc/x', type: 'c', major: 1, minor: 3 }], 'devices[0].path');
    bad([{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o17777 }], 'devices[0].fileMode');
    bad([{ path: '/dev/x', type: 'c', major: 1, minor: 4096 * 256 }], 'devices[0].minor');
    // Bound from the host: the host's node at that path must be that device.
    bad([{ path: '/dev/null', type: 'c', major: 1, minor: 5 }], 'devices[0].path');
    expect(hostMounts()).toEqual(before);
  });
});

describe.skipIf(!isRoot || !ROOTFS)('exec() with a read-only /dev and an empty HOME (as root)', () => {
  it('populates /dev (nodes, symlinks, pts, shm, mqueue, console) and remounts it read-only last', async () => {
    const before = hostMounts();
    const mounts = DEFAULT_MOUNTS.map((m) => (m.destination === '/dev' ? { ...m, options: [...(m.options ?? []), 'ro'] } : m));
    const script = 'ls /dev | tr "\\n" " "; echo; grep " /dev " /proc/self/mountinfo | cut -d" " -f6; touch /dev/x 2>&1; echo ok > /dev/null && echo null-ok';
    const p = exec(rootfsContainer(ROOTFS, { args: ['sh', '-c', script], mounts, terminal: true }));
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = await p.wait();
    expect(exit.exitCode).toBe(0);
    const lines = out.replaceAll('\r', '').split('\n');
    expect(lines[0]).toBe('console core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ');
    expect(lines[1]!.split(',')[0]).toBe('ro');
    expect(lines[2]).toBe('touch: /dev/x: Read-only file system');
    expect(lines[3]).toBe('null-ok');
    expect(gone(p.pid)).toBe(true);
    expect(hostMounts()).toEqual(before);
  });

  it("takes the user's home from passwd when HOME is empty, as when it is missing", async () => {
    const c = (env: string[]) => rootfsContainer(ROOTFS, { args: ['sh', '-c', 'echo "[$HOME]"'], env, user: 'root' });
    expect((await run(c(['HOME=']))).stdout).toBe('[/root]\n');
    expect((await run(c([]))).stdout).toBe('[/root]\n');
    expect((await run(c(['HOME=/srv']))).stdout).toBe('[/srv]\n');
  });
});
