/**
 * Seccomp through the `ns` command (issue 11): the default profile of `ns run`, `--security-opt
 * seccomp=unconfined|FILE`, a config.json `linux.seccomp` (KILL_PROCESS reported as exit 159,
 * as runc's 128 + SIGSYS), `--dry-run` showing the filter, and `ns spec` writing no seccomp
 * section (as `runc spec`). As root, on the busybox test rootfs.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const RUNC_SPEC = join(REPO, 'packages/namespaces/test/fixtures/runc-spec-config.json');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

let tmp: string;
let n = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ns-cli-seccomp-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ns = (args: string[]) => start(process.execPath, [BIN, '--root', join(tmp, 'state'), ...args]).done;

/** A bundle of runc's default spec on the test rootfs running `args`, with `seccomp` as linux.seccomp. */
function bundle(args: string[], seccomp?: unknown): string {
  const dir = join(tmp, `b${n++}`);
  const spec = JSON.parse(readFileSync(RUNC_SPEC, 'utf8')) as Record<string, any>;
  spec.root = { path: ROOTFS, readonly: true };
  spec.process.terminal = false;
  spec.process.args = args;
  if (seccomp !== undefined) spec.linux.seccomp = seccomp;
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

describe.skipIf(!isRoot || !ROOTFS)('ns and seccomp (as root)', () => {
  const status = 'grep -E "^Seccomp:" /proc/self/status';

  it('ns run applies the default profile; --security-opt seccomp=unconfined leaves it out', async () => {
    const confined = await ns(['run', '--rootfs', ROOTFS!, '--', 'sh', '-c', status]);
    expect(confined.stdout).toMatch(/^Seccomp:\s+2$/m);
    const free = await ns(['run', '--rootfs', ROOTFS!, '--security-opt', 'seccomp=unconfined', '--', 'sh', '-c', status]);
    expect(free.stdout).toMatch(/^Seccomp:\s+0$/m);
  });

  it('--security-opt seccomp=FILE: an OCI profile from a file, its errno seen by the program', async () => {
    const file = join(tmp, 'profile.json');
    writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }));
    const r = await ns(['run', '--rootfs', ROOTFS!, '--security-opt', `seccomp=${file}`, '--', 'sh', '-c', 'mkdir /tmp/x || echo refused']);
    expect(r.stdout).toBe('refused\n');
    expect(r.stderr).toMatch(/Permission denied/);
    writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 'EACCES' }] }));
    const bad = await ns(['run', '--rootfs', ROOTFS!, '--security-opt', `seccomp=${file}`, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe(`ns: ${file}: syscalls[0].errnoRet: expected an integer errno, received "EACCES"\n`);
  });

  it('config.json linux.seccomp: a KILL_PROCESS rule ends the process, exit status 159 (128 + SIGSYS)', async () => {
    const r = await ns(['run', '--bundle', bundle(['uname', '-s'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['uname'], action: 'SCMP_ACT_KILL_PROCESS' }] }), `k${n++}`]);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(159);
    const ok = await ns(['run', '--bundle', bundle(['uname', '-s'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_KILL_PROCESS' }] }), `k${n++}`]);
    expect(ok.stdout).toBe('Linux\n');
    // Without linux.seccomp a bundle runs unconfined, as with runc.
    const none = await ns(['run', '--bundle', bundle(['sh', '-c', status]), `k${n++}`]);
    expect(none.stdout).toMatch(/^Seccomp:\s+0$/m);
  });

  it('--dry-run shows the filter: its size and its rules', async () => {
    const r = await ns(['run', '--dry-run', '--bundle', bundle(['true'], { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: [{ names: ['execve', 'exit_group'], action: 'SCMP_ACT_ALLOW' }, { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }] }), 'dry']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ seccomp filter: \d+ instructions\n +\d+ instructions, \d+ bytes; architectures x86_64 \(any other: SCMP_ACT_KILL_PROCESS\)\n +default SCMP_ACT_ERRNO\(38\)\n +SCMP_ACT_ALLOW: execve exit_group\n +SCMP_ACT_ALLOW: personality if arg0 == 0x8\n/);
  });

  it('create/start under a profile that fails faccessat2 and close_range with EPERM (runtime-tools\' default profile), as runc', async () => {
    // create checks the program with faccessat2 after the filter is in: ns-init now falls back
    // to faccessat there, as Go's exec.LookPath does for runc. Before, ns refused the profile.
    const old = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['faccessat2', 'close_range'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    const log = join(tmp, 'old-profile.log');
    const id = `old${n++}`;
    try {
      const created = await ns(['create', '--bundle', bundle(['sh', '-c', 'echo started'], old), '--stdout', log, '--stderr', log, id]);
      expect(created.stderr).not.toMatch(/seccomp|ns: [^w]/);
      expect(created.code).toBe(0);
      expect((await ns(['start', id])).code).toBe(0);
      const deadline = Date.now() + 10_000;
      while (readFileSync(log, 'utf8') === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(log, 'utf8')).toBe('started\n');
    } finally {
      await ns(['delete', '--force', id]);
    }
    // A missing program is still found missing at create (faccessat), with runc's words.
    const missing = await ns(['create', '--bundle', bundle(['/nonexistent'], old), `old${n++}`]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/nonexistent/);
  });

  it('ns spec writes no seccomp section, as runc spec', async () => {
    const dir = join(tmp, 'spec');
    mkdirSync(dir);
    const r = await ns(['spec', '--bundle', dir]);
    expect(r.code).toBe(0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(spec.linux).toBeDefined();
    expect(spec.linux.seccomp).toBeUndefined();
  });
});
