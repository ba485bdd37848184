// run() for real, as root, on the busybox rootfs: each abuse from issue 13 ends with the right
// verdict within its limits plus a margin, and leaves no cgroup, process or mount behind. On
// this machine's cgroup v1 (hybrid); run-v2-vm.int.test.ts runs this file in a v2-only VM.
// Every run's cgroup lives under this file's own parent (/ns-sandbox-test-<pid>).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { hostCgroupLayout } from '@ns/namespaces';
import { CappedCapture, formatMeta, parseMeta, run, writeMeta, type Limits, type RunOptions } from '../src/index.js';
import { ROOTFS, cgroupDirsOf, hostMounts, isRoot, leftoverCgroups, maxPidsDuring, processesWith, removeParent, sh } from './helpers.js';

const parent = `/ns-sandbox-test-${process.pid}`;
const options: RunOptions = { cgroupParent: parent };
const MiB = 1024 * 1024;
const layout = isRoot ? hostCgroupLayout() : undefined;
/** The controllers a run needs: memory, pids, and cpu accounting (v1 cpuacct, v2 cpu). */
const ready = !!layout && !!layout.controllers.memory && !!layout.controllers.pids && !!(layout.controllers.cpuacct ?? layout.controllers.cpu);
/** Slack for timers and kills on a shared 2-core machine (ms). */
const MARGIN = 500;

describe.skipIf(!isRoot || !ROOTFS || !ready)(`run(): verdicts for real (cgroup ${layout?.mode})`, () => {
  const mountsBefore = isRoot ? hostMounts() : [];

  afterEach(() => {
    // Each run removes its cgroups before its verdict: nothing below the parent, ever.
    expect(leftoverCgroups(parent)).toEqual([]);
  });

  afterAll(async () => {
    await removeParent(parent);
    for (const dir of cgroupDirsOf(parent)) expect(() => readFileSync(join(dir, 'cgroup.procs')), dir).toThrow();
    expect(hostMounts()).toEqual(mountsBefore);
  });

  it('OK: output captured, exit 0, cpu and memory measured', async () => {
    const v = await run(sh('echo out; echo err >&2'), { cpuTimeMs: 2000, wallTimeMs: 5000, memoryBytes: 64 * MiB }, options);
    expect(v).toMatchObject({ status: 'OK', exitCode: 0, signal: null, oomKilled: false, killed: false, message: '' });
    expect(v.stdout.toString()).toBe('out\n');
    expect(v.stderr.toString()).toBe('err\n');
    expect(v.cpuMs).toBeGreaterThan(0);
    expect(v.cpuMs).toBeLessThan(500);
    expect(v.maxRssKiB).toBeGreaterThan(0);
    expect(v.maxRssKiB).toBeLessThan(64 * 1024);
    expect(v.cgroupMemKiB).toBeGreaterThan(0);
  });

  it('max-rss is the largest single process (rusage through the init), cg-mem the cgroup\'s peak', async () => {
    const v = await run(sh('dd if=/dev/zero of=/dev/null bs=24M count=1 2>/dev/null; dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null'), { memoryBytes: 128 * MiB }, options);
    expect(v.status).toBe('OK');
    // The larger dd, not the sum of both (they ran one after the other) nor the shell.
    expect(v.maxRssKiB).toBeGreaterThanOrEqual(24 * 1024);
    expect(v.maxRssKiB).toBeLessThan(40 * 1024);
    expect(v.cgroupMemKiB).toBeGreaterThan(0);
    const meta = parseMeta(formatMeta(v));
    expect(Number(meta['max-rss'])).toBe(v.maxRssKiB);
    expect(Number(meta['cg-mem'])).toBe(v.cgroupMemKiB);
  });

  it('RE: a non-zero exit status', async () => {
    expect(await run(sh('exit 3'), {}, options)).toMatchObject({ status: 'RE', exitCode: 3, message: 'Exited with error status 3' });
  });

  it('SG: killed by a signal it sends itself (the init is pid 1, the program is not one that ignores it)', async () => {
    for (const sig of ['SEGV', 'TERM', 'KILL'] as const) {
      const v = await run(sh(`kill -${sig} $$`), { wallTimeMs: 10_000 }, options);
      expect(v).toMatchObject({ status: 'SG', exitCode: null, signal: `SIG${sig}`, killed: false });
    }
    // Without the init the shell is pid 1: the kernel drops the signal and it exits 0.
    expect(await run(sh('kill -TERM $$'), { wallTimeMs: 10_000 }, { ...options, init: false })).toMatchObject({ status: 'OK', exitCode: 0 });
  });

  it('SG: SIGPIPE when the program writes to a pipe whose reader is gone (as yes | head on the host)', async () => {
    const script = 'mkfifo /tmp/p; head -c 1 /tmp/p >/dev/null & exec yes >/tmp/p';
    expect(await run(sh(script), { wallTimeMs: 10_000 }, options)).toMatchObject({ status: 'SG', signal: 'SIGPIPE', message: 'Caught fatal signal 13' });
    // As pid 1 SIGPIPE is ignored: the write fails with EPIPE and yes exits 1.
    const pid1 = await run(sh(script), { wallTimeMs: 10_000 }, { ...options, init: false });
    expect(pid1).toMatchObject({ status: 'RE', exitCode: 1 });
    expect(pid1.stderr.toString()).toMatch(/Broken pipe/);
  });

  it('SG: killed by a signal (a config without a pid namespace: the init is a subreaper there)', async () => {
    const c = sh('kill -SEGV $$');
    c.namespaces = c.namespaces.filter((n) => n.type !== 'pid');
    expect(await run(c, { wallTimeMs: 10_000 }, options)).toMatchObject({ status: 'SG', exitCode: null, signal: 'SIGSEGV', killed: false, message: 'Caught fatal signal 11' });
  });

  it('XX: a program that cannot start, with the reason; nothing left', async () => {
    const v = await run(sh('', { args: ['/no/such/program'] }), {}, options);
    expect(v.status).toBe('XX');
    expect(v.message).toMatch(/ENOENT/);
  });

  it('TO (cpu): a busy loop is killed just past its cpu time', async () => {
    const v = await run(sh('while :; do :; done'), { cpuTimeMs: 300, wallTimeMs: 10_000 }, options);
    expect(v).toMatchObject({ status: 'TO', signal: 'SIGKILL', killed: true, message: 'Time limit exceeded' });
    expect(v.cpuMs).toBeGreaterThanOrEqual(300);
    expect(v.cpuMs).toBeLessThan(300 + MARGIN);
  });

  it('TO (cpu): cpu of every process counts, not only the main one (a background loop, pid 1 asleep)', async () => {
    const v = await run(sh('while :; do :; done & sleep 1000'), { cpuTimeMs: 300, wallTimeMs: 10_000 }, options);
    expect(v).toMatchObject({ status: 'TO', killed: true, message: 'Time limit exceeded' });
    expect(v.cpuMs).toBeGreaterThanOrEqual(300);
    expect(v.wallMs).toBeLessThan(5000);
  });

  it('TO within the extra time: finished, not killed, but over its cpu time', async () => {
    const v = await run(sh('i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'), { cpuTimeMs: 50, extraTimeMs: 20_000 }, options);
    expect(v).toMatchObject({ status: 'TO', exitCode: 0, signal: null, killed: false, message: 'Time limit exceeded' });
    expect(v.cpuMs).toBeGreaterThan(50);
  });

  it('TO (wall): sleeping forever is killed at the wall time', async () => {
    const v = await run(sh('sleep 100000'), { cpuTimeMs: 1000, wallTimeMs: 300 }, options);
    expect(v).toMatchObject({ status: 'TO', signal: 'SIGKILL', killed: true, message: 'Time limit exceeded (wall clock)' });
    expect(v.wallMs).toBeGreaterThanOrEqual(300);
    expect(v.wallMs).toBeLessThan(300 + MARGIN);
    expect(v.cpuMs).toBeLessThan(1000); // asleep: a wall TO, whatever the set-up cost (the VM's CPU is emulated)
  });

  it('OOM: a memory balloon is killed by the OOM killer at the memory limit', async () => {
    const v = await run(sh('exec dd if=/dev/zero of=/dev/null bs=64M count=1'), { memoryBytes: 32 * MiB, wallTimeMs: 10_000 }, options);
    expect(v).toMatchObject({ status: 'OOM', signal: 'SIGKILL', oomKilled: true, killed: false, message: 'Memory limit exceeded' });
    expect(v.maxRssKiB).toBeGreaterThan(16 * 1024);
    // The accounting cgroup's peak: the box's, at most its limit, and a few pages of its own.
    expect(v.cgroupMemKiB).toBeLessThanOrEqual(33 * 1024);
    // dd's own resident set: what the cgroup was charged for it, and file pages (busybox's
    // text) the page cache had charged elsewhere.
    expect(v.maxRssKiB).toBeLessThanOrEqual(36 * 1024);
  });

  it('OLE: huge output is cut at the cap, flagged, and the run killed (stdout and stderr)', async () => {
    const out = await run(sh('exec yes'), { outputBytes: 100_000, wallTimeMs: 10_000 }, options);
    expect(out).toMatchObject({ status: 'OLE', signal: 'SIGKILL', killed: true, truncated: { stdout: true, stderr: false }, message: 'Output limit exceeded (stdout)' });
    expect(out.stdout.length).toBe(100_000);
    expect(out.stdout.subarray(0, 6).toString()).toBe('y\ny\ny\n');
    const err = await run(sh('yes 0123456789 >&2'), { outputBytes: 4096, wallTimeMs: 10_000 }, options);
    expect(err).toMatchObject({ status: 'OLE', truncated: { stdout: false, stderr: true } });
    expect(err.stderr.length).toBe(4096);
  });

  it('a fork bomb stays within its process limit and ends with TO; the host is unaffected', async () => {
    const limits: Limits = { processes: 32, cpuTimeMs: 1000, wallTimeMs: 1500 };
    const started = Date.now();
    // The shell forks once, while every pid is free, then execs sleep: a non-interactive ash
    // exits when a fork fails ("can't fork"), so any later fork of its own, even a retried one,
    // could end the run (RE) before its time limit (seen in the VM and once in CI).
    const { result: v, maxPids } = await maxPidsDuring(parent, run(sh('b() { b | b & }; b 2>/dev/null; exec sleep 100000'), limits, options));
    expect(v.status).toBe('TO');
    expect(v.killed).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500 + 2000);
    expect(maxPids).toBeGreaterThan(1);
    // The program's 32, and the init (pid 1), which the limit does not count against it.
    expect(maxPids).toBeLessThanOrEqual(32 + 1);
    // The host still forks.
    expect((await run(sh('echo alive'), {}, options)).stdout.toString()).toBe('alive\n');
  });

  it('setsid + double fork does not escape: every process dies with the run', async () => {
    const marker = `98${process.pid % 10000}7`;
    const script = `(setsid sh -c "sleep ${marker}1 & sleep ${marker}2" &); sleep 0.2; exit 0`;
    const v = await run(sh(script), { wallTimeMs: 10_000 }, options);
    expect(v.status).toBe('OK');
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
  });

  it('setsid + double fork without a pid namespace: the cgroup still kills them', async () => {
    const marker = `97${process.pid % 10000}3`;
    const c = sh(`(setsid sh -c "sleep ${marker}1 & sleep ${marker}2" </dev/null >/dev/null 2>&1 &); sleep 0.2; exit 0`);
    c.namespaces = c.namespaces.filter((n) => n.type !== 'pid');
    const v = await run(c, { wallTimeMs: 10_000 }, options);
    expect(v.status).toBe('OK');
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
  });

  it('file size: a child killed by SIGXFSZ, reported by its shell (RE 153, the message says why)', async () => {
    const v = await run(sh('dd if=/dev/zero of=/tmp/big bs=4k count=1000 2>/dev/null; exit $?'), { fileSizeBytes: 100_000 }, options);
    expect(v).toMatchObject({ status: 'RE', exitCode: 153 });
    expect(v.message).toMatch(/File size limit exceeded/);
  });

  it('file size: the program itself writing past the limit dies of SIGXFSZ (SG, the message says why)', async () => {
    const v = await run(sh('exec dd if=/dev/zero of=/tmp/big bs=4k count=1000'), { fileSizeBytes: 100_000 }, options);
    expect(v).toMatchObject({ status: 'SG', exitCode: null, signal: 'SIGXFSZ', message: 'File size limit exceeded (caught fatal signal 25, SIGXFSZ)' });
  });

  it('file size: as pid 1 (init: false, SIGXFSZ ignored there) the write stops at the limit with EFBIG', async () => {
    const v = await run(sh('dd if=/dev/zero of=/tmp/big bs=4k count=1000 && echo wrote-all; ls -l /tmp/big'), { fileSizeBytes: 100_000 }, { ...options, init: false });
    expect(v.status).toBe('OK');
    expect(v.stdout.toString()).not.toMatch(/wrote-all/);
    expect(v.stdout.toString()).toMatch(/\s100000\s/);
  });

  it('a program closing its stdout goes on and ends normally', async () => {
    const v = await run(sh('exec >&-; echo lost 2>/dev/null; echo still-here >&2; exit 0'), { wallTimeMs: 10_000 }, options);
    expect(v).toMatchObject({ status: 'OK', exitCode: 0 });
    expect(v.stdout.length).toBe(0);
    expect(v.stderr.toString()).toBe('still-here\n');
  });

  it('stdin from bytes and from a file; unread input does not hang the run', async () => {
    expect((await run(sh('cat'), { stdin: 'from bytes\n' }, options)).stdout.toString()).toBe('from bytes\n');
    const dir = mkdtempSync(join(tmpdir(), 'ns-sandbox-stdin-'));
    try {
      writeFileSync(join(dir, 'in'), 'from a file\n');
      expect((await run(sh('cat'), { stdin: { file: join(dir, 'in') } }, options)).stdout.toString()).toBe('from a file\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const big = await run(sh('exit 0'), { stdin: Buffer.alloc(4 * MiB, 97), wallTimeMs: 10_000 }, options);
    expect(big.status).toBe('OK');
  });

  it('open files, stack and file size as rlimits; no core dumps', async () => {
    const v = await run(sh('ulimit -n; ulimit -s; ulimit -f; ulimit -c'), { openFiles: 16, stackBytes: 4 * MiB, fileSizeBytes: 1 * MiB }, options);
    // busybox ulimit: -s in KiB, -f in 512-byte blocks.
    expect(v.stdout.toString()).toBe('16\n4096\n2048\n0\n');
  });

  it('a read-only rootfs with a fresh /tmp each run', async () => {
    const script = 'touch /bin/x 2>/dev/null && echo rw || echo ro; test -e /tmp/mark && echo dirty || echo clean; echo x > /tmp/mark';
    for (let i = 0; i < 2; i++) expect((await run(sh(script), {}, options)).stdout.toString()).toBe('ro\nclean\n');
  });

  it('layer.overlay: the whole root writable for the run, the rootfs untouched, fresh each run', async () => {
    const name = `ns-sandbox-overlay-${process.pid}`;
    const script = `test -e /bin/${name} && echo dirty || echo clean; echo x > /bin/${name} && echo x >> /etc/passwd && echo wrote`;
    try {
      for (let i = 0; i < 2; i++) {
        const v = await run(sh(script), { memoryBytes: 64 * MiB }, { ...options, layer: { overlay: true } });
        expect(v).toMatchObject({ status: 'OK', stdout: Buffer.from('clean\nwrote\n') });
      }
      expect(existsSync(join(ROOTFS, 'bin', name))).toBe(false);
    } finally {
      rmSync(join(ROOTFS, 'bin', name), { force: true }); // only if the test failed that way
    }
  });

  it('meta file: isolate keys for a killed run', async () => {
    const v = await run(sh('sleep 100000'), { wallTimeMs: 200 }, options);
    const dir = mkdtempSync(join(tmpdir(), 'ns-sandbox-meta-'));
    try {
      await writeMeta(join(dir, 'meta'), v);
      const text = readFileSync(join(dir, 'meta'), 'utf8');
      expect(text).toBe(formatMeta(v));
      const meta = parseMeta(text);
      expect(meta).toMatchObject({ exitsig: '9', killed: '1', status: 'TO', message: 'Time limit exceeded (wall clock)' });
      expect(Number(meta['time-wall'])).toBeGreaterThanOrEqual(0.2);
      expect(Number(meta['max-rss'])).toBeGreaterThan(0);
      expect(meta.exitcode).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an AbortSignal kills the run, cleans up, and rejects with ABORT_ERR', async () => {
    const marker = `96${process.pid % 10000}5`;
    const ac = new AbortController();
    const pending = run(sh(`sleep ${marker}`), { wallTimeMs: 20_000 }, { ...options, signal: ac.signal });
    setTimeout(() => ac.abort(), 150);
    const started = Date.now();
    await expect(pending).rejects.toMatchObject({ code: 'ABORT_ERR' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
    await expect(run(sh('true'), {}, { ...options, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });

  it('a failure of the sandbox while the run is on: XX, the program killed, its cgroups removed', async () => {
    const marker = `95${process.pid % 10000}1`;
    // Wiring the output fails once the program runs (it sleeps): run() must still kill it.
    const spy = vi.spyOn(CappedCapture.prototype, 'attach').mockImplementation(() => {
      throw new Error('injected failure');
    });
    try {
      const v = await run(sh(`sleep ${marker}`), { wallTimeMs: 20_000 }, options);
      expect(v).toMatchObject({ status: 'XX', message: 'injected failure' });
      expect(v.wallMs).toBeLessThan(5000);
    } finally {
      spy.mockRestore();
    }
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
  });

  it('a creator SIGKILLed during a run: its run cgroup and the container\'s are removed by the next run', async () => {
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const nsEntry = new URL('../../namespaces/dist/index.js', import.meta.url).href;
    const script = `const [sb, ns] = await Promise.all([import(${JSON.stringify(entry)}), import(${JSON.stringify(nsEntry)})]);
      await sb.run(ns.rootfsContainer(${JSON.stringify(ROOTFS)}, { args: ['/bin/sleep', '60'] }), { wallTimeMs: 60000 }, { cgroupParent: ${JSON.stringify(parent)} });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
    try {
      const sbx = () => leftoverCgroups(parent).filter((d) => d.includes(`/sbx-${child.pid}-`));
      // Wait until the run is on (its cgroups are made, the container's below), then kill the creator.
      for (let t = 0; t < 200 && !sbx().some((d) => existsSync(join(d, 'box'))); t++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      expect(sbx().length).toBeGreaterThan(0);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // Its container died with it (PR_SET_PDEATHSIG); the cgroups stay until an ns process sweeps.
      await new Promise((r) => setTimeout(r, 200));
      expect((await run(sh('true'), {}, options)).status).toBe('OK');
      expect(sbx()).toEqual([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('malformed limits reject with ERR_NS_CONFIG naming the field, before anything is made', async () => {
    await expect(run(sh('true'), { cpuTimeMs: -1 }, options)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/^limits\.cpuTimeMs:/) });
    await expect(run(sh('true'), { memoryBytes: '64M' } as unknown as Limits, options)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'limits.memoryBytes' });
    // A config exec() refuses: rejected too, after the run's cgroup was made, and removed (afterEach).
    await expect(run(sh('true', { cwd: 'relative/dir' }), {}, options)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/cwd/) });
    await expect(run(sh('true'), {}, { cgroupParent: 'relative' })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'cgroupParent' });
  });
});
