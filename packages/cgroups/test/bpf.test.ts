import { describe, expect, it } from 'vitest';
import { BPF_DEVCG_ACC, BPF_DEVCG_DEV, BPF_OP, compileDeviceFilter, decodeInsns, disassemble, encodeInsns, type BpfInsn } from '../src/bpf.js';
import { DEFAULT_DEVICE_RULES, DeviceEmulator, WILDCARD, deviceRules, type SourcedDeviceRule } from '../src/devices.js';
import type { LinuxDeviceCgroup } from '../src/types.js';
import { runDeviceFilter } from './helpers/bpf-eval.js';

/** An instruction in the notation of runc's devicefilter_test.go (cilium/ebpf asm), jump labels left out. */
function runcNotation(i: BpfInsn): string {
  switch (i.code) {
    case BPF_OP.LDXW: return `LdXMemW dst: r${i.dst} src: r${i.src} off: ${i.off} imm: 0`;
    case BPF_OP.AND32_IMM: return `AndImm32 dst: r${i.dst} imm: ${i.imm}`;
    case BPF_OP.RSH32_IMM: return `RShImm32 dst: r${i.dst} imm: ${i.imm}`;
    case BPF_OP.MOV32_REG: return `MovReg32 dst: r${i.dst} src: r${i.src}`;
    case BPF_OP.MOV32_IMM: return `MovImm32 dst: r${i.dst} imm: ${i.imm}`;
    case BPF_OP.JNE_IMM: return `JNEImm dst: r${i.dst} imm: ${i.imm}`;
    case BPF_OP.JNE_REG: return `JNEReg dst: r${i.dst} src: r${i.src}`;
    case BPF_OP.EXIT: return 'Exit';
    default: return `?${i.code}`;
  }
}

/** runc's expected program for its built-in allow list (the version without 10:200), devicefilter_test.go. */
const RUNC_BUILTIN = `
LdXMemW dst: r2 src: r1 off: 0 imm: 0
AndImm32 dst: r2 imm: 65535
LdXMemW dst: r3 src: r1 off: 0 imm: 0
RShImm32 dst: r3 imm: 16
LdXMemW dst: r4 src: r1 off: 4 imm: 0
LdXMemW dst: r5 src: r1 off: 8 imm: 0
JNEImm dst: r2 imm: 1
MovReg32 dst: r1 src: r3
AndImm32 dst: r1 imm: 1
JNEReg dst: r1 src: r3
MovImm32 dst: r0 imm: 1
Exit
JNEImm dst: r2 imm: 2
MovReg32 dst: r1 src: r3
AndImm32 dst: r1 imm: 1
JNEReg dst: r1 src: r3
MovImm32 dst: r0 imm: 1
Exit
${[[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 2]].map(([ma, mi]) => `JNEImm dst: r2 imm: 2\nJNEImm dst: r4 imm: ${ma}\nJNEImm dst: r5 imm: ${mi}\nMovImm32 dst: r0 imm: 1\nExit`).join('\n')}
JNEImm dst: r2 imm: 2
JNEImm dst: r4 imm: 136
MovImm32 dst: r0 imm: 1
Exit
MovImm32 dst: r0 imm: 0
Exit`.trim();

const withPaths = (rules: LinuxDeviceCgroup[], defaults = false): SourcedDeviceRule[] => deviceRules(rules, { defaults });

/** Every jump lands on the first instruction of a block (right after an exit) or the final default. */
function jumpsLandOnBlocks(insns: BpfInsn[]): boolean {
  return insns.every((i, pc) => {
    if (i.code !== BPF_OP.JNE_IMM && i.code !== BPF_OP.JNE_REG) return true;
    const target = pc + 1 + i.off;
    return i.off > 0 && target < insns.length && insns[target - 1]!.code === BPF_OP.EXIT;
  });
}

describe('compileDeviceFilter', () => {
  it("matches runc's program for its built-in allow list, instruction by instruction", () => {
    const rules = DEFAULT_DEVICE_RULES.filter((r) => !(r.major === 10 && r.minor === 200)).map((r) => ({ ...r, jsonPath: 'x' }));
    const insns = decodeInsns(compileDeviceFilter(rules).program);
    expect(insns.map(runcNotation).join('\n')).toBe(RUNC_BUILTIN);
    expect(jumpsLandOnBlocks(insns)).toBe(true);
  });

  it('no rules: load the context, return 0 (deny)', () => {
    const f = compileDeviceFilter([]);
    expect(decodeInsns(f.program)).toHaveLength(8);
    expect(f.defaultAllow).toBe(false);
    expect(disassemble(f.program).split('\n').slice(-2)).toEqual(['  6: w0 = 0', '  7: exit']);
  });

  it('privileged (allow a): return 1; with one block device denied, a deny block before it', () => {
    expect(decodeInsns(compileDeviceFilter(withPaths([{ allow: true }])).program).map(runcNotation).slice(6)).toEqual(['MovImm32 dst: r0 imm: 1', 'Exit']);
    const f = compileDeviceFilter(withPaths([{ allow: true }, { allow: false, type: 'b', major: 8, minor: 0 }]));
    expect(decodeInsns(f.program).map(runcNotation).slice(6)).toEqual([
      'JNEImm dst: r2 imm: 1', 'JNEImm dst: r4 imm: 8', 'JNEImm dst: r5 imm: 0', 'MovImm32 dst: r0 imm: 0', 'Exit', 'MovImm32 dst: r0 imm: 1', 'Exit',
    ]);
    expect(f.license).toBe('Apache');
  });

  it('encodes struct bpf_insn: code, dst (low nibble) / src (high nibble), off s16, imm s32, little-endian', () => {
    const f = compileDeviceFilter(withPaths([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]));
    expect(f.program.length % 8).toBe(0);
    expect(f.program.subarray(0, 8).toString('hex')).toBe('6112000000000000'); // r2 = *(u32 *)(r1 + 0)
    expect(f.program.subarray(8, 16).toString('hex')).toBe('54020000ffff0000'); // w2 &= 0xffff
    const insns = decodeInsns(f.program);
    expect(encodeInsns(insns).equals(f.program)).toBe(true);
    // rw check: w1 = w3; w1 &= READ|WRITE; if r1 != r3 goto next
    expect(insns.slice(7, 10).map(runcNotation)).toEqual(['MovReg32 dst: r1 src: r3', `AndImm32 dst: r1 imm: ${BPF_DEVCG_ACC.READ | BPF_DEVCG_ACC.WRITE}`, 'JNEReg dst: r1 src: r3']);
    expect(() => decodeInsns(Buffer.alloc(7))).toThrow(RangeError);
  });

  it('refuses a rule set the devices cgroup cannot represent, naming the rule', () => {
    expect(() => compileDeviceFilter(withPaths([{ allow: true, type: 'c' }, { allow: false, type: 'c', major: 1, minor: 3 }]))).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: 'linux.resources.devices[1]' }),
    );
    expect(() => compileDeviceFilter(withPaths([{ allow: true, type: 'c', major: 2 ** 31, minor: 0 }]))).toThrow(/too large/);
  });
});

describe('the compiled program decides like the v1 emulator (test-only interpreter)', () => {
  const ACCESS = { r: BPF_DEVCG_ACC.READ, w: BPF_DEVCG_ACC.WRITE, m: BPF_DEVCG_ACC.MKNOD };
  const accessSets = [1, 2, 3, 4, 5, 6, 7].map((bits) => `${bits & 1 ? 'r' : ''}${bits & 2 ? 'w' : ''}${bits & 4 ? 'm' : ''}`);
  const devices: Array<['b' | 'c', number, number]> = [];
  for (const t of ['b', 'c'] as const) for (const ma of [0, 1, 5, 7, 8, 10, 136, 254]) for (const mi of [0, 1, 2, 3, 5, 7, 9, 11, 200, 229]) devices.push([t, ma, mi]);

  const cases: Record<string, LinuxDeviceCgroup[]> = {
    'deny-all + runc defaults': [{ allow: false, access: 'rwm' }],
    'plus fuse rw and loop block r': [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }, { allow: true, type: 'b', major: 7, access: 'r' }],
    'privileged minus block 8:*': [{ allow: true }, { allow: false, type: 'b', major: 8 }],
    'allow then partly deny': [{ allow: true, type: 'c', major: 1, minor: 11 }, { allow: false, type: 'c', major: 1, minor: 11, access: 'w' }],
    'wildcard minor, mknod only': [{ allow: true, type: 'c', major: 5, access: 'm' }, { allow: true, type: 'b', minor: 0, access: 'wm' }],
  };

  for (const [name, rules] of Object.entries(cases)) {
    it(name, () => {
      const defaults = name.includes('runc defaults') || name.includes('fuse');
      const sourced = deviceRules(rules, { defaults });
      const emu = DeviceEmulator.fromRules(sourced);
      const { program } = compileDeviceFilter(sourced);
      expect(jumpsLandOnBlocks(decodeInsns(program))).toBe(true);
      let checked = 0;
      for (const [type, major, minor] of devices) {
        for (const access of accessSets) {
          const bits = [...access].reduce((b, ch) => b | ACCESS[ch as 'r' | 'w' | 'm'], 0);
          const got = runDeviceFilter(program, { type: type === 'b' ? BPF_DEVCG_DEV.BLOCK : BPF_DEVCG_DEV.CHAR, access: bits, major, minor });
          expect(got, `${type} ${major}:${minor} ${access}`).toBe(emu.allows(type, major, minor, access) ? 1 : 0);
          checked++;
        }
      }
      expect(checked).toBe(devices.length * 7);
    });
  }

  it('spot checks of the default policy', () => {
    const { program } = compileDeviceFilter(deviceRules([{ allow: false, access: 'rwm' }]));
    const run = (type: number, major: number, minor: number, access: number) => runDeviceFilter(program, { type, major, minor, access });
    const { CHAR, BLOCK } = BPF_DEVCG_DEV;
    const { READ, WRITE, MKNOD } = BPF_DEVCG_ACC;
    expect(run(CHAR, 1, 3, READ | WRITE)).toBe(1); // /dev/null
    expect(run(CHAR, 1, 11, READ)).toBe(0); // /dev/kmsg
    expect(run(CHAR, 1, 11, MKNOD)).toBe(1); // mknod is allowed for any char device
    expect(run(BLOCK, 8, 0, READ)).toBe(0);
    expect(run(CHAR, 136, 42, READ | WRITE)).toBe(1); // /dev/pts/42
    expect(run(CHAR, 10, 200, READ | WRITE | MKNOD)).toBe(1); // /dev/net/tun
    expect(WILDCARD).toBe(-1);
  });
});
