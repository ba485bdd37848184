/**
 * `ns run --no-pivot` (runc's flag, issue 12): the new root moved onto `/` and chroot(2)ed
 * into instead of pivot_root(2). The container sees its rootfs as `/`, also through
 * /proc/1/root and by walking `..` from it, and none of the host's root (its directories, the
 * staging of the old root). The host here has a root pivot_root can leave, so this checks
 * what the container gets, not the initramfs case itself. Each test has its own `--root`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

let dir: string;
function ns(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--root', join(dir, 'state'), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!isRoot || !ROOTFS)('ns run --no-pivot (root)', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-nopivot-'));
  });
  afterEach(() => {
    const state = join(dir, 'state');
    const ids = existsSync(state) ? readdirSync(state, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name) : [];
    for (const id of ids) ns(['delete', '-f', id]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs with its rootfs as /, seen from /, /proc/1/root and .. walked up; the host root is out of reach', () => {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    const listing = readdirSync(ROOTFS!).filter((n) => !n.startsWith('.')).sort().join(' ');
    const script = [
      'echo "$(ls / | sort | tr "\\n" " ")"',
      'echo "$(ls /proc/1/root/ | sort | tr "\\n" " ")"',
      'cd -P /../../..; echo "$(ls | sort | tr "\\n" " ")"; cd /',
      'echo "$(cd -P /proc/1/root && cd -P ../.. && ls | sort | tr "\\n" " ")"',
      'readlink /proc/1/root',
      'ls -d /work /oldroot /newroot 2>&1 | grep -c "No such file"',
      // Mount points (field 5) that are the host's or the staging's.
      'awk \'{print $5}\' /proc/self/mountinfo | grep -c -E "^/(oldroot|newroot|work|tmp/oldroot)"',
      'exit 0',
    ].join('; ');
    const r = ns(['run', '--no-pivot', '--rootfs', ROOTFS!, 'np1', '--', '/bin/sh', '-c', script]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const [root, proc1, walked, proc1Walked, link, missing, seen] = r.stdout.split('\n');
    for (const l of [root, proc1, walked, proc1Walked]) expect(l!.trim()).toBe(listing);
    expect(link).toBe('/');
    expect(missing).toBe('3');
    expect(seen).toBe('0');
    // The host's mounts are untouched (its /proc and /sys were detached in the container's namespace only).
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(mounts);
  });

  it('with a read-only root, a hostname and --init, as without it', () => {
    const r = ns(['run', '--no-pivot', '--readonly', '--init', '--hostname', 'np', '--rootfs', ROOTFS!, 'np2', '--', '/bin/sh', '-c', 'hostname; touch /x 2>&1 | grep -c "Read-only"']);
    expect(r).toMatchObject({ status: 0, stderr: '', stdout: 'np\n1\n' });
  });

  it('the plan (--dry-run) moves the root instead of pivot_root', () => {
    const r = ns(['run', '--dry-run', '--no-pivot', '--rootfs', ROOTFS!, 'np3', '--', 'true']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/move \/tmp onto \/ and chroot/);
    expect(r.stdout).toMatch(/move \/newroot onto \/ and chroot/);
    expect(r.stdout).not.toMatch(/pivot_root \//);
  });
});
