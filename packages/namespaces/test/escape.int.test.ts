import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, rootfsContainer, type MountConfig } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

/** Symlinks planted in a rootfs or a volume must never lead a set-up step onto the host. */
describe.skipIf(!isRoot || !ROOTFS)('no step escapes the rootfs through a symlink (as root, regressions)', () => {
  let work: string;
  let esc: string; // a host directory the attacks aim at: it must stay empty
  const before = hostMounts();
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ns-escape-'));
    esc = join(work, 'host-target');
    mkdirSync(esc);
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    expect(hostMounts()).toEqual(before);
  });

  const copyRootfs = (name: string) => {
    const r = join(work, name);
    cpSync(ROOTFS, r, { recursive: true, verbatimSymlinks: true });
    return r;
  };
  const defaults = (r: string) => rootfsContainer(r).mounts ?? [];

  it('a rootfs whose /dev is an absolute symlink to /oldroot/...', async () => {
    const r = copyRootfs('devlink');
    rmSync(join(r, 'dev'), { recursive: true });
    symlinkSync(`/oldroot${esc}`, join(r, 'dev'));
    const res = await run(rootfsContainer(r, { args: ['/bin/sh', '-c', 'echo x > /dev/null && echo ok'] }));
    expect(res.stdout).toBe('ok\n');
    expect(readdirSync(esc)).toEqual([]);
  });

  it('a rootfs whose /dev is a relative symlink climbing out', async () => {
    const r = copyRootfs('devrel');
    rmSync(join(r, 'dev'), { recursive: true });
    symlinkSync(`../../../../../../..${esc}`, join(r, 'dev'));
    await run(rootfsContainer(r, { args: ['true'] }));
    expect(readdirSync(esc)).toEqual([]);
  });

  it('a mount point below a volume whose source holds a symlink to the host: refused with ELOOP', () => {
    const src = join(work, 'vol');
    mkdirSync(src);
    symlinkSync(`/oldroot${esc}`, join(src, 'link'));
    const file = join(work, 'file');
    writeFileSync(file, 'x');
    const r = copyRootfs('volume'); // mount points are made in the rootfs: not the shared one
    const mounts: MountConfig[] = [
      ...defaults(r),
      { destination: '/src', type: 'bind', source: src, options: ['rbind'] },
      { destination: '/src/link/planted', type: 'bind', source: file, options: ['bind'] },
    ];
    expect(() => exec(rootfsContainer(r, { args: ['true'], mounts }))).toThrow(/ELOOP/);
    expect(readdirSync(esc)).toEqual([]);
  });

  it('a host directory bound on /dev gets no device nodes', async () => {
    const dir = join(work, 'devdir');
    mkdirSync(dir);
    const mounts: MountConfig[] = [...defaults(ROOTFS), { destination: '/dev', type: 'bind', source: dir, options: ['rbind'] }];
    await run(rootfsContainer(ROOTFS, { args: ['true'], mounts }));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a device node made in the container does not open (nodev everywhere; no devices cgroup yet)', async () => {
    const r = copyRootfs('mknod'); // the node is made in the rootfs itself: not the shared one
    const res = await run(rootfsContainer(r, { args: ['/bin/sh', '-c', 'mknod /dev/mem2 c 1 1 && mknod /tmp/mem3 c 1 1 && (head -c1 /dev/mem2 || echo denied) && (head -c1 /tmp/mem3 || echo denied)'] }));
    expect(res.stdout).toBe('denied\ndenied\n');
    expect(res.stderr).toMatch(/Permission denied/);
  });
});
