/** What a compiled filter answers for one system call, in the spec's words. */
import { AUDIT_ARCH, X32_SYSCALL_BIT, syscallNumber, type Arch } from './arch.js';
import { runFilter, type Instruction } from './bpf.js';
import { SECCOMP_RET } from './profile.js';

/** A SECCOMP_RET_* value read back: the action, and the errno (ERRNO) or data (TRACE). */
export interface Verdict {
  action: 'KILL_PROCESS' | 'KILL_THREAD' | 'TRAP' | 'ERRNO' | 'USER_NOTIF' | 'TRACE' | 'LOG' | 'ALLOW';
  data: number;
}

/** Read a SECCOMP_RET_* value (linux/seccomp.h SECCOMP_RET_ACTION_FULL and SECCOMP_RET_DATA). */
export function readRet(ret: number): Verdict {
  const full = (ret & 0xffff0000) >>> 0;
  const data = ret & 0xffff;
  const names: [number, Verdict['action']][] = [
    [SECCOMP_RET.KILL_PROCESS, 'KILL_PROCESS'],
    [SECCOMP_RET.TRAP, 'TRAP'],
    [SECCOMP_RET.ERRNO, 'ERRNO'],
    [SECCOMP_RET.USER_NOTIF, 'USER_NOTIF'],
    [SECCOMP_RET.TRACE, 'TRACE'],
    [SECCOMP_RET.LOG, 'LOG'],
    [SECCOMP_RET.ALLOW, 'ALLOW'],
  ];
  return { action: names.find(([v]) => v === full)?.[1] ?? 'KILL_THREAD', data };
}

/**
 * What `program` does with system call `call` (a name, or a number as the architecture numbers
 * it, x32 without X32_SYSCALL_BIT) on `arch`, with `args` (default all 0): run in the BPF
 * interpreter, as the kernel would.
 * @throws Error for a name `arch` does not have
 */
export function filterVerdict(program: readonly Instruction[], arch: Arch, call: string | number, args: readonly (number | bigint)[] = []): Verdict {
  let nr = typeof call === 'number' ? (arch === 'x32' ? (call | X32_SYSCALL_BIT) >>> 0 : call) : syscallNumber(arch, call);
  if (nr === undefined) throw new Error(`no system call ${call} on ${arch}`);
  return readRet(runFilter(program, { nr, arch: AUDIT_ARCH[arch], args }));
}
