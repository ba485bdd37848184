/**
 * `ns run --bundle` with id-mapped bind mounts (config.md `idmap`/`ridmap`, a mount's
 * uidMappings/gidMappings), and their bad input: refused naming the field, exit 125, nothing left
 * behind (no state, no mount). As root, on the busybox test rootfs.
 */
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start } from './run-command.js';
import { hostMountPoints } from '../../../scripts/testing/host-mounts.mjs';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const RUNC_SPEC = join(REPO, 'packages/namespaces/test/fixtures/runc-spec-config.json');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

type Spec = Record<string, any>;
let tmp: string;
let vol: string;
let n = 0;
/** The host's mount points, but other test runs' own under /tmp and /run/netns (engineers share this machine) outside ours. */
const mountPoints = () => hostMountPoints().filter((m) => !(m.startsWith('/tmp/') || m.startsWith('/run/netns/')) || m.startsWith(tmp));
let mountsBefore: string[];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ns-cli-idmap-'));
  vol = join(tmp, 'vol');
  mkdirSync(vol);
  writeFileSync(join(vol, 'f'), 'f');
  chownSync(join(vol, 'f'), 1000, 1000);
  mountsBefore = mountPoints();
});
afterAll(() => {
  try {
    expect(mountPoints()).toEqual(mountsBefore);
    if (existsSync(join(tmp, 'state'))) expect(readdirSync(join(tmp, 'state'))).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** `ns run --bundle` of runc's default spec on the test rootfs with `args` and one more mount. */
async function run(args: string[], mount: Spec) {
  const dir = join(tmp, `b${n++}`);
  const spec = JSON.parse(readFileSync(RUNC_SPEC, 'utf8')) as Spec;
  spec.root = { path: ROOTFS, readonly: true };
  spec.process.terminal = false;
  spec.process.args = args;
  spec.mounts.push({ destination: '/mnt', type: 'bind', ...mount });
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  const r = await start(process.execPath, [BIN, '--root', join(tmp, 'state'), 'run', '--bundle', dir, `i${n++}`]).done;
  return { ...r, errors: r.stderr.split('\n').filter((l) => l && !l.startsWith('ns: warning:')).join('\n'), index: spec.mounts.length - 1 };
}

describe.skipIf(!isRoot || !ROOTFS || Number.parseInt(release(), 10) < 6)('ns run --bundle with id-mapped mounts (as root)', () => {
  it('a bind mount with idmap shows the mapped owner inside', async () => {
    const r = await run(['stat', '-c', '%u:%g', '/mnt/f'], { source: vol, options: ['bind', 'idmap'], uidMappings: MAP, gidMappings: MAP });
    expect(r.errors).toBe('');
    expect(r.stdout).toBe('101000:101000\n');
    expect(r.code).toBe(0);
  });

  it('bad mappings are refused naming the field, exit 125', async () => {
    const one = await run(['true'], { source: vol, options: ['bind', 'idmap'], uidMappings: MAP });
    expect(one.code).toBe(125);
    expect(one.errors).toMatch(new RegExp(`^ns: (config\\.json: )?mounts\\[${one.index}\\]\\.gidMappings: an id-mapped mount needs both uidMappings and gidMappings`));
    const overlap = await run(['true'], { source: vol, options: ['bind', 'idmap'], uidMappings: [...MAP, { containerID: 5, hostID: 1, size: 1 }], gidMappings: MAP });
    expect(overlap.code).toBe(125);
    expect(overlap.errors).toMatch(new RegExp(`mounts\\[${overlap.index}\\]\\.uidMappings\\[1\\]: overlaps mounts\\[${overlap.index}\\]\\.uidMappings\\[0\\]`));
    const none = await run(['true'], { source: vol, options: ['bind', 'idmap'] });
    expect(none.code).toBe(125);
    expect(none.errors).toMatch(new RegExp(`mounts\\[${none.index}\\]\\.options\\[1\\]: idmap needs the mount's uidMappings and gidMappings`));
  });

  it('a file system without id-mapped mounts fails naming the mount, and leaves nothing', async () => {
    const r = await run(['true'], { source: '/sys/kernel', options: ['bind', 'idmap'], uidMappings: MAP, gidMappings: MAP });
    expect(r.code).toBe(125);
    expect(r.errors).toBe(`ns: mounts[${r.index}]: /sys/kernel: its file system does not support id-mapped mounts (mount_setattr MOUNT_ATTR_IDMAP: EINVAL)`);
    expect(mountPoints()).toEqual(mountsBefore);
    expect(existsSync(join(tmp, 'state')) ? readdirSync(join(tmp, 'state')) : []).toEqual([]);
  });
});
