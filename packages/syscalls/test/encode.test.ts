import { describe, expect, it } from 'vitest';
import { CLONE, MS, OP_CODES, STEP_BYTES, describeStep, encodePlan, formatPlan, type Plan } from '../src/index.js';

describe('encodePlan', () => {
  const plan: Plan = {
    cloneFlags: CLONE.NEWNS | CLONE.NEWPID,
    steps: [
      { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID, data: null },
      { op: 'setgroups', gids: [10, 100] },
      { op: 'capbsetDrop', mask: 0xffffffff_ffffffffn },
      { op: 'execve', paths: ['/bin/sh'], argv: ['sh', '-c', 'true'], envp: ['A=1'], ignoreMissing: true },
    ],
  };
  const buf = encodePlan(plan);

  it('writes the header: magic, version, flags, step count and a consistent layout', () => {
    expect(buf.readUInt32LE(0)).toBe(0x4c50534e);
    expect(buf.readUInt32LE(4)).toBe(3);
    expect(buf.readUInt32LE(8)).toBe(CLONE.NEWNS | CLONE.NEWPID);
    expect(buf.readUInt32LE(12)).toBe(4);
    const stepsOff = buf.readUInt32LE(16);
    const vecOff = buf.readUInt32LE(20);
    const strOff = buf.readUInt32LE(24);
    expect(stepsOff).toBe(40);
    expect(vecOff).toBe(40 + 4 * STEP_BYTES);
    expect(buf.readUInt32LE(32)).toBe(9); // PR_SET_PDEATHSIG defaults to SIGKILL
    expect(encodePlan({ cloneFlags: 0, steps: [], parentDeathSignal: 0 }).readUInt32LE(32)).toBe(0);
    expect(strOff).toBeGreaterThan(vecOff);
    expect(buf.readUInt32LE(28)).toBe(buf.length);
    expect(buf[buf.length - 1]).toBe(0);
  });

  it('encodes op codes, flags, 64-bit integers and strings of each step', () => {
    const strOff = buf.readUInt32LE(24);
    const str = (id: number) => buf.toString('utf8', strOff + id, buf.indexOf(0, strOff + id));
    expect(buf.readUInt32LE(40)).toBe(OP_CODES.mount);
    expect(buf.readBigInt64LE(40 + 8)).toBe(BigInt(MS.NOSUID));
    expect(str(buf.readUInt32LE(40 + 56))).toBe('proc');
    expect(str(buf.readUInt32LE(40 + 60))).toBe('/proc');
    expect(buf.readUInt32LE(40 + 68)).toBe(0xffffffff); // data: null
    const cap = 40 + 2 * STEP_BYTES;
    expect(buf.readBigInt64LE(cap + 8)).toBe(-1n); // all 64 bits
    const execve = 40 + 3 * STEP_BYTES;
    expect(buf.readUInt32LE(execve + 4)).toBe(1); // ignoreMissing flag
  });

  it('lays out integer and string vectors', () => {
    const vecOff = buf.readUInt32LE(20);
    const strOff = buf.readUInt32LE(24);
    const groups = vecOff + buf.readUInt32LE(40 + STEP_BYTES + 72);
    expect(buf.readUInt32LE(groups)).toBe(2);
    expect([buf.readUInt32LE(groups + 4), buf.readUInt32LE(groups + 8)]).toEqual([10, 100]);
    const argv = vecOff + buf.readUInt32LE(40 + 3 * STEP_BYTES + 76);
    expect(buf.readUInt32LE(argv)).toBe(3);
    const third = buf.readUInt32LE(argv + 12);
    expect(buf.toString('utf8', strOff + third, buf.indexOf(0, strOff + third))).toBe('true');
  });

  it('refuses strings with NUL bytes, naming the step', () => {
    expect(() => encodePlan({ cloneFlags: 0, steps: [{ op: 'chdir', path: '/a\0b' }] })).toThrow(/step 0 \(chdir\) contains a NUL byte/);
  });

  it('writes negative, large and bigint integers as two\'s complement i64, refusing fractions', () => {
    const b = encodePlan({
      cloneFlags: 0,
      steps: [
        { op: 'setrlimit', resource: 7, soft: -1, hard: -5_000_000_000 },
        { op: 'setrlimit', resource: 7, soft: 2 ** 60, hard: Number.MAX_SAFE_INTEGER },
        { op: 'capset', effective: 1n << 63n, permitted: -1n, inheritable: 0n },
      ],
    });
    const i = (step: number, j: number) => b.readBigInt64LE(40 + step * STEP_BYTES + 8 + 8 * j);
    expect([i(0, 1), i(0, 2)]).toEqual([-1n, -5_000_000_000n]);
    expect([i(1, 1), i(1, 2)]).toEqual([2n ** 60n, BigInt(Number.MAX_SAFE_INTEGER)]);
    expect([i(2, 0), i(2, 1)]).toEqual([-(2n ** 63n), -1n]);
    expect(() => encodePlan({ cloneFlags: 0, steps: [{ op: 'umask', mask: 1.5 }] })).toThrow(RangeError);
  });

  it('returns a buffer of its own each call, also for plans larger than the scratch space', () => {
    const first = encodePlan(plan);
    const copy = Buffer.from(first);
    const big: Plan = {
      cloneFlags: 0,
      steps: Array.from({ length: 500 }, (_, k) => ({ op: 'mkdir' as const, path: `/d/${'é'.repeat(40)}/${k}`, mode: 0o755, existOk: true })),
    };
    const large = encodePlan(big);
    expect(large.readUInt32LE(12)).toBe(500);
    const strOff = large.readUInt32LE(24);
    const last = large.readUInt32LE(40 + 499 * STEP_BYTES + 56);
    expect(large.toString('utf8', strOff + last, large.indexOf(0, strOff + last))).toBe(`/d/${'é'.repeat(40)}/499`);
    expect(first.equals(copy)).toBe(true); // not overwritten by the later call
    expect(encodePlan(plan).equals(buf)).toBe(true);
  });
});

describe('encodePlan: an answered sync step', () => {
  const steps: Plan['steps'] = [{ op: 'setsid' }, { op: 'sync', name: 'cgroup' }, { op: 'sync', name: 'later' }];
  const i0 = (buf: Buffer, k: number) => buf.readBigInt64LE(40 + k * STEP_BYTES + 8);

  it('has 1 in i[0] for the step named by answeredSync, 0 in every other sync step', () => {
    const buf = encodePlan({ cloneFlags: 0, steps }, { answeredSync: 1 });
    expect([i0(buf, 1), i0(buf, 2)]).toEqual([1n, 0n]);
    expect(i0(encodePlan({ cloneFlags: 0, steps }), 1)).toBe(0n);
  });

  it('leaves a step that is not a sync step as it is', () => {
    expect(encodePlan({ cloneFlags: 0, steps }, { answeredSync: 0 })).toEqual(encodePlan({ cloneFlags: 0, steps }));
  });
});

describe('encodePlan: the init step', () => {
  it('is op 50 with the terminal descriptor in i[0], -1 without one', () => {
    expect(OP_CODES.init).toBe(50);
    const buf = encodePlan({ cloneFlags: 0, steps: [{ op: 'init' }, { op: 'init', tty: 0 }] });
    expect(buf.readUInt32LE(40)).toBe(50);
    expect(buf.readBigInt64LE(40 + 8)).toBe(-1n);
    expect(buf.readUInt32LE(40 + STEP_BYTES)).toBe(50);
    expect(buf.readBigInt64LE(40 + STEP_BYTES + 8)).toBe(0n);
  });
});

describe('describeStep / formatPlan', () => {
  it('names the step and its path as errors show them', () => {
    expect(describeStep({ op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: 0, data: null })).toBe('mount proc on /proc');
    expect(describeStep({ op: 'mount', source: '/a', target: '/b', fstype: null, flags: MS.BIND, data: null })).toBe('bind mount /a on /b');
    expect(describeStep({ op: 'execve', paths: ['/bin/nope'], argv: ['nope'], envp: [] })).toBe('execve /bin/nope');
    expect(describeStep({ op: 'pivotRoot', newRoot: '/newroot' })).toBe('pivot_root /newroot');
  });
  it('describes the init step, with the terminal when it has one', () => {
    expect(describeStep({ op: 'init' })).toBe('init: fork the program, forward signals, reap');
    expect(describeStep({ op: 'init', tty: 0 })).toBe('init: fork the program, forward signals, reap (terminal fd 0 to its group)');
  });
  it('numbers the steps of a plan', () => {
    const text = formatPlan({ cloneFlags: CLONE.NEWNS, steps: [{ op: 'setsid' }, { op: 'chdir', path: '/' }] });
    expect(text.split('\n')).toEqual(['clone flags 0x20000', '  0  setsid', '  1  chdir /']);
  });
});

describe('encodePlan: the openConsole step', () => {
  it('is op 140: size and owner in i[0..3], ptmx, console and the sync name in s[0..2]', () => {
    expect(OP_CODES.openConsole).toBe(140);
    const step = { op: 'openConsole' as const, ptmx: '/newroot/dev/pts/ptmx', console: '/newroot/dev/console', cols: 90, rows: 20, uid: 1000, gid: -1, name: 'console' };
    const buf = encodePlan({ cloneFlags: 0, steps: [step] });
    expect(buf.readUInt32LE(40)).toBe(140);
    expect([8, 16, 24, 32].map((o) => buf.readBigInt64LE(40 + o))).toEqual([90n, 20n, 1000n, -1n]);
    expect(formatPlan({ cloneFlags: 0, steps: [step] })).toMatch(/console: a pty of \/newroot\/dev\/pts\/ptmx \(90x20, owner 1000:-1\) on 0-2 and \/newroot\/dev\/console/);
  });
});
