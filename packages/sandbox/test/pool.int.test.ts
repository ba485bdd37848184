// createSandboxPool() for real (issue 14): pooled limited runs give run()'s verdicts, and the
// pool leaves no cgroup, process or mount behind. Cgroups under this file's own parent.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hostCgroupLayout } from '@ns/namespaces';
import { createSandboxPool, run, type SandboxPool } from '../src/index.js';
import { ROOTFS, cgroupDirsOf, hostMounts as allHostMounts, isRoot, leftoverCgroups, removeParent, sh } from './helpers.js';

const parent = `/ns-sandbox-pool-test-${process.pid}`;
const MiB = 1024 * 1024;
const layout = isRoot ? hostCgroupLayout() : undefined;
const ready = !!layout && !!layout.controllers.memory && !!layout.controllers.pids && !!(layout.controllers.cpuacct ?? layout.controllers.cpu);
const LIMITS = { cpuTimeMs: 2000, wallTimeMs: 3000, memoryBytes: 64 * MiB, processes: 16, outputBytes: 1024 };

/** The host's mount points but the other test runs' own under /tmp (engineers share this machine). */
const hostMounts = () => allHostMounts().filter((m) => !m.startsWith('/tmp/') || m.startsWith(ROOTFS));

const pools: SandboxPool[] = [];
async function open(limits = LIMITS, size = 2) {
  const p = await createSandboxPool(sh('true'), limits, { size, cgroupParent: parent });
  pools.push(p);
  return p;
}

describe.skipIf(!isRoot || !ROOTFS || !ready)(`createSandboxPool: run()'s verdicts from a warm pool (cgroup ${layout?.mode})`, () => {
  const mountsBefore = isRoot ? hostMounts() : [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
    // Every run and every idle member removed its cgroups: nothing below the parent.
    expect(leftoverCgroups(parent)).toEqual([]);
  });
  afterAll(async () => {
    await removeParent(parent);
    for (const dir of cgroupDirsOf(parent)) expect(() => readFileSync(join(dir, 'cgroup.procs')), dir).toThrow();
    expect(hostMounts()).toEqual(mountsBefore);
  });

  it('OK, RE, OLE, TO, XX: the verdicts of run(), stdin and output, a fresh /tmp per run', async () => {
    const pool = await open();
    const ok = await pool.run({ args: ['/bin/sh', '-c', 'cat; echo err >&2; ls -A /tmp; echo x >/tmp/f'], stdin: 'in\n' });
    expect(ok).toMatchObject({ status: 'OK', exitCode: 0, killed: false, message: '' });
    expect(ok.stdout.toString()).toBe('in\n');
    expect(ok.stderr.toString()).toBe('err\n');
    expect(ok.cpuMs).toBeGreaterThan(0);
    const again = await pool.run({ args: ['/bin/sh', '-c', 'ls -A /tmp; cat'] });
    expect(again).toMatchObject({ status: 'OK', stdout: Buffer.alloc(0) }); // no /tmp/f; stdin at end of file
    expect(await pool.run({ args: ['/bin/sh', '-c', 'exit 3'] })).toMatchObject({ status: 'RE', exitCode: 3, message: 'Exited with error status 3' });
    expect(await pool.run({ args: ['/bin/sh', '-c', 'yes'] })).toMatchObject({ status: 'OLE', killed: true });
    expect(await pool.run({ args: ['/bin/sh', '-c', 'sleep 10'] })).toMatchObject({ status: 'TO', killed: true });
    const xx = await pool.run({ args: ['/no/such/program'] });
    expect(xx.status).toBe('XX');
    expect(xx.message).toMatch(/ENOENT/);
    expect(await pool.run({ args: ['echo', 'still', 'works'] })).toMatchObject({ status: 'OK', stdout: Buffer.from('still works\n') });
  });

  it('a missing working directory: XX from pool.run() and from run() alike, and the shared rootfs is not written', async () => {
    // run() used to make it in the host's rootfs (through the read-only root, before its
    // remount) and answer OK, where the pool's member failed its chdir (a new-user trial).
    const cwd = `/ns-missing-cwd-${process.pid}`;
    const pool = await open();
    const fromPool = await pool.run({ args: ['pwd'], cwd });
    const c = sh('pwd');
    c.cwd = cwd;
    const cold = await run(c, LIMITS, { cgroupParent: parent });
    expect(fromPool).toMatchObject({ status: 'XX' });
    expect(cold).toMatchObject({ status: 'XX', message: fromPool.message });
    expect(fromPool.message).toContain(`chdir ${cwd}: ENOENT`);
    expect(existsSync(join(ROOTFS!, cwd))).toBe(false);
  });

  it('OOM: the memory limit of the pool holds in every member', async () => {
    const pool = await open({ ...LIMITS, memoryBytes: 32 * MiB }, 1);
    const v = await pool.run({ args: ['/bin/sh', '-c', 'exec dd if=/dev/zero of=/dev/null bs=64M count=1'] });
    expect(v).toMatchObject({ status: 'OOM', oomKilled: true });
  });

  it('bad input: limits and options at creation, a bad run, a closed pool; nothing left', async () => {
    await expect(createSandboxPool(sh('true'), { memoryBytes: -1 }, { size: 1, cgroupParent: parent })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG' });
    await expect(createSandboxPool(sh('true'), { stdin: { file: '/etc/hostname' } }, { size: 1, cgroupParent: parent })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'limits.stdin' });
    await expect(createSandboxPool(sh('true'), LIMITS, { size: 0, cgroupParent: parent })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'size' });
    await expect(createSandboxPool(sh('true'), LIMITS, { size: 1, cgroupParent: 'rel' })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'cgroupParent' });
    await expect(createSandboxPool(sh('true', { rootfs: '/nonexistent-rootfs' }), LIMITS, { size: 1, cgroupParent: parent })).rejects.toMatchObject({ code: 'ERR_NS_NOT_FOUND' });
    // A misspelt option, no options, no config: named errors (a trial found a default silently
    // taken for `idleTimeout`, and bare TypeErrors for the others).
    await expect(createSandboxPool(sh('true'), LIMITS, { size: 1, cgroupParent: parent, idleTimeout: 5 } as never)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'idleTimeout' });
    await expect(createSandboxPool(sh('true'), LIMITS, undefined as never)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'options' });
    await expect(createSandboxPool(null as never, LIMITS, { size: 1, cgroupParent: parent })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'container' });
    expect(leftoverCgroups(parent)).toEqual([]);
    const pool = await open();
    await expect(pool.run({ args: [] })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'args' });
    // a file stdin was taken and never fed (the run hung until its wall time); a number threw
    // a raw ERR_INVALID_ARG_TYPE; an unknown field was ignored: all refused before a member is used
    const idle = pool.idle;
    await expect(pool.run({ stdin: { file: '/etc/hostname' } } as never)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'stdin' });
    await expect(pool.run({ stdin: 12345 } as never)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'stdin' });
    await expect(pool.run({ argv: ['/bin/true'] } as never)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'argv' });
    expect(pool.idle).toBe(idle);
    const ac = new AbortController();
    ac.abort();
    await expect(pool.run({ signal: ac.signal })).rejects.toMatchObject({ code: 'ABORT_ERR' });
    await pool.close();
    await expect(pool.run()).rejects.toMatchObject({ code: 'ERR_NS_STATE' });
  });
});
