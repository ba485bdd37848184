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
