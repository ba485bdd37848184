// A missing working directory in a read-only root bound from the host is not made there: that
// would write the host's rootfs directory, shared by every container of it (found by a trial
// of the sandbox, whose rootfs is "only read": run() made it, its pool's run failed instead).
// Inside the container's own mounts (a tmpfs) and over an overlay root it is still made, as runc
// makes it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, NsError, exec, rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, isRoot } from './helpers.js';

const missing = `/ns-ro-cwd-${process.pid}`;

async function pwd(c: Container): Promise<string> {
  const p = exec(c, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const [{ exitCode }] = await Promise.all([p.wait(), new Promise((r) => p.once('close', r))]);
  expect(exitCode).toBe(0);
  return out;
}

describe.skipIf(!isRoot || !ROOTFS)('the working directory of a read-only root', () => {
  it('is not made in the host rootfs: the start fails with ENOENT naming it, and the rootfs is unchanged', () => {
    let err: unknown;
    try {
      exec(rootfsContainer(ROOTFS!, { args: ['pwd'], readonly: true, cwd: `${missing}/deep` }), { stdio: 'ignore' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NsError);
    expect((err as NsError).code).toBe('ENOENT');
    expect((err as Error).message).toContain(`${missing}/deep`);
    expect(existsSync(join(ROOTFS!, missing))).toBe(false);
  });

  it('is made inside a tmpfs of the container (the rootfs unchanged)', async () => {
    const tmp = { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] };
    const c = rootfsContainer(ROOTFS!, { args: ['pwd'], readonly: true, cwd: `/tmp${missing}/deep`, mounts: [...DEFAULT_MOUNTS, tmp] });
    expect(await pwd(c)).toBe(`/tmp${missing}/deep\n`);
    expect(existsSync(join(ROOTFS!, 'tmp', missing))).toBe(false);
  });

  it('is made over an overlay root (in its upper tmpfs, the rootfs unchanged)', async () => {
    const c = rootfsContainer(ROOTFS!, { args: ['pwd'], readonly: true, rootfsOverlay: {}, cwd: `${missing}/deep` });
    expect(await pwd(c)).toBe(`${missing}/deep\n`);
    expect(existsSync(join(ROOTFS!, missing))).toBe(false);
  });
});
