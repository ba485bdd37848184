// Id-mapped bind mounts (config.md `idmap`/`ridmap`, a mount's uidMappings/gidMappings) on the
// real kernel: open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount, as root.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, DEFAULT_NAMESPACES, createPool, exec, planContainer, rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, hostMounts as allHostMounts, isRoot, run } from './helpers.js';

/** The host's mount points but other test runs' own under /tmp and /run/netns (engineers share this machine). */
const hostMounts = () => allHostMounts().filter((m) => !(m.startsWith('/tmp/') || m.startsWith('/run/netns/')) || m.startsWith(ROOTFS));

const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];
/** Kernel major version: /tmp's file system takes id-mapped mounts (ext4 since 5.12, tmpfs since 6.3). */
const major = Number.parseInt(release(), 10);

describe.skipIf(!isRoot || !ROOTFS || major < 6)('id-mapped bind mounts (as root)', () => {
  let dir: string;
  const before = hostMounts();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-idmap-'));
    chownSync(dir, 0, 0);
    writeFileSync(join(dir, 'root-file'), 'r');
    writeFileSync(join(dir, 'user-file'), 'u');
    chownSync(join(dir, 'user-file'), 1000, 1000);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    expect(hostMounts()).toEqual(before);
  });

  const box = (script: string, o: Partial<Container> = {}, mount: Partial<NonNullable<Container['mounts']>[number]> = {}) =>
    rootfsContainer(ROOTFS, {
      args: ['/bin/sh', '-c', script],
      mounts: [...DEFAULT_MOUNTS, { destination: '/mnt', type: 'bind', source: dir, options: ['bind', 'idmap'], ...mount }],
      ...o,
    });

  it('shows the files with the mount\'s mappings: on-disk 0 and 1000 as 100000 and 101000', async () => {
    const r = await run(box('stat -c %n=%u:%g /mnt/root-file /mnt/user-file', {}, { uidMappings: MAP, gidMappings: MAP }));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/mnt/root-file=100000:100000\n/mnt/user-file=101000:101000\n');
    // The host's files are untouched.
    expect(statSync(join(dir, 'root-file')).uid).toBe(0);
  });

  it('`idmap` alone takes the container\'s user namespace mappings: its root owns the host\'s root files, and writes them as root', async () => {
    const userns = { namespaces: [...DEFAULT_NAMESPACES, { type: 'user' as const }], uidMappings: MAP, gidMappings: MAP };
    const r = await run(box('stat -c %n=%u:%g /mnt/root-file /mnt/user-file && echo x > /mnt/made && chown 1000:1000 /mnt/made', userns));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/mnt/root-file=0:0\n/mnt/user-file=1000:1000\n');
    const made = statSync(join(dir, 'made'));
    expect([made.uid, made.gid]).toEqual([1000, 1000]);
    rmSync(join(dir, 'made'));
    // Without idmap, the same container sees the host's root directory as unmapped (nobody).
    const plain = await run(box('stat -c %u /mnt', userns, { options: ['bind'] }));
    expect(plain.stdout).toBe('65534\n');
  });

  it('ridmap with rbind maps the mounts below the source too; idmap only the top one', async () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    const inner = mkdtempSync(join(tmpdir(), 'ns-idmap-inner-'));
    writeFileSync(join(inner, 'f'), 'f');
    expect(spawnSync('mount', ['--bind', inner, sub]).status).toBe(0);
    try {
      const own = { uidMappings: MAP, gidMappings: MAP };
      const ridmap = await run(box('stat -c %u /mnt/root-file /mnt/sub/f', {}, { options: ['rbind', 'ridmap'], ...own }));
      expect(ridmap.stdout).toBe('100000\n100000\n');
      const idmap = await run(box('stat -c %u /mnt/root-file /mnt/sub/f', {}, { options: ['rbind', 'idmap'], ...own }));
      expect(idmap.stdout).toBe('100000\n0\n');
    } finally {
      spawnSync('umount', [sub]);
      rmSync(inner, { recursive: true, force: true });
      rmSync(sub, { recursive: true, force: true });
    }
  });

  it('a file system without id-mapped mounts (sysfs) is an error naming the mount, and nothing is left behind', async () => {
    const mounts = hostMounts();
    const c = rootfsContainer(ROOTFS, {
      args: ['true'],
      mounts: [...DEFAULT_MOUNTS, { destination: '/mnt', type: 'bind', source: '/sys/kernel', options: ['bind', 'idmap'], uidMappings: MAP, gidMappings: MAP }],
    });
    expect(() => exec(c)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/^mounts\[\d+\]: \/sys\/kernel: its file system does not support id-mapped mounts/) }));
    expect(hostMounts()).toEqual(mounts);
    // No helper or set-up process is left: this process has no child.
    const children = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(process.pid);
      } catch {
        return false;
      }
    });
    expect(children).toEqual([]);
  });

  it('a pool member (stdio with descriptors past 2) gets the id-mapped mount too', async () => {
    const pool = await createPool(box('true', {}, { uidMappings: MAP, gidMappings: MAP }), { size: 1 });
    try {
      const p = await pool.exec({ args: ['stat', '-c', '%u', '/mnt/user-file'] });
      p.stdin?.end();
      const chunks: Buffer[] = [];
      for await (const c of p.stdout!) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('101000\n');
      expect((await p.wait()).exitCode).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('plans the open first, before the user namespace is made, and the move under the new root', () => {
    const c = box('true', { namespaces: [...DEFAULT_NAMESPACES, { type: 'user' }], uidMappings: MAP, gidMappings: MAP });
    const ops = planContainer(c).plan.steps.map((s) => s.op);
    expect(ops.indexOf('idmapOpen')).toBeLessThan(ops.indexOf('unshare'));
    expect(ops.indexOf('idmapMove')).toBeGreaterThan(ops.indexOf('pivotRootKeep'));
  });
});
