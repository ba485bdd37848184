// The aarch64 assembly of clone3(2) (src/native/clone3.cc) run for real: qemu-user answers
// clone3 with ENOSYS, so scripts/release/check-arm64-vm.sh boots Debian's arm64 kernel in
// qemu-system-aarch64 with a static /init built from test/arm64/clone3-check.cc and that
// clone3.cc (children born in a cgroup2 directory, in a new pid namespace, with their argument,
// status and pidfd; 64 in a row; EBADF for a non-cgroup). Runs where the cross compiler is
// installed (g++-aarch64-linux-gnu), as root (the script apt-installs qemu-system-arm when
// missing); the kernel is fetched from Debian's archive once and kept in .cache/arm64-kernel/.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../../scripts/release/check-arm64-vm.sh', import.meta.url));
const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const ready = process.getuid?.() === 0 && process.arch === 'x64' && onPath('aarch64-linux-gnu-g++');

describe.skipIf(!ready)('clone3 on arm64 (qemu-system-aarch64)', () => {
  it('is born in its cgroup, in a new pid namespace, with its argument, status and pidfd; EBADF for a non-cgroup', () => {
    const r = spawnSync('bash', [script], { encoding: 'utf8', env: { ...process.env, NS_ARM64_STRICT: '1' }, timeout: 420_000 });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^check-arm64-vm: OK: /m);
    expect(r.stderr).toContain('clone3-check: pass: the child was born in /box (CLONE_INTO_CGROUP)');
    expect(r.stderr).toContain('clone3-check: pass: 64 clones in a row, each with its own argument and status');
    expect(r.stderr).toContain('clone3-check: OK: 0 failed');
  }, 450_000);
});
