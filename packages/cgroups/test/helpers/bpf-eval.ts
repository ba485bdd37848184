/**
 * A tiny interpreter of the eBPF subset a device filter uses (ldxw, alu32 and/rsh/mov, jne
 * imm/reg, exit), to check compiled programs without loading them. Registers are 64-bit
 * (BigInt); 32-bit ALU ops zero-extend as the kernel does; JMP compares the full 64 bits
 * against the sign-extended immediate.
 */
import { BPF_OP, decodeInsns } from '../../src/bpf.js';

const MASK64 = (1n << 64n) - 1n;
const MASK32 = (1n << 32n) - 1n;

/** Run `program` on a bpf_cgroup_dev_ctx; returns r0. Throws on an unknown opcode or a runaway program. */
export function runDeviceFilter(program: Buffer, ctx: { type: number; access: number; major: number; minor: number }): number {
  const insns = decodeInsns(program);
  const mem = Buffer.alloc(12);
  mem.writeUInt32LE(((ctx.access << 16) | ctx.type) >>> 0, 0);
  mem.writeUInt32LE(ctx.major >>> 0, 4);
  mem.writeUInt32LE(ctx.minor >>> 0, 8);
  const r = new Array<bigint>(11).fill(0n);
  const imm64 = (imm: number): bigint => BigInt.asUintN(64, BigInt(imm));
  for (let pc = 0, steps = 0; pc < insns.length; pc++, steps++) {
    if (steps > 4096) throw new Error('runaway program');
    const i = insns[pc]!;
    switch (i.code) {
      case BPF_OP.LDXW:
        if (i.src !== 1 || i.off < 0 || i.off + 4 > 12) throw new Error(`bad context load at pc ${pc}`);
        r[i.dst] = BigInt(mem.readUInt32LE(i.off));
        break;
      case BPF_OP.AND32_IMM:
        r[i.dst] = (r[i.dst]! & MASK32) & (imm64(i.imm) & MASK32);
        break;
      case BPF_OP.RSH32_IMM:
        r[i.dst] = (r[i.dst]! & MASK32) >> BigInt(i.imm);
        break;
      case BPF_OP.MOV32_REG:
        r[i.dst] = r[i.src]! & MASK32;
        break;
      case BPF_OP.MOV32_IMM:
        r[i.dst] = imm64(i.imm) & MASK32;
        break;
      case BPF_OP.JNE_IMM:
        if ((r[i.dst]! & MASK64) !== imm64(i.imm)) pc += i.off;
        break;
      case BPF_OP.JNE_REG:
        if (r[i.dst] !== r[i.src]) pc += i.off;
        break;
      case BPF_OP.EXIT:
        return Number(r[0]);
      default:
        throw new Error(`opcode 0x${i.code.toString(16)} at pc ${pc} is not in the device-filter subset`);
    }
    if (pc + 1 < 0 || pc + 1 > insns.length) throw new Error(`jump out of the program at pc ${pc}`);
  }
  throw new Error('fell off the end of the program (no exit)');
}
