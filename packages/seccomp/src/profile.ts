/**
 * The OCI `linux.seccomp` object (runtime-spec config-linux.md "Seccomp"; Go bindings
 * `specs-go/config.go` LinuxSeccomp), its vocabulary (actions, operators, flags) and the
 * check of a profile at the edge: every problem is an error naming its JSON path.
 */
import { OCI_ARCHES } from './arch.js';
import { fail } from './errors.js';

/** One argument condition: `args[index] <op> value` (MASKED_EQ: `(args[index] & value) == valueTwo`). */
export interface LinuxSeccompArg {
  /** The argument, 0..5. */
  index: number;
  /** A 64-bit unsigned value (a JSON number, or a bigint for values past 2^53). */
  value: number | bigint;
  /** MASKED_EQ's expected value after masking; 0 when left out. */
  valueTwo?: number | bigint;
  /** SCMP_CMP_NE, LT, LE, EQ, GE, GT or MASKED_EQ. */
  op: string;
}

/** One rule group: every name gets `action` when every condition of `args` holds. */
export interface LinuxSyscall {
  names: string[];
  action: string;
  /** The errno of SCMP_ACT_ERRNO (default EPERM), the message of SCMP_ACT_TRACE (default EPERM). */
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** OCI `linux.seccomp`. */
export interface LinuxSeccomp {
  defaultAction: string;
  /** The errno of a default action SCMP_ACT_ERRNO or SCMP_ACT_TRACE (default EPERM). */
  defaultErrnoRet?: number;
  /** SCMP_ARCH_* names; the native one only when left out or empty. */
  architectures?: string[];
  /** SECCOMP_FILTER_FLAG_* names for seccomp(2). */
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

/** SECCOMP_RET_* values (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** The spec's actions and the SECCOMP_RET_* value of each (SCMP_ACT_KILL is libseccomp's KILL_THREAD). */
export const ACTIONS: Readonly<Record<string, number>> = {
  SCMP_ACT_KILL: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_THREAD: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: SECCOMP_RET.KILL_PROCESS,
  SCMP_ACT_TRAP: SECCOMP_RET.TRAP,
  SCMP_ACT_ERRNO: SECCOMP_RET.ERRNO,
  SCMP_ACT_TRACE: SECCOMP_RET.TRACE,
  SCMP_ACT_ALLOW: SECCOMP_RET.ALLOW,
  SCMP_ACT_LOG: SECCOMP_RET.LOG,
  SCMP_ACT_NOTIFY: SECCOMP_RET.USER_NOTIF,
};

/** The spec's comparison operators. */
export const OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
export type Op = (typeof OPS)[number];

/** SECCOMP_FILTER_FLAG_* bits (linux/seccomp.h) of the flags the spec lists. */
export const FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  // Meaningful with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) only: see compile.ts.
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

const EPERM = 1;
/** The kernel caps an errno at MAX_ERRNO (include/linux/err.h). */
const MAX_ERRNO = 4095;
const U64_MAX = (1n << 64n) - 1n;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (typeof v === 'bigint' ? `${v}n` : Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? 'object' : String(v));

function stringList(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) fail(path, `expected an array of strings, received ${show(v)}`);
  v.forEach((s, i) => {
    if (typeof s !== 'string') fail(`${path}[${i}]`, `expected a string, received ${show(s)}`);
  });
  return v as string[];
}

function errnoValue(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, `expected an integer errno, received ${show(v)}`);
  if (v < 0 || v > MAX_ERRNO) fail(path, `expected an errno from 0 to ${MAX_ERRNO}, received ${v}`);
  return v;
}

/** A 64-bit unsigned argument value. */
function u64(v: unknown, path: string): bigint {
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) fail(path, `expected an unsigned 64-bit integer, received ${show(v)}`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(path, `expected a non-negative integer, received ${show(v)}`);
  // JSON numbers past 2^53 are rounded; 2^64 is what 18446744073709551615 becomes.
  const b = BigInt(v);
  if (b > U64_MAX + 1n) fail(path, `expected an unsigned 64-bit integer, received ${v}`);
  return b > U64_MAX ? U64_MAX : b;
}

function action(name: unknown, path: string): string {
  if (typeof name !== 'string') fail(path, `expected an action name, received ${show(name)}`);
  if (!(name in ACTIONS)) fail(path, `unknown action ${JSON.stringify(name)} (expected one of ${Object.keys(ACTIONS).join(', ')})`);
  return name;
}

/** A checked argument condition, values as bigints. */
export interface ArgCondition {
  index: number;
  op: Op;
  value: bigint;
  valueTwo: bigint;
}

/** A checked rule group: its action as a SECCOMP_RET_* value with the errno or trace data. */
export interface CheckedSyscall {
  names: string[];
  action: string;
  ret: number;
  args: ArgCondition[];
  /** Its JSON path, for messages. */
  path: string;
}

/** A profile as {@link checkProfile} returns it. */
export interface CheckedProfile {
  defaultAction: string;
  defaultRet: number;
  architectures: string[];
  flags: number;
  flagNames: string[];
  syscalls: CheckedSyscall[];
}

/** The SECCOMP_RET_* value of an action, with the errno of ERRNO or the data of TRACE. */
export function actionValue(name: string, errnoRet: number | undefined): number {
  const base = ACTIONS[name]!;
  if (name === 'SCMP_ACT_ERRNO' || name === 'SCMP_ACT_TRACE') return (base | (errnoRet ?? EPERM)) >>> 0;
  return base;
}

/**
 * Check an OCI `linux.seccomp` object and return it in a form the compiler uses.
 *
 * @param value the object (parsed JSON; argument values may be bigints)
 * @param path the JSON path of the object in messages (default `linux.seccomp`)
 * @throws SeccompError `ERR_NS_CONFIG` naming the field: a missing or unknown `defaultAction`,
 *   an unknown action (`linux.seccomp.syscalls[3].action`), operator, architecture or flag, a
 *   string where a list is expected, an errnoRet that is not an integer 0..4095, an argument
 *   index outside 0..5, more than 6 args, an empty `names`; SCMP_ACT_NOTIFY as the default
 *   action, for `write`, or without `listenerPath` (runc's rules).
 * @see OCI runtime-spec config-linux.md "Seccomp", seccomp(2)
 */
export function checkProfile(value: unknown, path = 'linux.seccomp'): CheckedProfile {
  if (!isObject(value)) fail(path, `expected an object, received ${show(value)}`);
  if (value.defaultAction === undefined) fail(`${path}.defaultAction`, 'missing, expected an action (SCMP_ACT_ERRNO, SCMP_ACT_ALLOW ...)');
  const defaultAction = action(value.defaultAction, `${path}.defaultAction`);
  // runc's rule: every call the process makes would wait for the listener, the set-up's too.
  if (defaultAction === 'SCMP_ACT_NOTIFY') fail(`${path}.defaultAction`, 'SCMP_ACT_NOTIFY cannot be used as default action (as runc)');
  const defaultErrno = value.defaultErrnoRet === undefined ? undefined : errnoValue(value.defaultErrnoRet, `${path}.defaultErrnoRet`);
  const architectures = value.architectures === undefined || value.architectures === null ? [] : stringList(value.architectures, `${path}.architectures`);
  architectures.forEach((a, i) => {
    if (!(a in OCI_ARCHES)) fail(`${path}.architectures[${i}]`, `unknown architecture ${JSON.stringify(a)} (expected SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM ...)`);
  });
  const flagNames = value.flags === undefined || value.flags === null ? [] : stringList(value.flags, `${path}.flags`);
  let flags = 0;
  flagNames.forEach((f, i) => {
    if (!(f in FLAGS)) fail(`${path}.flags[${i}]`, `unknown flag ${JSON.stringify(f)} (expected one of ${Object.keys(FLAGS).join(', ')})`);
    flags |= FLAGS[f]!;
  });
  if (value.listenerPath !== undefined && typeof value.listenerPath !== 'string') fail(`${path}.listenerPath`, `expected a string, received ${show(value.listenerPath)}`);
  if (value.listenerMetadata !== undefined && typeof value.listenerMetadata !== 'string') fail(`${path}.listenerMetadata`, `expected a string, received ${show(value.listenerMetadata)}`);
  const list = value.syscalls === undefined || value.syscalls === null ? [] : value.syscalls;
  if (!Array.isArray(list)) fail(`${path}.syscalls`, `expected an array, received ${show(list)}`);
  const syscalls = list.map((s: unknown, i): CheckedSyscall => {
    const at = `${path}.syscalls[${i}]`;
    if (!isObject(s)) fail(at, `expected an object, received ${show(s)}`);
    const names = stringList(s.names, `${at}.names`);
    if (names.length === 0) fail(`${at}.names`, 'expected at least one system call name');
    names.forEach((n, j) => {
      if (n === '') fail(`${at}.names[${j}]`, 'expected a system call name, received ""');
    });
    const act = action(s.action, `${at}.action`);
    const errno = s.errnoRet === undefined ? undefined : errnoValue(s.errnoRet, `${at}.errnoRet`);
    const rawArgs = s.args === undefined || s.args === null ? [] : s.args;
    if (!Array.isArray(rawArgs)) fail(`${at}.args`, `expected an array, received ${show(rawArgs)}`);
    if (rawArgs.length > 6) fail(`${at}.args`, `at most 6 argument conditions (a system call has 6 arguments), received ${rawArgs.length}`);
    const args = rawArgs.map((a: unknown, j): ArgCondition => {
      const ap = `${at}.args[${j}]`;
      if (!isObject(a)) fail(ap, `expected an object, received ${show(a)}`);
      if (typeof a.index !== 'number' || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) fail(`${ap}.index`, `expected an argument index 0..5, received ${show(a.index)}`);
      if (typeof a.op !== 'string' || !(OPS as readonly string[]).includes(a.op)) fail(`${ap}.op`, `unknown operator ${show(a.op)} (expected one of ${OPS.join(', ')})`);
      if (a.value === undefined) fail(`${ap}.value`, 'missing, expected an unsigned 64-bit integer');
      return { index: a.index, op: a.op as Op, value: u64(a.value, `${ap}.value`), valueTwo: a.valueTwo === undefined ? 0n : u64(a.valueTwo, `${ap}.valueTwo`) };
    });
    return { names, action: act, ret: actionValue(act, errno), args, path: at };
  });
  if (syscalls.some((s) => s.action === 'SCMP_ACT_NOTIFY')) {
    if (value.listenerPath === undefined || value.listenerPath === '') {
      fail(`${path}.listenerPath`, 'missing: SCMP_ACT_NOTIFY needs a seccomp agent listening at listenerPath (a unix socket) to answer the calls; nothing was started');
    }
    syscalls.forEach((s) => {
      // runc's rule: the set-up writes the listener's number to its parent after installing the filter.
      if (s.action === 'SCMP_ACT_NOTIFY' && s.names.includes('write')) fail(`${s.path}.names`, 'SCMP_ACT_NOTIFY cannot be used for the write syscall (as runc): the set-up process writes to its parent under the filter');
    });
  }
  return { defaultAction, defaultRet: actionValue(defaultAction, defaultErrno), architectures, flags, flagNames, syscalls };
}

/**
 * Whether a profile has SCMP_ACT_NOTIFY rules: its filter is then installed with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER and the listener handed to the agent at `listenerPath`.
 * @param profile a profile {@link checkProfile} accepts
 */
export function usesNotify(profile: Pick<LinuxSeccomp, 'defaultAction' | 'syscalls'>): boolean {
  return profile.defaultAction === 'SCMP_ACT_NOTIFY' || (profile.syscalls ?? []).some((s) => s.action === 'SCMP_ACT_NOTIFY');
}
