/**
 * Classic BPF for seccomp: the instructions a filter uses (linux/filter.h, linux/bpf_common.h),
 * an assembler with labels that turns far conditional jumps (the 8-bit jt/jf offsets reach 255
 * instructions) into `ja` trampolines, and an interpreter with the kernel's semantics for
 * checking programs without installing them.
 * @see seccomp(2) "Filters", Documentation/networking/filter.rst (classic BPF)
 */

export const BPF_LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
export const BPF_ALU_AND_K = 0x54; // BPF_ALU | BPF_AND | BPF_K
export const BPF_JA = 0x05; // BPF_JMP | BPF_JA
export const BPF_JEQ_K = 0x15;
export const BPF_JGT_K = 0x25;
export const BPF_JGE_K = 0x35;
export const BPF_JSET_K = 0x45;
export const BPF_RET_K = 0x06;
/** The kernel's limit on a filter's length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** Offsets in `struct seccomp_data`: nr, arch, instruction_pointer, args[6] (u64 each). */
export const SECCOMP_DATA = { nr: 0, arch: 4, ip: 8, args: 16 } as const;

/** A label: a position in the program, defined once with {@link Assembler.place}. */
export type Label = number;

interface CondJump {
  kind: 'jump';
  code: number;
  k: number;
  jt: Label;
  jf: Label;
  far: boolean;
}
type Item = { kind: 'insn'; code: number; k: number } | CondJump | { kind: 'ja'; to: Label } | { kind: 'label'; id: Label };

/** One instruction as the kernel reads it (`struct sock_filter`). */
export interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A program being written: straight-line instructions, conditional jumps and gotos to labels. */
export class Assembler {
  private items: Item[] = [];
  private labels = 0;

  /** A new label, to be placed once. */
  label(): Label {
    return this.labels++;
  }

  /** Put `l` at the current position. */
  place(l: Label): void {
    this.items.push({ kind: 'label', id: l });
  }

  /** A new label placed here. */
  here(): Label {
    const l = this.label();
    this.place(l);
    return l;
  }

  /** `A = *(u32 *)(seccomp_data + offset)`. */
  load(offset: number): void {
    this.items.push({ kind: 'insn', code: BPF_LD_W_ABS, k: offset });
  }

  /** `A &= k`. */
  and(k: number): void {
    this.items.push({ kind: 'insn', code: BPF_ALU_AND_K, k: k >>> 0 });
  }

  /** `return k` (a SECCOMP_RET_* value). */
  ret(k: number): void {
    this.items.push({ kind: 'insn', code: BPF_RET_K, k: k >>> 0 });
  }

  /** `if (A <op> k) goto jt; else goto jf` with op one of BPF_JEQ_K, BPF_JGT_K, BPF_JGE_K, BPF_JSET_K. */
  jump(code: number, k: number, jt: Label, jf: Label): void {
    this.items.push({ kind: 'jump', code, k: k >>> 0, jt, jf, far: false });
  }

  /** `goto to` (forward only, as every jump of classic BPF). */
  goto(to: Label): void {
    this.items.push({ kind: 'ja', to });
  }

  /**
   * The finished program. Conditional jumps whose target is more than 255 instructions away
   * become `jcond +0/+1; ja t; ja f`, until every offset fits.
   * @throws Error for a label never placed or a backward jump (a bug of the caller)
   */
  assemble(): Instruction[] {
    const size = (it: Item): number => (it.kind === 'label' ? 0 : it.kind === 'jump' && it.far ? 3 : 1);
    for (;;) {
      const pos = new Map<Label, number>();
      const at: number[] = [];
      let p = 0;
      for (const it of this.items) {
        at.push(p);
        if (it.kind === 'label') pos.set(it.id, p);
        p += size(it);
      }
      let changed = false;
      this.items.forEach((it, i) => {
        if (it.kind !== 'jump' || it.far) return;
        for (const t of [it.jt, it.jf]) {
          const d = this.target(pos, t) - (at[i]! + 1);
          if (d < 0 || d > 255) {
            if (d < 0) throw new Error('seccomp assembler: backward jump');
            it.far = true;
            changed = true;
            return;
          }
        }
      });
      if (changed) continue;
      const out: Instruction[] = [];
      this.items.forEach((it, i) => {
        const next = at[i]! + 1;
        if (it.kind === 'insn') out.push({ code: it.code, jt: 0, jf: 0, k: it.k });
        else if (it.kind === 'ja') out.push({ code: BPF_JA, jt: 0, jf: 0, k: this.target(pos, it.to) - next });
        else if (it.kind === 'jump' && !it.far) out.push({ code: it.code, jt: this.target(pos, it.jt) - next, jf: this.target(pos, it.jf) - next, k: it.k });
        else if (it.kind === 'jump') {
          out.push({ code: it.code, jt: 0, jf: 1, k: it.k });
          out.push({ code: BPF_JA, jt: 0, jf: 0, k: this.target(pos, it.jt) - (next + 1) });
          out.push({ code: BPF_JA, jt: 0, jf: 0, k: this.target(pos, it.jf) - (next + 2) });
        }
      });
      return out;
    }
  }

  private target(pos: Map<Label, number>, l: Label): number {
    const p = pos.get(l);
    if (p === undefined) throw new Error(`seccomp assembler: label ${l} never placed`);
    return p;
  }
}

/** `struct sock_filter[]` as bytes: u16 code, u8 jt, u8 jf, u32 k, little-endian (x86_64 and aarch64). */
export function encodeProgram(program: readonly Instruction[]): Buffer {
  const b = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    b.writeUInt16LE(insn.code, i * 8);
    b.writeUInt8(insn.jt, i * 8 + 2);
    b.writeUInt8(insn.jf, i * 8 + 3);
    b.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return b;
}

/** The instructions of a `struct sock_filter[]` buffer (see {@link encodeProgram}). */
export function decodeProgram(bytes: Uint8Array): Instruction[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  for (let i = 0; i + 8 <= b.length; i += 8) out.push({ code: b.readUInt16LE(i), jt: b[i + 2]!, jf: b[i + 3]!, k: b.readUInt32LE(i + 4) });
  return out;
}

/** What a filter sees of one system call (`struct seccomp_data`). */
export interface SeccompData {
  /** The system call number as the architecture numbers it (x32: with X32_SYSCALL_BIT). */
  nr: number;
  /** AUDIT_ARCH_* value. */
  arch: number;
  /** Up to six arguments, each a 64-bit value; missing ones are 0. */
  args?: readonly (number | bigint)[];
  instructionPointer?: bigint;
}

/**
 * Run `program` on `data` as the kernel does (kernel/seccomp.c, classic BPF interpreter) and
 * return the SECCOMP_RET_* value it gives. With `stats`, `stats.steps` counts the instructions run.
 * @throws Error for an instruction a seccomp filter may not use, or a program that falls off its end
 */
export function runFilter(program: readonly Instruction[], data: SeccompData, stats?: { steps: number }): number {
  const words = new DataView(new ArrayBuffer(64));
  words.setUint32(0, data.nr >>> 0, true);
  words.setUint32(4, data.arch >>> 0, true);
  words.setBigUint64(8, BigInt.asUintN(64, data.instructionPointer ?? 0n), true);
  for (let i = 0; i < 6; i++) words.setBigUint64(16 + 8 * i, BigInt.asUintN(64, BigInt(data.args?.[i] ?? 0)), true);
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc]!;
    if (stats) stats.steps++;
    switch (code) {
      case BPF_LD_W_ABS:
        if (k > 60 || k % 4) throw new Error(`seccomp: load at ${k}`);
        a = words.getUint32(k, true);
        break;
      case BPF_ALU_AND_K:
        a = (a & k) >>> 0;
        break;
      case BPF_JA:
        pc += k;
        break;
      case BPF_JEQ_K:
        pc += a === k >>> 0 ? jt : jf;
        break;
      case BPF_JGT_K:
        pc += a > k >>> 0 ? jt : jf;
        break;
      case BPF_JGE_K:
        pc += a >= k >>> 0 ? jt : jf;
        break;
      case BPF_JSET_K:
        pc += (a & k) !== 0 ? jt : jf;
        break;
      case BPF_RET_K:
        return k >>> 0;
      default:
        throw new Error(`seccomp: instruction 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('seccomp: the program ran off its end');
}

/**
 * A `struct sock_filter[]` buffer as u32 words, two an instruction (`code | jt << 16 | jf << 24`,
 * then `k`): the form @ns/syscalls' `seccomp` plan step carries.
 */
export function filterWords(program: Uint8Array): number[] {
  const b = Buffer.from(program.buffer, program.byteOffset, program.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(b.readUInt32LE(i));
  return out;
}
