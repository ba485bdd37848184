/**
 * The seccomp step of a plan: the container's profile (`'default'`: moby's, for the process's
 * bounding set) compiled by @ns/seccomp, kept per profile, and placed as runc places it:
 *
 * - with no_new_privs, as late as possible: right before the execve, so that the set-up calls
 *   need not be allowed by the profile (runc's standard_init_linux.go, second InitSeccomp);
 * - without, before the capabilities are dropped, while ns-init still has CAP_SYS_ADMIN
 *   (seccomp(2) needs one of the two): then what ns-init does after it (setresuid, capset ...)
 *   must be allowed, and a profile that denies it is refused here, naming the call.
 *
 * A profile that denies execve itself starts nothing.
 *
 * A profile with SCMP_ACT_NOTIFY rules becomes a `seccompNotify` step: the filter is installed
 * with a listener, which the parent takes at that step and hands to the seccomp agent at
 * `listenerPath` (container/seccomp-listener.ts). For a created container it goes in before
 * the process detaches (runc installs it before waiting on exec.fifo), while the parent still
 * listens.
 */
import { CAPABILITIES } from '@ns/capabilities';
import { compileSeccomp, defaultProfile, filterVerdict, filterWords, hostArch, usesNotify, type CompiledSeccomp, type LinuxSeccomp } from '@ns/seccomp';
import { configError, type Step } from '@ns/syscalls';
import { asConfigError, type SeccompConfig } from '../config/seccomp.js';

/** A compiled profile, with what the plan step carries and the calls already checked against it. */
interface Kept {
  compiled: CompiledSeccomp;
  words: number[];
  allowed: Set<string>;
  /** The profile has SCMP_ACT_NOTIFY rules. */
  notify: boolean;
}

/** The name of the sync step at which the parent takes the seccomp listener (a `seccompNotify` step). */
export const SECCOMP_LISTENER_SYNC = 'seccomp-listener';

/** SECCOMP_FILTER_FLAG_TSYNC: refused with NEW_LISTENER (and of no use: ns-init has one thread). */
const FLAG_TSYNC = 1;

/** The calls ns-init makes at a `seccompNotify` step after installing the filter (the sync with the parent). */
const NOTIFY_CALLS = ['write', 'read', 'close'];

/** Compiled profiles by profile (the default one by bounding set), most recently used last. */
const compiled = new Map<string, Kept>();
const CACHE_SIZE = 16;

/** The names of the capabilities in `mask` (a bounding set). */
function capabilityNames(mask: bigint): string[] {
  return CAPABILITIES.filter((c) => (mask >> BigInt(c.value)) & 1n).map((c) => c.name);
}

/**
 * The OCI profile of a container: its own, or the default one for `bounding`.
 * @param bounding the process's bounding set (a capability mask)
 */
export function resolveSeccomp(seccomp: SeccompConfig, bounding: bigint): LinuxSeccomp {
  return seccomp === 'default' ? defaultProfile({ capabilities: capabilityNames(bounding) }) : seccomp;
}

/** compileSeccomp() of a profile (`'default'`: for `bounding`), kept: a profile started again is not compiled again. */
function kept(seccomp: SeccompConfig, bounding: bigint, field: string): Kept {
  const key = seccomp === 'default' ? `default ${bounding}` : JSON.stringify(seccomp, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  const hit = compiled.get(key);
  if (hit) {
    compiled.delete(key);
    compiled.set(key, hit);
    return hit;
  }
  let c: CompiledSeccomp;
  try {
    c = compileSeccomp(resolveSeccomp(seccomp, bounding), { path: field });
  } catch (err) {
    throw asConfigError(err);
  }
  const out: Kept = { compiled: c, words: filterWords(c.program), allowed: new Set(), notify: seccomp !== 'default' && usesNotify(seccomp) };
  compiled.set(key, out);
  if (compiled.size > CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
  return out;
}

/**
 * compileSeccomp() of a profile, kept (see {@link kept}).
 * @throws NsError `ERR_NS_CONFIG` naming the field (path under `field`)
 */
export function compiledSeccomp(profile: LinuxSeccomp, field: string): CompiledSeccomp {
  return kept(profile, 0n, field).compiled;
}

/** The system calls ns-init makes for each step after the filter is in place (x86_64/aarch64 names). */
const STEP_CALLS: Partial<Record<Step['op'], string[]>> = {
  capbsetDrop: ['prctl'],
  ambientRaise: ['prctl'],
  prctl: ['prctl'],
  capset: ['capset'],
  setgroups: ['setgroups'],
  setresgid: ['setresgid'],
  setresuid: ['setresuid'],
  chdir: ['chdir'],
  execCheck: ['faccessat2'],
  closeFrom: ['close_range'],
  detach: ['write', 'close_range'],
  waitFifo: ['fstat', 'openat', 'write', 'close'],
  execve: ['execve'],
};

/**
 * The `seccomp` step for `seccomp`, after checking that the filter lets ns-init finish: each
 * system call the `after` steps make, with arguments 0, must be allowed (or logged).
 * @param seccomp the container's profile; `field` its JSON path in messages
 * @param bounding the process's bounding set (for `'default'`)
 * @param after the steps ns-init runs once the filter is installed, the execve last
 * @throws NsError `ERR_NS_CONFIG` for a bad profile (naming the field), or one that denies
 *   execve or another call ns-init makes after installing it
 */
export function seccompStep(seccomp: SeccompConfig, bounding: bigint, after: readonly Step[], field = 'seccomp'): Step {
  const k = kept(seccomp, bounding, field);
  // execve first: a profile that denies it is told so, whatever else it denies.
  const own = k.notify ? NOTIFY_CALLS : [];
  const calls = [...new Set(['execve', ...own, ...after.flatMap((s) => STEP_CALLS[s.op] ?? [])])].filter((call) => !k.allowed.has(call));
  checkCalls(k.compiled, calls, field);
  for (const call of calls) k.allowed.add(call);
  if (k.notify) return { op: 'seccompNotify', flags: k.compiled.flags & ~FLAG_TSYNC, filter: k.words, rules: k.compiled.rules, name: SECCOMP_LISTENER_SYNC };
  return { op: 'seccomp', flags: k.compiled.flags, filter: k.words, rules: k.compiled.rules };
}

/** Whether a container's profile has SCMP_ACT_NOTIFY rules (its filter then needs the agent at `listenerPath`). */
export function seccompNotifies(seccomp: SeccompConfig | undefined): seccomp is LinuxSeccomp {
  return seccomp !== undefined && seccomp !== 'default' && usesNotify(seccomp);
}

/**
 * Calls ns-init makes with a fallback: when the filter fails the first with one of `errnos`,
 * ns-init makes the calls `then` instead (proc.cc access_exec: faccessat2 -> faccessat on
 * EPERM or ENOSYS, as Go's exec.LookPath does), so that a container starts under a profile
 * older than these calls, as with runc (runtime-tools' `oci-runtime-tool generate` default
 * profile has neither faccessat2 nor close_range, and fails what it lacks with EPERM).
 */
const FALLBACKS: Record<string, { errnos: readonly number[]; then: readonly string[] }> = {
  faccessat2: { errnos: [1 /* EPERM */, 38 /* ENOSYS */], then: ['faccessat'] },
  // proc.cc ns_do_close_from: FD_CLOEXEC one descriptor at a time below RLIMIT_NOFILE;
  // run.cc close_range() (the detach step): close(2) one at a time.
  close_range: { errnos: [1 /* EPERM */, 38 /* ENOSYS */], then: ['prlimit64', 'fcntl', 'close'] },
};

/**
 * Refuse a compiled filter that does not allow (or log) each of `calls` with arguments 0 on
 * the native architecture (or, for a call in FALLBACKS, fails it with one of its errnos and
 * allows its fallback).
 * @throws NsError `ERR_NS_CONFIG` naming `field` and the first call refused
 */
export function checkCalls(c: CompiledSeccomp, calls: readonly string[], field: string): void {
  const native = hostArch();
  for (const call of calls) {
    const v = filterVerdict(c.instructions, native, call);
    if (v.action === 'ALLOW' || v.action === 'LOG') continue;
    const fallback = FALLBACKS[call];
    if (fallback && v.action === 'ERRNO' && fallback.errnos.includes(v.data)) {
      const allowed = (then: string): boolean => {
        const w = filterVerdict(c.instructions, native, then);
        return w.action === 'ALLOW' || w.action === 'LOG';
      };
      if (fallback.then.every(allowed)) continue;
    }
    const what = v.action === 'ERRNO' ? `fails with errno ${v.data}` : `gets ${v.action}`;
    const why =
      call === 'execve'
        ? "the container's program could never start"
        : 'ns-init makes it after installing the filter (without process.noNewPrivileges the filter goes in before the capabilities are dropped, as runc does); allow it, or set noNewPrivileges';
    throw configError(`${field}: ${call} ${what} under this profile: ${why}; nothing was started`, field);
  }
}

/**
 * Put the `seccomp` step into a process's steps at `at` (before the execve with no_new_privs,
 * else before the capabilities are dropped: see this file's comment), checked against the
 * steps that follow it.
 * @throws NsError `ERR_NS_CONFIG` as {@link seccompStep}
 */
export function insertSeccomp(steps: Step[], seccomp: SeccompConfig, bounding: bigint, at: number): void {
  steps.splice(at, 0, seccompStep(seccomp, bounding, steps.slice(at)));
}

/** Forget the compiled programs (tests). @internal */
export function clearSeccompCache(): void {
  compiled.clear();
}
