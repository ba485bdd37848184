/**
 * runc exec's `-c, --cap CAP` and `--preserve-fds N` through the built CLI (issue 12): the
 * capability lands in the process's bounding, effective and permitted sets (not in the
 * container's own process), bad names are refused with 125; descriptors 3 .. 3+N-1 of `ns`
 * reach the process at the same numbers, in the foreground and with -d. Each test has its own
 * `--root` and removes what it made.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

let dir: string;
/** `ns --root DIR/state ARGS...` through bash, so that `redirects` (`3<FILE`) can give it descriptors. */
function ns(args: string[], redirects = ''): { status: number | null; stdout: string; stderr: string } {
  const quoted = [process.execPath, BIN, '--root', join(dir, 'state'), ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const r = spawnSync('bash', ['-c', `exec ${quoted} ${redirects}`], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** The Cap* masks of a /proc/PID/status text. */
function caps(status: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const m of status.matchAll(/^Cap(\w+):\s+([0-9a-f]+)$/gm)) out[m[1]!] = BigInt(`0x${m[2]}`);
  return out;
}
const has = (mask: bigint | undefined, cap: number) => ((mask ?? 0n) >> BigInt(cap)) & 1n;

describe.skipIf(!isRoot || !ROOTFS)('ns exec --cap and --preserve-fds (root)', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-exec-cap-'));
  });
  afterEach(() => {
    const state = join(dir, 'state');
    const ids = existsSync(state) ? readdirSync(state, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name) : [];
    for (const id of ids) ns(['delete', '-f', id]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('--cap / -c: added to bounding, effective and permitted of the process only; ALL and unknown names refused (125)', () => {
    expect(ns(['run', '-d', '--stdout', '/dev/null', '--stderr', '/dev/null', '--rootfs', ROOTFS!, 'ec1', '--', 'sleep', '60']).status).toBe(0);
    const plain = ns(['exec', 'ec1', 'cat', '/proc/self/status']);
    expect(plain.status).toBe(0);
    const before = caps(plain.stdout);
    expect(has(before.Bnd, CAP_SYS_ADMIN)).toBe(0n);
    expect(has(before.Bnd, CAP_NET_ADMIN)).toBe(0n);

    const r = ns(['exec', '--cap', 'CAP_SYS_ADMIN', '-c', 'net_admin', 'ec1', 'cat', '/proc/self/status']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const after = caps(r.stdout);
    for (const set of ['Bnd', 'Eff', 'Prm']) {
      expect(has(after[set], CAP_SYS_ADMIN), set).toBe(1n);
      expect(has(after[set], CAP_NET_ADMIN), set).toBe(1n);
      // Nothing else changes.
      expect(after[set]! & ~((1n << BigInt(CAP_SYS_ADMIN)) | (1n << BigInt(CAP_NET_ADMIN)))).toBe(before[set]);
    }
    expect(after.Amb).toBe(0n);
    // The container's own process keeps its sets.
    const init = ns(['exec', 'ec1', 'cat', '/proc/1/status']);
    expect(has(caps(init.stdout).Bnd, CAP_SYS_ADMIN)).toBe(0n);

    expect(ns(['exec', '--cap', 'ALL', 'ec1', 'true'])).toMatchObject({ status: 125, stderr: expect.stringMatching(/--cap ALL: name the capabilities one by one/) });
    expect(ns(['exec', '--cap', 'NOPE', 'ec1', 'true'])).toMatchObject({ status: 125, stderr: expect.stringMatching(/--cap: unknown capability "NOPE"/) });
  });

  it('--preserve-fds N: descriptors 3 .. 3+N-1 reach the process, in the foreground and with -d; one ns was not given is refused', () => {
    writeFileSync(join(dir, 'a'), 'from fd 3\n');
    writeFileSync(join(dir, 'b'), 'from fd 4\n');
    expect(ns(['run', '-d', '--stdout', '/dev/null', '--stderr', '/dev/null', '--rootfs', ROOTFS!, 'ec2', '--', 'sleep', '60']).status).toBe(0);
    const fg = ns(['exec', '--preserve-fds', '2', 'ec2', 'sh', '-c', 'cat <&3; cat <&4'], `3<'${join(dir, 'a')}' 4<'${join(dir, 'b')}'`);
    expect(fg).toMatchObject({ status: 0, stderr: '', stdout: 'from fd 3\nfrom fd 4\n' });
    // Without the flag they do not reach it.
    const none = ns(['exec', 'ec2', 'sh', '-c', 'cat <&3'], `3<'${join(dir, 'a')}'`);
    expect(none.status).not.toBe(0);
    expect(none.stdout).toBe('');

    const out = join(dir, 'out');
    const d = ns(['exec', '-d', '--preserve-fds', '1', 'ec2', 'sh', '-c', `cat <&3 > /proc/1/root/tmp/x; cat /proc/1/root/tmp/x`], `3<'${join(dir, 'a')}' > '${out}'`);
    expect(d.status).toBe(0);
    for (let i = 0; i < 100 && readFileSync(out, 'utf8') === ''; i++) spawnSync('sleep', ['0.02']);
    expect(readFileSync(out, 'utf8')).toBe('from fd 3\n');

    expect(ns(['exec', '--preserve-fds', '1', 'ec2', 'true'])).toMatchObject({ status: 125, stderr: expect.stringMatching(/--preserve-fds 1: descriptor 3/) });
  });
});
