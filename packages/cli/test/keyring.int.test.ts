/**
 * The container's session keyring (issue 12, runc's default and `--no-new-keyring`): seen
 * through a small static program (packages/namespaces/test/fixtures/keyring.c, built here with gcc) that prints the
 * serial and KEYCTL_DESCRIBE of its session keyring, run on the host (a child of this process,
 * with the keyring `ns` is started with) and in containers. The default seccomp profile
 * refuses keyctl(2), so the containers run unconfined: exactly the case where a shared
 * keyring would be readable. Each test has its own `--root` and removes what it made.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
const haveGcc = spawnSync('gcc', ['--version']).status === 0;

let bin: string;
let dir: string;
function ns(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--root', join(dir, 'state'), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** `SERIAL type;uid;gid;perm;name` split up. */
function parse(line: string): { serial: number; uid: number; perm: number; name: string } {
  const m = /^(\d+) keyring;(\d+);\d+;([0-9a-f]+);(.*)$/.exec(line.trim());
  if (!m) throw new Error(`unexpected keyring line ${JSON.stringify(line)}`);
  return { serial: Number(m[1]), uid: Number(m[2]), perm: parseInt(m[3]!, 16), name: m[4]! };
}
const KEY_USR_SEARCH = 0x80000;

describe.skipIf(!isRoot || !ROOTFS || !haveGcc)('session keyring of a container (root)', () => {
  let build: string;
  beforeAll(() => {
    build = mkdtempSync(join(tmpdir(), 'ns-keyring-bin-'));
    bin = join(build, 'kr');
    execFileSync('gcc', ['-static', '-O1', '-o', bin, join(import.meta.dirname, '..', '..', 'namespaces', 'test', 'fixtures', 'keyring.c')]);
  });
  afterAll(() => rmSync(build, { recursive: true, force: true }));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-keyring-'));
  });
  afterEach(() => {
    const state = join(dir, 'state');
    const ids = existsSync(state) ? readdirSync(state, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name) : [];
    for (const id of ids) ns(['delete', '-f', id]);
    rmSync(dir, { recursive: true, force: true });
  });

  const host = () => parse(execFileSync(bin, { encoding: 'utf8' }));
  const withKr = () => ['--rootfs', ROOTFS!, '--security-opt', 'seccomp=unconfined', '-v', `${bin}:/kr:ro`];

  it('ns run: a new session keyring named _ses.ID, searchable by its owner, not the caller\'s', () => {
    const mine = host();
    const r = ns(['run', ...withKr(), 'kr1', '--', '/kr']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const k = parse(r.stdout);
    expect(k.name).toBe('_ses.kr1');
    expect(k.serial).not.toBe(mine.serial);
    expect(k.uid).toBe(0);
    expect(k.perm & KEY_USR_SEARCH).toBe(KEY_USR_SEARCH);
  });

  it('ns run --no-new-keyring: the caller\'s session keyring', () => {
    const mine = host();
    const r = ns(['run', '--no-new-keyring', ...withKr(), 'kr2', '--', '/kr']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(parse(r.stdout)).toEqual(mine);
  });

  it('ns exec joins the container\'s keyring (as runc exec); with --no-new-keyring it keeps the caller\'s', () => {
    const out = join(dir, 'out');
    expect(ns(['run', '-d', '--stdout', out, '--stderr', out, ...withKr(), 'kr3', '--', '/bin/sh', '-c', '/kr; exec sleep 60']).status).toBe(0);
    for (let i = 0; i < 100 && readFileSync(out, 'utf8') === ''; i++) spawnSync('sleep', ['0.02']);
    const init = parse(readFileSync(out, 'utf8'));
    expect(init.name).toBe('_ses.kr3');
    const e = ns(['exec', 'kr3', '/kr']);
    expect(e).toMatchObject({ status: 0, stderr: '' });
    expect(parse(e.stdout)).toEqual(init);

    expect(ns(['run', '-d', '--no-new-keyring', '--stdout', '/dev/null', '--stderr', '/dev/null', ...withKr(), 'kr4', '--', 'sleep', '60']).status).toBe(0);
    const e2 = ns(['exec', 'kr4', '/kr']);
    expect(e2).toMatchObject({ status: 0, stderr: '' });
    expect(parse(e2.stdout)).toEqual(host());
  });

  it('ns create: the keyring is made by the created process, and start runs in it', () => {
    const out = join(dir, 'out');
    expect(ns(['create', '--stdout', out, '--stderr', out, ...withKr(), 'kr5', '--', '/kr']).status).toBe(0);
    expect(ns(['start', 'kr5']).status).toBe(0);
    for (let i = 0; i < 100 && readFileSync(out, 'utf8') === ''; i++) spawnSync('sleep', ['0.02']);
    const k = parse(readFileSync(out, 'utf8'));
    expect(k.name).toBe('_ses.kr5');
    expect(k.serial).not.toBe(host().serial);
  });
});
