/**
 * The compiler: a checked OCI profile to a seccomp classic-BPF program, laid out as libseccomp
 * lays it out and runc patches it:
 *
 * 1. the architecture check (`seccomp_data.arch`), the native architecture always included as
 *    libseccomp's seccomp_init() does; any other architecture ends the process (bad arch:
 *    SECCOMP_RET_KILL_PROCESS);
 * 2. on x86_64, numbers with __X32_SYSCALL_BIT go to the x32 rules, or end the process when
 *    x32 is not listed;
 * 3. numbers above the highest one the profile names for the architecture return ENOSYS (runc's
 *    patchbpf stub): a system call newer than the profile fails as if the kernel lacked it, so
 *    that the C library falls back to an older one, instead of the default action's EPERM;
 * 4. a binary search over the numbers that have rules (libseccomp's optimize level 2), a leaf
 *    per system call: its argument rules in profile order, then its unconditional action or the
 *    default action.
 * @see seccomp(2), OCI runtime-spec config-linux.md "Seccomp"
 */
import { AUDIT_ARCH, ARGS_32BIT, KERNEL_ARCHES, OCI_ARCHES, X32_SYSCALL_BIT, hostArch, syscallNumber, type Arch } from './arch.js';
import { Assembler, BPF_JEQ_K, BPF_JGE_K, BPF_JGT_K, BPF_MAXINSNS, SECCOMP_DATA, encodeProgram, type Instruction, type Label } from './bpf.js';
import { fail } from './errors.js';
import { SECCOMP_RET, checkProfile, type ArgCondition, type CheckedProfile } from './profile.js';
import { describeProfile } from './describe.js';

const ENOSYS = 38;

/** A rule of one system call on one architecture: `ret` when every condition holds. */
interface Rule {
  ret: number;
  conds: ArgCondition[];
}

/** One architecture's part of the filter. */
export interface ArchRules {
  arch: Arch;
  /** System call number -> its rules: conditional ones in order, then `fallback`. */
  calls: Map<number, { rules: Rule[]; fallback: number }>;
  /** The highest number the profile names here (numbers above it return ENOSYS), or undefined for no stub. */
  enosysAbove?: number;
}

/** What {@link compileSeccomp} returns. */
export interface CompiledSeccomp {
  /** `struct sock_filter[]`, 8 bytes an instruction, as seccomp(2) SECCOMP_SET_MODE_FILTER takes it. */
  program: Buffer;
  /** The same program, decoded. */
  instructions: Instruction[];
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
  /** The architectures the filter has rules for, native first. */
  arches: Arch[];
  /** A readable account of the filter: defaults, then one line per rule group (for `ns run --dry-run`). */
  rules: string[];
}

export interface CompileOptions {
  /** The kernel's native architecture (default: this process's). */
  native?: 'x86_64' | 'aarch64';
  /** JSON path of the profile in messages (default `linux.seccomp`). */
  path?: string;
}

/** The architectures of the filter: the native one, then the listed ones this kernel runs. */
function filterArches(p: CheckedProfile, native: 'x86_64' | 'aarch64'): Arch[] {
  const runnable = KERNEL_ARCHES[native];
  const out: Arch[] = [native];
  for (const name of p.architectures) {
    const a = OCI_ARCHES[name];
    if (a && runnable.includes(a) && !out.includes(a)) out.push(a);
  }
  return out;
}

/** Whether runc's ENOSYS stub applies: not for a default that allows, nor one that already says ENOSYS. */
function wantsEnosys(p: CheckedProfile): boolean {
  return p.defaultRet !== SECCOMP_RET.ALLOW && p.defaultRet !== SECCOMP_RET.LOG && p.defaultRet !== ((SECCOMP_RET.ERRNO | ENOSYS) >>> 0);
}

/**
 * The rules of one architecture: system call names resolved (names it does not have skipped,
 * as runc does), rules with the default action left out (runc: libseccomp refuses them), a
 * group whose args name one index twice split into one rule per condition (runc: libseccomp
 * ANDs conditions on distinct arguments only).
 */
export function archRules(p: CheckedProfile, arch: Arch): ArchRules {
  const lists = new Map<number, Rule[]>();
  let highest: number | undefined;
  for (const s of p.syscalls) {
    for (const name of s.names) {
      const nr = syscallNumber(arch, name);
      if (nr === undefined) continue;
      highest = highest === undefined ? nr : Math.max(highest, nr);
      if (s.ret === p.defaultRet) continue;
      const twice = new Set(s.args.map((a) => a.index)).size < s.args.length;
      const rules = twice ? s.args.map((c) => ({ ret: s.ret, conds: [c] })) : [{ ret: s.ret, conds: s.args }];
      const list = lists.get(nr) ?? [];
      list.push(...rules);
      lists.set(nr, list);
    }
  }
  const calls = new Map<number, { rules: Rule[]; fallback: number }>();
  for (const [nr, list] of lists) {
    const fallback = list.find((r) => r.conds.length === 0)?.ret ?? p.defaultRet;
    const rules = list.filter((r) => r.conds.length > 0 && r.ret !== fallback);
    if (rules.length === 0 && fallback === p.defaultRet) continue;
    calls.set(nr, { rules, fallback });
  }
  const out: ArchRules = { arch, calls };
  if (wantsEnosys(p) && highest !== undefined) out.enosysAbove = highest;
  return out;
}

/** Code for one condition: falls through to the next instruction when it holds, else goes to `no`. */
function condition(asm: Assembler, c: ArgCondition, only32: boolean, no: Label): void {
  const lo = SECCOMP_DATA.args + 8 * c.index;
  const hi = lo + 4;
  const masked = c.op === 'SCMP_CMP_MASKED_EQ';
  // MASKED_EQ: (arg & value) == valueTwo, word by word.
  const v = masked ? c.valueTwo : c.value;
  const vHi = Number((v >> 32n) & 0xffffffffn);
  const vLo = Number(v & 0xffffffffn);
  const mHi = Number((c.value >> 32n) & 0xffffffffn);
  const mLo = Number(c.value & 0xffffffffn);
  const yes = asm.label();
  // The high word decides unless equal; then the low word does.
  if (!only32) {
    const next = asm.label();
    asm.load(hi);
    switch (c.op) {
      case 'SCMP_CMP_EQ':
        asm.jump(BPF_JEQ_K, vHi, next, no);
        break;
      case 'SCMP_CMP_NE':
        asm.jump(BPF_JEQ_K, vHi, next, yes);
        break;
      case 'SCMP_CMP_MASKED_EQ':
        asm.and(mHi);
        asm.jump(BPF_JEQ_K, vHi, next, no);
        break;
      case 'SCMP_CMP_GT':
      case 'SCMP_CMP_GE': {
        const eq = asm.label();
        asm.jump(BPF_JGT_K, vHi, yes, eq);
        asm.place(eq);
        asm.jump(BPF_JEQ_K, vHi, next, no);
        break;
      }
      case 'SCMP_CMP_LT':
      case 'SCMP_CMP_LE': {
        const eq = asm.label();
        asm.jump(BPF_JGT_K, vHi, no, eq);
        asm.place(eq);
        asm.jump(BPF_JEQ_K, vHi, next, yes);
        break;
      }
    }
    asm.place(next);
  }
  asm.load(lo);
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      asm.jump(BPF_JEQ_K, vLo, yes, no);
      break;
    case 'SCMP_CMP_NE':
      asm.jump(BPF_JEQ_K, vLo, no, yes);
      break;
    case 'SCMP_CMP_MASKED_EQ':
      asm.and(mLo);
      asm.jump(BPF_JEQ_K, vLo, yes, no);
      break;
    case 'SCMP_CMP_GT':
      asm.jump(BPF_JGT_K, vLo, yes, no);
      break;
    case 'SCMP_CMP_GE':
      asm.jump(BPF_JGE_K, vLo, yes, no);
      break;
    case 'SCMP_CMP_LT':
      asm.jump(BPF_JGE_K, vLo, no, yes);
      break;
    case 'SCMP_CMP_LE':
      asm.jump(BPF_JGT_K, vLo, no, yes);
      break;
  }
  asm.place(yes);
}

/** The leaf of one system call: its argument rules in order, then its fallback. */
function leaf(asm: Assembler, call: { rules: Rule[]; fallback: number }, only32: boolean): void {
  for (const r of call.rules) {
    const no = asm.label();
    for (const c of r.conds) condition(asm, c, only32, no);
    asm.ret(r.ret);
    asm.place(no);
  }
  asm.ret(call.fallback);
}

/** The search over one architecture's numbers (the number is in A); then the leaves. */
function archCode(asm: Assembler, r: ArchRules, defaultRet: number): void {
  if (r.enosysAbove !== undefined) {
    const enosys = asm.label();
    const go = asm.label();
    asm.jump(BPF_JGT_K, r.enosysAbove, enosys, go);
    asm.place(enosys);
    asm.ret((SECCOMP_RET.ERRNO | ENOSYS) >>> 0);
    asm.place(go);
  }
  const nrs = [...r.calls.keys()].sort((a, b) => a - b);
  const only32 = ARGS_32BIT[r.arch];
  // A leaf of up to 4 numbers: the compares, the default, then the returns they jump to (one
  // per distinct action) and the argument rules: every jump stays short.
  const chunk = (lo: number, hi: number): void => {
    const rets = new Map<number, Label>();
    const args: [Label, number][] = [];
    for (let i = lo; i < hi; i++) {
      const call = r.calls.get(nrs[i]!)!;
      let at: Label;
      if (call.rules.length === 0) {
        at = rets.get(call.fallback) ?? asm.label();
        rets.set(call.fallback, at);
      } else {
        at = asm.label();
        args.push([at, nrs[i]!]);
      }
      const next = asm.label();
      asm.jump(BPF_JEQ_K, nrs[i]!, at, next);
      asm.place(next);
    }
    asm.ret(defaultRet);
    for (const [ret, at] of rets) {
      asm.place(at);
      asm.ret(ret);
    }
    for (const [at, nr] of args) {
      asm.place(at);
      leaf(asm, r.calls.get(nr)!, only32);
    }
  };
  const search = (lo: number, hi: number): void => {
    if (hi - lo <= 4) return chunk(lo, hi);
    const mid = (lo + hi) >> 1;
    const right = asm.label();
    const left = asm.label();
    asm.jump(BPF_JGE_K, nrs[mid]!, right, left);
    asm.place(left);
    search(lo, mid);
    asm.place(right);
    search(mid, hi);
  };
  search(0, nrs.length);
}

/**
 * Compile an OCI `linux.seccomp` profile into a seccomp filter for this kernel's architectures.
 *
 * @param profile the `linux.seccomp` object (checked here: see checkProfile)
 * @param options `native`: the kernel architecture (default this process's); `path`: the JSON
 *   path in messages (default `linux.seccomp`)
 * @returns the program (`struct sock_filter[]` bytes), its SECCOMP_FILTER_FLAG_* flags and a
 *   readable account of its rules
 * @throws SeccompError `ERR_NS_CONFIG` naming the field of a bad profile, or the profile when
 *   its program would be longer than the kernel's 4096 instructions (BPF_MAXINSNS)
 * @see seccomp(2) SECCOMP_SET_MODE_FILTER, OCI runtime-spec config-linux.md "Seccomp"
 */
export function compileSeccomp(profile: unknown, options: CompileOptions = {}): CompiledSeccomp {
  const path = options.path ?? 'linux.seccomp';
  const p = checkProfile(profile, path);
  const native = options.native ?? hostArch();
  const arches = filterArches(p, native);
  const rules = arches.map((a) => archRules(p, a));
  const asm = new Assembler();
  const badArch = SECCOMP_RET.KILL_PROCESS;
  // Group by arch value: x86_64 and x32 share AUDIT_ARCH_X86_64.
  const groups = new Map<number, ArchRules[]>();
  for (const r of rules) groups.set(AUDIT_ARCH[r.arch], [...(groups.get(AUDIT_ARCH[r.arch]) ?? []), r]);
  asm.load(SECCOMP_DATA.arch);
  const entry = new Map<number, Label>();
  for (const value of groups.keys()) {
    const at = asm.label();
    const next = asm.label();
    entry.set(value, at);
    asm.jump(BPF_JEQ_K, value, at, next);
    asm.place(next);
  }
  asm.ret(badArch);
  for (const [value, group] of groups) {
    asm.place(entry.get(value)!);
    asm.load(SECCOMP_DATA.nr);
    const main = group.find((r) => r.arch !== 'x32');
    const x32 = group.find((r) => r.arch === 'x32');
    if (value === AUDIT_ARCH.x86_64) {
      const high = asm.label();
      const low = asm.label();
      asm.jump(BPF_JGE_K, X32_SYSCALL_BIT, high, low);
      asm.place(high);
      // -1: a tracer skipped the call; nothing runs, the default action answers.
      const notSkip = asm.label();
      const skip = asm.label();
      asm.jump(BPF_JEQ_K, 0xffffffff, skip, notSkip);
      asm.place(skip);
      asm.ret(p.defaultRet);
      asm.place(notSkip);
      if (x32) archCode(asm, x32, p.defaultRet);
      else asm.ret(badArch);
      asm.place(low);
    }
    if (main) archCode(asm, main, p.defaultRet);
    else asm.ret(badArch);
  }
  const instructions = asm.assemble();
  if (instructions.length > BPF_MAXINSNS) {
    fail(path, `the compiled filter has ${instructions.length} instructions, more than the kernel takes (${BPF_MAXINSNS}, BPF_MAXINSNS)`);
  }
  // WAIT_KILLABLE_RECV only means something with a listener (NEW_LISTENER: a profile with
  // SCMP_ACT_NOTIFY rules); the kernel refuses it alone (EINVAL).
  const notify = p.syscalls.some((s) => s.action === 'SCMP_ACT_NOTIFY');
  const flags = notify ? p.flags : p.flags & ~32;
  return { program: encodeProgram(instructions), instructions, flags, arches, rules: describeProfile(p, arches, instructions.length) };
}
