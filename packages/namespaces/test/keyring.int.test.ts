// The session keyring of containers made with the library (as root): exec() gives the
// process a new `_ses.<id>`; in a user namespace it is owned by the mapped root and others
// may search it, so that execIn(), joining from the host's root, finds it by name (runc's
// 0x8); `noNewKeyring` keeps the caller's. Seen through fixtures/keyring.c (built with gcc).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, DEFAULT_NAMESPACES, StateStore, createPool, execIn, rootfsContainer, runContainer, type Container } from '../src/index.js';
import { ROOTFS, isRoot, run } from './helpers.js';

const haveGcc = spawnSync('gcc', ['--version']).status === 0;
const line = /^(\d+) keyring;(\d+);\d+;([0-9a-f]+);(.*)$/;
function parse(out: string): { serial: number; uid: number; perm: number; name: string } {
  const m = line.exec(out.trim());
  if (!m) throw new Error(`unexpected keyring line ${JSON.stringify(out)}`);
  return { serial: Number(m[1]), uid: Number(m[2]), perm: parseInt(m[3]!, 16), name: m[4]! };
}

describe.skipIf(!isRoot || !ROOTFS || !haveGcc)('session keyring (library, as root)', () => {
  let dir: string;
  let kr: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-keyring-int-'));
    chmodSync(dir, 0o755); // the root of a user namespace (host uid 300000) goes through it
    kr = join(dir, 'kr');
    execFileSync('gcc', ['-static', '-O1', '-o', kr, join(import.meta.dirname, 'fixtures', 'keyring.c')]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const map = [{ containerID: 0, hostID: 300000, size: 65536 }];
  const box = (id: string, args: string[], o: Partial<Container> = {}) =>
    rootfsContainer(ROOTFS, { id, args, seccomp: undefined, mounts: [...DEFAULT_MOUNTS, { destination: '/kr', type: 'bind', source: kr, options: ['bind', 'ro'] }], ...o });
  const host = () => parse(execFileSync(kr, { encoding: 'utf8' }));

  it('exec(): a new _ses.ID; noNewKeyring: the caller\'s', async () => {
    const a = await run(box('lk1', ['/kr']));
    expect(a.stderr).toBe('');
    const k = parse(a.stdout);
    expect(k.name).toBe('_ses.lk1');
    expect(k.serial).not.toBe(host().serial);
    expect((await run(box('lk2', ['/kr'], { noNewKeyring: true }))).stdout.trim()).toBe(`${host().serial} ${execFileSync(kr, { encoding: 'utf8' }).trim().split(' ')[1]}`);
  });

  it('pool members: each run a keyring of its own (members share the config id; one found by name would be shared)', async () => {
    const pool = await createPool(box('lkpool', ['/bin/true']), { size: 2 });
    try {
      const seen: { serial: number; name: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const p = await pool.exec({ args: ['/kr'] });
        let out = '';
        p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        expect(await p.wait()).toMatchObject({ exitCode: 0 });
        seen.push(parse(out));
      }
      expect(seen.every((k) => k.name.startsWith('_ses.lkpool.'))).toBe(true);
      expect(new Set(seen.map((k) => k.serial)).size).toBe(3);
      expect(seen.map((k) => k.serial)).not.toContain(host().serial);
    } finally {
      await pool.close();
    }
  });

  it('in a user namespace: owned by its root, searchable by others, and execIn joins it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ns-keyring-state-'));
    const c = box('lk3', ['/bin/sh', '-c', '/kr; exec sleep 30'], { namespaces: [...DEFAULT_NAMESPACES, { type: 'user' }], uidMappings: map, gidMappings: map });
    const { process: p, state } = runContainer(c, { store: new StateStore(root), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let first = '';
      await new Promise<void>((resolve) => p.stdout!.on('data', (d: Buffer) => ((first += d), first.includes('\n') && resolve())));
      const init = parse(first);
      // Owned by the namespace's root (host uid 300000), which KEYCTL_DESCRIBE shows as 0 there.
      expect(init).toMatchObject({ name: '_ses.lk3', uid: 0 });
      expect(init.perm & 0x8).toBe(0x8);
      const q = execIn(state, { args: ['/kr'] }, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      q.stdout!.on('data', (d: Buffer) => (out += d));
      expect((await q.wait()).exitCode).toBe(0);
      expect(parse(out).serial).toBe(init.serial);
    } finally {
      p.kill('SIGKILL');
      await p.wait();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
