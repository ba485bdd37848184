// The linux-arm64 prebuild, cross-built with Debian's aarch64 compiler, loads in Debian's arm64
// node under qemu-user and answers a call (scripts/release/prebuild.sh linux-arm64, then
// scripts/release/check-arm64.sh on a scratch copy of the package). Runs only where the cross
// compiler and qemu are already installed (g++-aarch64-linux-gnu, qemu-user-static); the
// arm64 node root is fetched from Debian's archive once and kept in .cache/arm64-node/.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const scripts = fileURLToPath(new URL('../../../scripts/release/', import.meta.url));
const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const ready =
  process.getuid?.() === 0 &&
  process.arch === 'x64' &&
  onPath('aarch64-linux-gnu-g++') &&
  (onPath('qemu-aarch64-static') || onPath('qemu-aarch64')) &&
  existsSync(join(pkgDir, 'dist/index.js'));

const work = mkdtempSync(join(tmpdir(), 'ns-arm64-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!ready)('linux-arm64 prebuild', () => {
  it('cross-builds and loads in arm64 node under qemu, through the package loader', () => {
    const copy = join(work, 'syscalls');
    mkdirSync(copy);
    copyFileSync(join(pkgDir, 'package.json'), join(copy, 'package.json'));
    cpSync(join(pkgDir, 'dist'), join(copy, 'dist'), { recursive: true });
    symlinkSync(join(pkgDir, 'node_modules'), join(copy, 'node_modules'));
    const env = { ...process.env, NS_NO_APT: '1', NS_ARM64_STRICT: '1' };
    const built = spawnSync('bash', [join(scripts, 'prebuild.sh'), '--out', copy, 'linux-arm64'], { encoding: 'utf8', env });
    expect(built.status, built.stderr).toBe(0);
    expect(existsSync(join(copy, 'prebuilds/linux-arm64/@ns+syscalls.glibc.node'))).toBe(true);
    const checked = spawnSync('bash', [join(scripts, 'check-arm64.sh'), copy], { encoding: 'utf8', env, timeout: 240_000 });
    expect(checked.status, `${checked.stdout}${checked.stderr}`).toBe(0);
    expect(checked.stdout).toMatch(/^check-arm64: OK: /m);
    expect(checked.stderr).toContain('native().pipe() -> [');
  }, 300_000);
});
