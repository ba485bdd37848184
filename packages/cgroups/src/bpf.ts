/**
 * A BPF_PROG_TYPE_CGROUP_DEVICE program compiled from device rules, as classic eBPF
 * instructions (struct bpf_insn, 8 bytes little-endian each): the same program runc's
 * devicefilter generator (after crun's ebpf.c) emits. The kernel runs it on every device
 * open/mknod in the cgroup with a struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
 * u32 minor; } (access in the upper 16 bits of access_type, device type in the lower) and lets
 * the access through when it returns 1 (Documentation/bpf, include/uapi/linux/bpf.h).
 * Loading and attaching it (bpf(2) BPF_PROG_LOAD + BPF_PROG_ATTACH BPF_CGROUP_DEVICE) is the
 * native addon's job; this file only builds and reads the bytes.
 */
import { DeviceEmulator, WILDCARD, type SourcedDeviceRule } from './devices.js';
import { configError } from './errors.js';

/** Opcodes used (class | op | source); see include/uapi/linux/bpf_common.h and bpf.h. */
export const BPF_OP = {
  /** dst = *(u32 *)(src + off) — BPF_LDX | BPF_MEM | BPF_W */
  LDXW: 0x61,
  /** dst32 &= imm — BPF_ALU | BPF_AND | BPF_K */
  AND32_IMM: 0x54,
  /** dst32 >>= imm — BPF_ALU | BPF_RSH | BPF_K */
  RSH32_IMM: 0x74,
  /** dst32 = src32 — BPF_ALU | BPF_MOV | BPF_X */
  MOV32_REG: 0xbc,
  /** dst32 = imm — BPF_ALU | BPF_MOV | BPF_K */
  MOV32_IMM: 0xb4,
  /** if dst != imm goto pc+1+off — BPF_JMP | BPF_JNE | BPF_K */
  JNE_IMM: 0x55,
  /** if dst != src goto pc+1+off — BPF_JMP | BPF_JNE | BPF_X */
  JNE_REG: 0x5d,
  /** return r0 — BPF_JMP | BPF_EXIT */
  EXIT: 0x95,
} as const;

/** bpf_cgroup_dev_ctx access bits (BPF_DEVCG_ACC_*). */
export const BPF_DEVCG_ACC = { MKNOD: 1, READ: 2, WRITE: 4 } as const;
/** bpf_cgroup_dev_ctx device types (BPF_DEVCG_DEV_*). */
export const BPF_DEVCG_DEV = { BLOCK: 1, CHAR: 2 } as const;
/** bpf(2) constants the loader needs. */
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;

/** One decoded instruction. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Encode instructions as the kernel reads them: 8 bytes each, little-endian, dst in the low nibble. */
export function encodeInsns(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    buf.writeUInt8(i.code, n * 8);
    buf.writeUInt8((i.src << 4) | i.dst, n * 8 + 1);
    buf.writeInt16LE(i.off, n * 8 + 2);
    buf.writeInt32LE(i.imm, n * 8 + 4);
  });
  return buf;
}

/** Decode a program buffer back into instructions. @throws RangeError when the length is not a multiple of 8 */
export function decodeInsns(buf: Buffer): BpfInsn[] {
  if (buf.length % 8 !== 0) throw new RangeError(`a BPF program is a multiple of 8 bytes, got ${buf.length}`);
  const out: BpfInsn[] = [];
  for (let p = 0; p < buf.length; p += 8) {
    const regs = buf.readUInt8(p + 1);
    out.push({ code: buf.readUInt8(p), dst: regs & 0xf, src: regs >> 4, off: buf.readInt16LE(p + 2), imm: buf.readInt32LE(p + 4) });
  }
  return out;
}

/** One instruction as text, in the kernel verifier's notation (`r2 = *(u32 *)(r1 +0)`, `if r4 != 0x1 goto pc+3`). */
export function formatInsn(i: BpfInsn): string {
  const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
  switch (i.code) {
    case BPF_OP.LDXW:
      return `r${i.dst} = *(u32 *)(r${i.src} ${i.off >= 0 ? '+' : ''}${i.off})`;
    case BPF_OP.AND32_IMM:
      return `w${i.dst} &= ${hex(i.imm)}`;
    case BPF_OP.RSH32_IMM:
      return `w${i.dst} >>= ${i.imm}`;
    case BPF_OP.MOV32_REG:
      return `w${i.dst} = w${i.src}`;
    case BPF_OP.MOV32_IMM:
      return `w${i.dst} = ${i.imm}`;
    case BPF_OP.JNE_IMM:
      return `if r${i.dst} != ${hex(i.imm)} goto pc${i.off >= 0 ? '+' : ''}${i.off}`;
    case BPF_OP.JNE_REG:
      return `if r${i.dst} != r${i.src} goto pc${i.off >= 0 ? '+' : ''}${i.off}`;
    case BPF_OP.EXIT:
      return 'exit';
    default:
      return `.insn ${hex(i.code)} dst=r${i.dst} src=r${i.src} off=${i.off} imm=${i.imm}`;
  }
}

/** A whole program, one numbered instruction per line. */
export function disassemble(program: Buffer): string {
  return decodeInsns(program)
    .map((i, pc) => `${String(pc).padStart(3)}: ${formatInsn(i)}`)
    .join('\n');
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

/** A compiled device filter, ready for bpf(2) BPF_PROG_LOAD. */
export interface DeviceFilter {
  /** The instructions, 8 bytes each. */
  program: Buffer;
  /** The license string BPF_PROG_LOAD wants (runc uses "Apache"; CGROUP_DEVICE needs no GPL). */
  license: string;
  /** What happens to a device no rule matches. */
  defaultAllow: boolean;
  /** The clean rules compiled, in program order (each is an exception to the default). */
  rules: ReturnType<DeviceEmulator['exceptionRules']>;
}

/** The largest major/minor a 32-bit immediate compares correctly (runc casts to int32 too). */
const MAX_IMM = 0x7fff_ffff;

/**
 * Compile device rules into a BPF_PROG_TYPE_CGROUP_DEVICE program with runc's semantics: the
 * rules are first run through the v1 emulator (so v2 allows exactly what v1 would, including
 * refusing holes punched in wildcards), then each surviving exception becomes a block —
 * type != T → next; (unless rwm) requested access not within A → next; major != M → next;
 * minor != N → next; return allow — and the program ends returning the default.
 *
 * @param rules the container's rule list (deviceRules())
 * @throws CgroupError `ERR_NS_CONFIG` naming the rule a device cgroup cannot represent
 */
export function compileDeviceFilter(rules: readonly SourcedDeviceRule[]): DeviceFilter {
  const emu = DeviceEmulator.fromRules(rules);
  const clean = emu.exceptionRules();
  const insns: BpfInsn[] = [
    // r2 = type (low 16 bits of access_type), r3 = access (high 16 bits), r4 = major, r5 = minor
    insn(BPF_OP.LDXW, 2, 1, 0, 0),
    insn(BPF_OP.AND32_IMM, 2, 0, 0, 0xffff),
    insn(BPF_OP.LDXW, 3, 1, 0, 0),
    insn(BPF_OP.RSH32_IMM, 3, 0, 0, 16),
    insn(BPF_OP.LDXW, 4, 1, 4, 0),
    insn(BPF_OP.LDXW, 5, 1, 8, 0),
  ];
  for (const r of clean) {
    if (r.major > MAX_IMM || r.minor > MAX_IMM) {
      const src = rules.find((s) => s.type === r.type && s.major === r.major && s.minor === r.minor);
      throw configError(src?.jsonPath ?? 'linux.resources.devices', `device number ${r.major}:${r.minor} is too large for a BPF device filter`);
    }
    let bits = 0;
    for (const ch of r.access) bits |= ch === 'r' ? BPF_DEVCG_ACC.READ : ch === 'w' ? BPF_DEVCG_ACC.WRITE : BPF_DEVCG_ACC.MKNOD;
    const jumps: number[] = [];
    const jne = (i: BpfInsn): void => {
      jumps.push(insns.length);
      insns.push(i);
    };
    jne(insn(BPF_OP.JNE_IMM, 2, 0, 0, r.type === 'b' ? BPF_DEVCG_DEV.BLOCK : BPF_DEVCG_DEV.CHAR));
    if (bits !== 7) {
      // r1 = r3 & bits; if r1 != r3 the request holds a bit the rule lacks
      insns.push(insn(BPF_OP.MOV32_REG, 1, 3, 0, 0), insn(BPF_OP.AND32_IMM, 1, 0, 0, bits));
      jne(insn(BPF_OP.JNE_REG, 1, 3, 0, 0));
    }
    if (r.major !== WILDCARD) jne(insn(BPF_OP.JNE_IMM, 4, 0, 0, r.major));
    if (r.minor !== WILDCARD) jne(insn(BPF_OP.JNE_IMM, 5, 0, 0, r.minor));
    insns.push(insn(BPF_OP.MOV32_IMM, 0, 0, 0, r.allow ? 1 : 0), insn(BPF_OP.EXIT, 0, 0, 0, 0));
    for (const at of jumps) insns[at]!.off = insns.length - (at + 1);
  }
  insns.push(insn(BPF_OP.MOV32_IMM, 0, 0, 0, emu.defaultAllow ? 1 : 0), insn(BPF_OP.EXIT, 0, 0, 0, 0));
  return { program: encodeInsns(insns), license: 'Apache', defaultAllow: emu.defaultAllow, rules: clean };
}
