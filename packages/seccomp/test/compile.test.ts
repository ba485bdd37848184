// The compiled program, run in the BPF interpreter (the kernel's semantics): actions, argument
// compares on 64-bit values split into 32-bit halves, the architecture check, skipped names,
// the ENOSYS stub and long programs (far jumps).
import { describe, expect, it } from 'vitest';
import { AUDIT_ARCH, compileSeccomp, filterVerdict, runFilter, syscallNumber, syscallTable, type Instruction, type LinuxSeccomp } from '../src/index.js';

/** How many instructions the program runs for x86_64 call `nr`. */
function executed(prog: readonly Instruction[], nr: number): number {
  const stats = { steps: 0 };
  runFilter(prog, { nr, arch: AUDIT_ARCH.x86_64 }, stats);
  return stats.steps;
}

const compile = (p: LinuxSeccomp) => compileSeccomp(p, { native: 'x86_64' }).instructions;
const allowExcept = (syscalls: LinuxSeccomp['syscalls'], more: Partial<LinuxSeccomp> = {}) => compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls, ...more });

describe('compileSeccomp', () => {
  it('gives each action its SECCOMP_RET_* value, errnoRet as the errno', () => {
    const prog = allowExcept([
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 },
      { names: ['getppid'], action: 'SCMP_ACT_ERRNO' },
      { names: ['gettid'], action: 'SCMP_ACT_KILL_PROCESS' },
      { names: ['getuid'], action: 'SCMP_ACT_KILL' },
      { names: ['getgid'], action: 'SCMP_ACT_TRAP' },
      { names: ['geteuid'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
      { names: ['getegid'], action: 'SCMP_ACT_LOG' },
    ]);
    const v = (name: string) => filterVerdict(prog, 'x86_64', name);
    expect(v('getpid')).toEqual({ action: 'ERRNO', data: 42 });
    expect(v('getppid')).toEqual({ action: 'ERRNO', data: 1 });
    expect(v('gettid')).toEqual({ action: 'KILL_PROCESS', data: 0 });
    expect(v('getuid')).toEqual({ action: 'KILL_THREAD', data: 0 });
    expect(v('getgid')).toEqual({ action: 'TRAP', data: 0 });
    expect(v('geteuid')).toEqual({ action: 'TRACE', data: 7 });
    expect(v('getegid')).toEqual({ action: 'LOG', data: 0 });
    expect(v('read')).toEqual({ action: 'ALLOW', data: 0 });
  });

  it('compares 64-bit arguments by their 32-bit halves, for every operator', () => {
    const values = [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1ffffffffn, 0xfffffffe00000000n, (1n << 64n) - 1n];
    const ops: [string, (a: bigint, v: bigint) => boolean][] = [
      ['SCMP_CMP_EQ', (a, v) => a === v],
      ['SCMP_CMP_NE', (a, v) => a !== v],
      ['SCMP_CMP_LT', (a, v) => a < v],
      ['SCMP_CMP_LE', (a, v) => a <= v],
      ['SCMP_CMP_GT', (a, v) => a > v],
      ['SCMP_CMP_GE', (a, v) => a >= v],
    ];
    for (const [op, ref] of ops) {
      for (const v of values) {
        const prog = allowExcept([{ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 2, value: v, op }] }]);
        for (const a of values) {
          const got = filterVerdict(prog, 'x86_64', 'personality', [0, 0, a]).action === 'ERRNO';
          expect(got, `${a} ${op} ${v}`).toBe(ref(a, v));
        }
      }
    }
  });

  it('MASKED_EQ: (arg & value) == valueTwo on both halves', () => {
    const prog = allowExcept([{ names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xff000000ffn, valueTwo: 0x1200000034n, op: 'SCMP_CMP_MASKED_EQ' }] }]);
    const denied = (a: bigint) => filterVerdict(prog, 'x86_64', 'clone', [a]).action === 'ERRNO';
    expect(denied(0x1200000034n)).toBe(true);
    expect(denied(0xab12cdef0034n)).toBe(true);
    expect(denied(0x1300000034n)).toBe(false);
    expect(denied(0x1200000035n)).toBe(false);
  });

  it('ANDs conditions on distinct arguments, ORs a group naming one argument twice (as runc)', () => {
    const and = allowExcept([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 9, op: 'SCMP_CMP_EQ' }] }]);
    expect(filterVerdict(and, 'x86_64', 'kill', [1, 9]).action).toBe('ERRNO');
    expect(filterVerdict(and, 'x86_64', 'kill', [1, 15]).action).toBe('ALLOW');
    const or = allowExcept([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }, { index: 1, value: 19, op: 'SCMP_CMP_EQ' }] }]);
    expect(filterVerdict(or, 'x86_64', 'kill', [1, 9]).action).toBe('ERRNO');
    expect(filterVerdict(or, 'x86_64', 'kill', [1, 19]).action).toBe('ERRNO');
    expect(filterVerdict(or, 'x86_64', 'kill', [1, 15]).action).toBe('ALLOW');
  });

  it('checks conditional rules first, then the unconditional one, then the default', () => {
    const prog = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 9, op: 'SCMP_CMP_EQ' }] },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }] },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW' },
      ],
    });
    expect(filterVerdict(prog, 'x86_64', 'personality', [8]).action).toBe('ALLOW');
    expect(filterVerdict(prog, 'x86_64', 'personality', [9])).toEqual({ action: 'ERRNO', data: 22 });
    expect(filterVerdict(prog, 'x86_64', 'personality', [10])).toEqual({ action: 'ERRNO', data: 1 });
    expect(filterVerdict(prog, 'x86_64', 'socket', [40])).toEqual({ action: 'ERRNO', data: 97 });
    expect(filterVerdict(prog, 'x86_64', 'socket', [2]).action).toBe('ALLOW');
  });

  it('skips names the architecture does not have (as runc), and refuses nothing for them', () => {
    const prog = allowExcept([{ names: ['no_such_call', 'socketcall', 'keyctl'], action: 'SCMP_ACT_ERRNO' }], { architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] });
    expect(filterVerdict(prog, 'x86_64', 'keyctl').action).toBe('ERRNO');
    expect(filterVerdict(prog, 'x86', 'socketcall').action).toBe('ERRNO'); // i386 only
    expect(filterVerdict(prog, 'x86', 'keyctl').action).toBe('ERRNO');
    expect(filterVerdict(prog, 'x86_64', 'read').action).toBe('ALLOW');
  });

  it('ends any architecture not listed (the native one always is): i386 and x32 calls on an x86_64-only filter', () => {
    const only64 = allowExcept([]);
    expect(filterVerdict(only64, 'x86_64', 'getpid').action).toBe('ALLOW');
    expect(filterVerdict(only64, 'x86', 'getpid').action).toBe('KILL_PROCESS');
    expect(filterVerdict(only64, 'x32', 'getpid').action).toBe('KILL_PROCESS');
    expect(runFilter(only64, { nr: 172, arch: AUDIT_ARCH.aarch64 })).toBe(0x80000000);
    const all = allowExcept([{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 3 }], { architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'] });
    expect(filterVerdict(all, 'x86', 'getpid')).toEqual({ action: 'ERRNO', data: 3 });
    expect(filterVerdict(all, 'x32', 'getpid')).toEqual({ action: 'ERRNO', data: 3 });
    expect(filterVerdict(all, 'x86', 'getppid').action).toBe('ALLOW');
    // aarch64 cannot run on an x86_64 kernel: left out of the filter, its arch value is a bad arch.
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_AARCH64'] }, { native: 'x86_64' }).arches).toEqual(['x86_64']);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_ARM'] }, { native: 'aarch64' }).arches).toEqual(['aarch64', 'arm']);
  });

  it('returns ENOSYS above the highest number the profile names (runc patchbpf), not for an allowing default', () => {
    const prog = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'openat2'], action: 'SCMP_ACT_ALLOW' }] });
    const openat2 = syscallNumber('x86_64', 'openat2')!;
    expect(filterVerdict(prog, 'x86_64', openat2 + 1)).toEqual({ action: 'ERRNO', data: 38 });
    expect(filterVerdict(prog, 'x86_64', openat2 - 1)).toEqual({ action: 'ERRNO', data: 1 });
    expect(filterVerdict(prog, 'x86_64', 'openat2').action).toBe('ALLOW');
    const allow = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO' }] });
    expect(filterVerdict(allow, 'x86_64', 999).action).toBe('ALLOW');
  });

  it('keeps jumps in range in a long program (far targets through ja), and refuses one past 4096 instructions', () => {
    // A rule on a 64-bit argument for each of the first 330 x86_64 calls: a long program whose
    // argument leaves sit far from the search tree.
    const calls = [...syscallTable('x86_64')].filter(([, n]) => n < 330);
    const rules = calls.map(([name, n]) => ({ names: [name], action: 'SCMP_ACT_ERRNO', errnoRet: (n % 100) + 1, args: [{ index: 1, value: BigInt(n) << 32n, op: 'SCMP_CMP_GE' }] }));
    const c = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: rules }, { native: 'x86_64' });
    expect(c.instructions.length).toBeGreaterThan(1500);
    expect(c.instructions.every((i) => i.jt <= 255 && i.jf <= 255)).toBe(true);
    for (const [name, n] of calls) {
      expect(filterVerdict(c.instructions, 'x86_64', name, [0, BigInt(n) << 32n])).toEqual({ action: 'ERRNO', data: (n % 100) + 1 });
      if (n > 0) expect(filterVerdict(c.instructions, 'x86_64', name, [0, (BigInt(n) << 32n) - 1n]).action).toBe('ALLOW');
    }
    const huge = calls.map(([name]) => ({ names: [name], action: 'SCMP_ACT_ERRNO', args: [0, 1, 2, 3, 4, 5].map((i) => ({ index: i, value: i + 1, op: 'SCMP_CMP_GT' })) }));
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: huge }, { native: 'x86_64' })).toThrow(/^linux\.seccomp: the compiled filter has \d+ instructions, more than the kernel takes \(4096/);
  });

  it('searches the numbers in a balanced tree: a handful of compares, not one per rule', () => {
    const calls = [...syscallTable('x86_64')];
    const prog = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: calls.map(([name]) => name), action: 'SCMP_ACT_ALLOW' }] });
    // Instructions run for the last number: the arch check, the split, the stub, ~log2(n) + 4 compares.
    const last = Math.max(...calls.map(([, n]) => n));
    expect(executed(prog, last)).toBeLessThan(20);
    expect(filterVerdict(prog, 'x86_64', last).action).toBe('ALLOW');
  });

  it('sets the flags seccomp(2) takes, leaving out WAIT_KILLABLE_RECV without a listener', () => {
    const c = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }, { native: 'x86_64' });
    expect(c.flags).toBe(2 | 4);
    expect(c.program.length).toBe(c.instructions.length * 8);
  });
});

