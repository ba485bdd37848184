// planContainerCached (what exec() plans with) must always give what a fresh planContainer
// gives: after any change on the host that planning looks at, the kept plan is not reused.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearPlanCache, planContainerCached } from '../src/plan/cache.js';
import { DEFAULT_MOUNTS, HOST_SANDBOX_PATHS, embeddedDefault, planContainer, rootfsContainer, type Container, type MountConfig } from '../src/index.js';

let dir: string;
let rootfs: string;
let volume: string;
beforeEach(() => {
  clearPlanCache();
  dir = mkdtempSync(join(tmpdir(), 'ns-plancache-'));
  rootfs = join(dir, 'rootfs');
  volume = join(dir, 'volume');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'home/alice', 'data']) mkdirSync(join(rootfs, d), { recursive: true });
  mkdirSync(volume);
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nalice:x:1000:\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const config = (id: string): Container =>
  rootfsContainer(rootfs, {
    id,
    user: 'alice',
    args: ['/bin/true'],
    mounts: [...rootfsContainer(rootfs).mounts!, { destination: '/data/vol', type: 'bind', source: volume, options: ['rbind'] }],
    maskedPaths: ['/data/secret'],
  });

/** The cached plan of a new id, checked against a fresh one. */
function same(io = { stdio: [0, 1, 2] }) {
  const id = `c${Math.random().toString(16).slice(2, 10)}`;
  const cached = planContainerCached(config(id), io);
  const fresh = planContainer(config(id), io);
  expect(cached.container.id).toBe(id);
  expect(cached.plan).toEqual(fresh.plan);
  expect(cached.user).toEqual(fresh.user);
  expect(cached.env).toEqual(fresh.env);
  return cached;
}

describe('planContainerCached', () => {
  it('reuses the plan of the same config under another id, with frozen steps and per-call stdio', () => {
    const first = same();
    const second = same({ stdio: [7, 8, 9] });
    expect(second.plan.steps.at(-1)).toBe(first.plan.steps.at(-1)); // the kept step objects
    expect(Object.isFrozen(second.plan.steps.at(-1))).toBe(true);
    expect(second.plan.steps.find((s) => s.op === 'stdio')).toEqual({ op: 'stdio', fds: [7, 8, 9] });
  });

  it('plans again after each change planning looks at', () => {
    same();
    // A mount point turned into a symlink inside the rootfs.
    rmSync(join(rootfs, 'data'), { recursive: true });
    symlinkSync('/tmp', join(rootfs, 'data'));
    same();
    // Its target changes.
    unlinkSync(join(rootfs, 'data'));
    symlinkSync('/home', join(rootfs, 'data'));
    same();
    // The user's home in /etc/passwd (HOME in the environment).
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/elsewhere:/bin/sh\n');
    expect(same().env).toContain('HOME=/home/elsewhere');
    // A supplementary group appears.
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n');
    expect(same().user.additionalGids).toEqual([10]);
    // A masked path appears (a file: bound over with /dev/null).
    unlinkSync(join(rootfs, 'data'));
    mkdirSync(join(rootfs, 'data'));
    same();
    writeFileSync(join(rootfs, 'data/secret'), 'x');
    same();
    // ... and becomes a directory (a tmpfs over it).
    rmSync(join(rootfs, 'data/secret'));
    mkdirSync(join(rootfs, 'data/secret'));
    same();
    // The bind source is moved behind a symlink to another directory (realpath changes).
    rmSync(volume, { recursive: true });
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), volume);
    const plan = same();
    expect(plan.plan.steps).toContainEqual(expect.objectContaining({ op: 'mount', source: `/oldroot${join(dir, 'elsewhere')}` }));
    // The bind source becomes a file (a file mount point is made instead of a directory).
    rmSync(volume);
    writeFileSync(volume, 'file');
    same();
  });

  it('fails as planContainer does when a bind source disappears, and keeps no failed plan', () => {
    same();
    rmSync(volume, { recursive: true });
    expect(() => planContainerCached(config('gone'))).toThrow(expect.objectContaining({ code: 'ERR_NS_NOT_FOUND' }));
    mkdirSync(volume);
    same();
  });

  it('gives the embedded default (host directories, read-only) as planContainer does', () => {
    for (const id of ['e1', 'e2']) expect(planContainerCached(embeddedDefault({ id })).plan).toEqual(planContainer(embeddedDefault({ id })).plan);
  });

  it('has frozen default lists, which kept plans depend on (regression: a pushed mount changed fresh plans only)', () => {
    expect(() => (DEFAULT_MOUNTS as MountConfig[]).push({ destination: '/extra', type: 'tmpfs', source: 'tmpfs' })).toThrow(TypeError);
    expect(() => (DEFAULT_MOUNTS[0]!.options as string[]).push('rw')).toThrow(TypeError);
    expect(() => (HOST_SANDBOX_PATHS as string[]).push('/opt')).toThrow(TypeError);
  });

  it('keeps configs apart: another user is another plan', () => {
    same();
    const asRoot = planContainerCached({ ...config('r1'), user: '0:0' });
    expect(asRoot.user.uid).toBe(0);
    expect(asRoot.plan).toEqual(planContainer({ ...config('r1'), user: '0:0' }).plan);
  });

  it('names the session keyring after the container started, not the one whose plan it kept', () => {
    const keyring = (id: string) => planContainerCached(config(id)).plan.steps.filter((s) => s.op === 'joinSessionKeyring');
    expect(keyring('k1')).toEqual([{ op: 'joinSessionKeyring', name: '_ses.k1', perm: { mask: 0xffffffff, set: 0x80000 } }]);
    expect(keyring('k2')).toEqual([{ op: 'joinSessionKeyring', name: '_ses.k2', perm: { mask: 0xffffffff, set: 0x80000 } }]);
    expect(planContainerCached({ ...config('k3'), noNewKeyring: true }).plan.steps.some((s) => s.op === 'joinSessionKeyring')).toBe(false);
  });
});
