// rootfsOverlay for real, as root: the root is writable through an overlayfs whose upper layer
// is a tmpfs of the container's, so the rootfs is never written and each container starts from
// it afresh. On a private copy of the busybox rootfs (the shared one is never written anyway,
// but a bug here must not be able to touch it).
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

describe.skipIf(!isRoot || !ROOTFS)('rootfsOverlay (as root)', () => {
  let dir: string;
  let rootfs: string;
  let mountsBefore: string[];
  const sh = (script: string, o: Partial<Container> = {}) => rootfsContainer(rootfs, { args: ['/bin/sh', '-c', script], rootfsOverlay: { sizeBytes: 4 << 20 }, ...o });

  beforeAll(() => {
    mountsBefore = hostMounts();
    dir = mkdtempSync(join(tmpdir(), 'ns-overlay-'));
    chmodSync(dir, 0o755); // reachable by the root of a user namespace (an unmapped host root owns it)
    rootfs = join(dir, 'rootfs');
    cpSync(ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
  });
  afterAll(() => {
    expect(hostMounts()).toEqual(mountsBefore);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes anywhere in the root land in the layer, never in the rootfs', async () => {
    const before = readFileSync(join(rootfs, 'etc/passwd'), 'utf8');
    const r = await run(sh('echo new > /bin/made-here && echo x >> /etc/passwd && rm /etc/group && cat /bin/made-here && test ! -e /etc/group && echo ok'));
    expect(r).toMatchObject({ exitCode: 0, stdout: 'new\nok\n' });
    expect(existsSync(join(rootfs, 'bin/made-here'))).toBe(false);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toBe(before);
    expect(existsSync(join(rootfs, 'etc/group'))).toBe(true);
  });

  it('each container starts from the rootfs afresh', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await run(sh('test -e /mark && echo dirty || echo clean; echo x > /mark'));
      expect(r.stdout).toBe('clean\n');
    }
  });

  it('the layer holds at most sizeBytes (ENOSPC past it)', async () => {
    const r = await run(sh('dd if=/dev/zero of=/big bs=1M count=8 2>&1; ls -l /big'));
    expect(r.stdout).toMatch(/No space left on device/);
  });

  it('works with a user namespace of its own (rootless-style mapping, a rootfs its root owns)', async () => {
    // The rootfs as a rootless user has it: owned by the namespace's root (host uid 100000).
    const own = join(dir, 'userns-rootfs');
    cpSync(ROOTFS, own, { recursive: true, verbatimSymlinks: true });
    expect(spawnSync('chown', ['-R', '-h', '100000:100000', own]).status).toBe(0);
    const maps = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] };
    const r = await run(sh('echo hi > /bin/x && cat /bin/x', { rootfs: own, namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'ipc' }, { type: 'uts' }], ...maps }));
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    expect(existsSync(join(own, 'bin/x'))).toBe(false);
  });
});
