// attachDeviceFilter on this host's cgroup2 tree, for real: a BPF device filter decides for
// the processes of a cgroup2 directory whatever the v1 devices controller says (on a hybrid
// host the v2 tree has no controllers, but device programs attach to it all the same).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NsError, attachDeviceFilter, deviceFilterCount } from '../src/index.js';

const root = process.getuid?.() === 0;

/** The cgroup2 mount point, or null (v1 only). */
function cgroup2(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre!.split(' ')[4]!;
  }
  return null;
}

/** One instruction: `r0 = imm; exit` makes an allow (1) or deny (0) program. */
function verdict(allow: boolean): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
  b.writeInt32LE(allow ? 1 : 0, 4);
  b[8] = 0x95; // BPF_JMP | BPF_EXIT
  return b;
}

const mount = cgroup2();
const dir = mount ? join(mount, `ns-test-bpf-${process.pid}`) : '';

/** Open /dev/null from a shell placed in the cgroup first. */
function openNull(): string {
  const r = spawnSync('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && (echo x > /dev/null) 2>&1 && echo opened`], { encoding: 'utf8' });
  return r.stdout.trim();
}

describe.skipIf(!root || !mount)('attachDeviceFilter (cgroup2 device programs, as root)', () => {
  afterAll(() => {
    try {
      rmdirSync(dir);
    } catch {
      // not made, or already gone
    }
  });

  it('denies and allows device access for the processes of the cgroup, replacing the filter it had', () => {
    mkdirSync(dir);
    expect(deviceFilterCount(dir)).toBe(0);
    attachDeviceFilter(dir, verdict(false));
    expect(deviceFilterCount(dir)).toBe(1);
    expect(openNull()).toMatch(/Operation not permitted/);
    attachDeviceFilter(dir, verdict(true));
    expect(deviceFilterCount(dir)).toBe(1); // replaced, not stacked
    expect(openNull()).toBe('opened');
  });

  it('the same rules again (a cached program: loaded once per process) keep one filter, in each cgroup it is attached to', () => {
    const other = `${dir}-2`;
    mkdirSync(other);
    try {
      attachDeviceFilter(dir, verdict(false));
      attachDeviceFilter(other, verdict(false)); // the program loaded for `dir`, attached to both
      attachDeviceFilter(dir, verdict(false)); // attached already: stays, not stacked (no EEXIST)
      expect(deviceFilterCount(dir)).toBe(1);
      expect(deviceFilterCount(other)).toBe(1);
      expect(openNull()).toMatch(/Operation not permitted/);
      attachDeviceFilter(dir, verdict(true)); // the other cached program replaces it
      expect(deviceFilterCount(dir)).toBe(1);
      expect(openNull()).toBe('opened');
    } finally {
      rmdirSync(other);
    }
  });

  it('a load goes through while signals keep coming (the verifier returns EAGAIN on a pending signal: a profiler, a signal storm)', { timeout: 120_000 }, async () => {
    // A long program (r0 = 0, many times, then exit: the verifier walks every instruction,
    // checking for a pending signal at each), new bytes each time (no cached program), while
    // a shell sends this process SIGUSR2 without pause.
    const { spawn } = await import('node:child_process');
    const onSignal = (): void => {};
    process.on('SIGUSR2', onSignal);
    // About one a millisecond (each `sleep` a process): more than one per load, not so many that
    // the event loop does nothing but run the handler.
    const storm = spawn('sh', ['-c', `while kill -USR2 ${process.pid}; do sleep 0.001; done`], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      for (let k = 0; k < 3; k++) {
        const n = 50_000 + k;
        const prog = Buffer.alloc((n + 1) * 8);
        for (let i = 0; i < n; i++) prog[i * 8] = 0xb7; // r0 = 0
        prog.writeInt32LE(1, (n - 1) * 8 + 4); // the last: r0 = 1 (allow)
        prog[n * 8] = 0x95; // exit
        attachDeviceFilter(dir, prog);
      }
      expect(deviceFilterCount(dir)).toBe(1);
    } finally {
      if (storm.exitCode === null && storm.signalCode === null) {
        const exited = new Promise((r) => storm.once('exit', r));
        storm.kill('SIGKILL');
        await exited;
      }
      process.off('SIGUSR2', onSignal);
    }
  });

  it('a program the verifier refuses fails with the verifier log, naming the directory', () => {
    const noExit = Buffer.alloc(8);
    noExit[0] = 0xb7; // r0 = 0, then falls off the end
    let err: unknown;
    try {
      attachDeviceFilter(dir, noExit);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NsError);
    expect((err as NsError).code).toBe('EINVAL');
    expect((err as NsError).message).toMatch(new RegExp(`^bpf BPF_PROG_LOAD \\(device filter for ${dir}\\): EINVAL \\(Invalid argument\\): last insn is not an exit or jmp`));
    expect(deviceFilterCount(dir)).toBe(1); // the one before stays
  });

  it('refuses what is not a whole program', () => {
    expect(() => attachDeviceFilter(dir, Buffer.alloc(5))).toThrow(/8-byte instructions/);
  });
});
