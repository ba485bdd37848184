// The compiler against libseccomp (Debian's libseccomp-dev, what runc links): the same
// profile compiled by both, both programs run in the BPF interpreter, the same verdict for
// every system call number 0..500 on x86_64, i386 and x32 with sample arguments. The one
// planned difference is runc's: numbers above the highest the profile names get ENOSYS here
// (runc patches libseccomp's program the same way). Needs gcc and seccomp.h: skipped without.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_ARCH, X32_SYSCALL_BIT, checkProfile, compileSeccomp, decodeProgram, defaultProfile, runFilter, syscallNumber, type Arch, type Instruction, type LinuxSeccomp } from '../src/index.js';

const haveTools = process.arch === 'x64' && existsSync('/usr/include/seccomp.h') && spawnSync('gcc', ['--version']).status === 0;
const OPS: Record<string, number> = { SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7 };
const LIB_ARCH: Record<Arch, string> = { x86_64: 'x86_64', x86: 'x86', x32: 'x32', aarch64: 'aarch64', arm: 'arm' };
const ARCHES: Arch[] = ['x86_64', 'x86', 'x32'];
const DOCKER_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
const SAMPLE_ARGS: bigint[][] = [[], [8n], [40n, 1n], [2n, 1n, 0n], [0x10000000n | 17n], [0x7e020000n], [0xffffffffn], [0x100000008n], [131080n], [0x80000000n, 0xffffffffffffffffn]];

describe.skipIf(!haveTools)('the compiler against libseccomp', () => {
  let dir: string;
  let tool: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-seccomp-xcheck-'));
    tool = join(dir, 'libseccomp-filter');
    execFileSync('gcc', ['-O1', '-o', tool, join(import.meta.dirname, 'fixtures', 'libseccomp-filter.c'), '-lseccomp']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** libseccomp's number for each name on `arch` (undefined: unknown to it). */
  function libNumbers(arch: Arch, names: string[]): Map<string, number | undefined> {
    const out = execFileSync(tool, ['resolve', LIB_ARCH[arch], ...names], { encoding: 'utf8' });
    return new Map(out.trim().split('\n').map((l) => {
      const [name, n] = l.split(' ');
      return [name!, Number(n) < 0 ? undefined : Number(n)];
    }));
  }

  /** The profile's names that both tables number the same on every architecture (the compilers are compared, not the tables). */
  function agreed(p: LinuxSeccomp): { profile: LinuxSeccomp; differ: string[] } {
    const names = [...new Set((p.syscalls ?? []).flatMap((s) => s.names))];
    const differ = new Set<string>();
    for (const arch of ARCHES) {
      const lib = libNumbers(arch, names);
      for (const name of names) if (lib.get(name) !== syscallNumber(arch, name)) differ.add(name);
    }
    const syscalls = (p.syscalls ?? []).map((s) => ({ ...s, names: s.names.filter((n) => !differ.has(n)) })).filter((s) => s.names.length > 0);
    return { profile: { ...p, syscalls }, differ: [...differ] };
  }

  /** libseccomp's program for `p` (its rules as runc hands them over: the default action's left out, repeated indexes split). */
  function libProgram(p: LinuxSeccomp): Instruction[] {
    const checked = checkProfile(p);
    const lines = ['arch x86', 'arch x32', `default ${checked.defaultRet}`];
    for (const s of checked.syscalls) {
      if (s.ret === checked.defaultRet) continue;
      const twice = new Set(s.args.map((a) => a.index)).size < s.args.length;
      const groups = twice ? s.args.map((a) => [a]) : [s.args];
      for (const name of s.names) {
        for (const g of groups) lines.push(`rule ${s.ret} ${name} ${g.length}${g.map((a) => ` ${a.index} ${OPS[a.op]} ${a.value} ${a.valueTwo}`).join('')}`);
      }
    }
    const out = execFileSync(tool, [], { input: `${lines.join('\n')}\n` });
    return decodeProgram(out);
  }

  function compare(p: LinuxSeccomp): number {
    const { profile } = agreed(p);
    const mine = compileSeccomp(profile, { native: 'x86_64' }).instructions;
    const theirs = libProgram(profile);
    const checked = checkProfile(profile);
    const allowing = checked.defaultRet === 0x7fff0000 || checked.defaultRet === 0x7ffc0000;
    let compared = 0;
    for (const arch of ARCHES) {
      const named = (profile.syscalls ?? []).flatMap((s) => s.names).map((n) => syscallNumber(arch, n)).filter((n): n is number => n !== undefined);
      const highest = Math.max(...named);
      for (let n = 0; n <= 500; n++) {
        const nr = arch === 'x32' ? (n | X32_SYSCALL_BIT) >>> 0 : n;
        for (const args of SAMPLE_ARGS) {
          const data = { nr, arch: AUDIT_ARCH[arch], args };
          const got = runFilter(mine, data);
          const want = !allowing && nr > highest ? 0x50026 : runFilter(theirs, data);
          if (got !== want) expect.fail(`${arch} nr ${n} args [${args.join(', ')}]: ns 0x${got.toString(16)}, libseccomp 0x${want.toString(16)}`);
          compared++;
        }
      }
    }
    // Architectures neither lists: both end the process.
    expect(runFilter(mine, { nr: 172, arch: AUDIT_ARCH.aarch64 })).toBe(runFilter(theirs, { nr: 172, arch: AUDIT_ARCH.aarch64 }));
    return compared;
  }

  it('agrees on the default profile, for every number 0..500 on x86_64, i386 and x32', () => {
    const p = defaultProfile({ capabilities: DOCKER_CAPS, native: 'x86_64' });
    const { differ } = agreed(p);
    // Where the tables differ at all, it is a name one of them does not have (no number clash).
    for (const name of differ) {
      for (const arch of ARCHES) {
        const lib = libNumbers(arch, [name]).get(name);
        const ours = syscallNumber(arch, name);
        if (lib !== undefined && ours !== undefined) expect(ours, `${arch} ${name}`).toBe(lib);
      }
    }
    expect(compare(p)).toBe(3 * 501 * SAMPLE_ARGS.length);
  });

  it('agrees on the default profile with CAP_SYS_ADMIN and CAP_SYS_PTRACE', () => {
    compare(defaultProfile({ capabilities: [...DOCKER_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'], native: 'x86_64' }));
  });

  it('agrees on a profile with every operator, 64-bit values and an allowing default', () => {
    compare({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 8, op: 'SCMP_CMP_NE' }] },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 40, op: 'SCMP_CMP_GE' }, { index: 1, value: 0x100000000, op: 'SCMP_CMP_LT' }] },
        { names: ['clone'], action: 'SCMP_ACT_KILL_PROCESS', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['kill'], action: 'SCMP_ACT_TRAP', args: [{ index: 1, value: 0xffffffff, op: 'SCMP_CMP_GT' }] },
        { names: ['read', 'write'], action: 'SCMP_ACT_LOG', args: [{ index: 2, value: 0x100000008, op: 'SCMP_CMP_LE' }] },
        { names: ['keyctl', 'add_key'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 },
      ],
    });
  });
});
