/**
 * The process attributes of OCI config.md and config-linux.md that the kernel keeps per
 * process and hands on across fork(2) and execve(2): the I/O priority (`process.ioPriority`,
 * ioprio_set(2)), the scheduling policy (`process.scheduler`, sched_setattr(2)) and the
 * execution domain (`linux.personality`, personality(2)). Their shapes, their numbers in the
 * kernel's ABI, and the checks a config gets before anything is created (runc's
 * validate.scheduler / ioPriority / getLinuxPersonalityFromStr, plus what the kernel would
 * refuse with a bare EINVAL: a real-time priority outside 1..99, SCHED_DEADLINE's
 * runtime <= deadline <= period).
 */
import { configError } from '@ns/syscalls';

/** OCI `process.ioPriority`: an I/O scheduling class and a level in it (0 highest .. 7). */
export interface IoPriority {
  class: string;
  priority: number;
}

/** OCI `process.scheduler` (config.md "Scheduler"): sched_setattr(2)'s `struct sched_attr`. */
export interface Scheduler {
  /** SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR or SCHED_DEADLINE. */
  policy: string;
  /** -20..19, for SCHED_OTHER and SCHED_BATCH (the kernel clamps it for the others). */
  nice?: number;
  /** 1..99, for SCHED_FIFO and SCHED_RR only. */
  priority?: number;
  /** SCHED_FLAG_* names. */
  flags?: string[];
  /** SCHED_DEADLINE only, nanoseconds. */
  runtime?: number;
  deadline?: number;
  period?: number;
}

/** OCI `linux.personality`: the execution domain; no flags are defined by the spec. */
export interface Personality {
  domain: string;
  flags?: string[];
}

/** I/O scheduling classes (linux/ioprio.h IOPRIO_CLASS_*). */
export const IOPRIO_CLASS: Readonly<Record<string, number>> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
/** ioprio_set(2) `which`: the process `who` names (0: the caller). */
export const IOPRIO_WHO_PROCESS = 1;
/** IOPRIO_PRIO_VALUE(class, level): the class above bit 13. */
export const ioprioValue = (p: IoPriority): number => (IOPRIO_CLASS[p.class]! << 13) | p.priority;

/** Scheduling policies (linux/sched.h SCHED_*). SCHED_ISO (4) is reserved, not implemented by Linux. */
export const SCHED_POLICY: Readonly<Record<string, number>> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
/** sched_setattr(2) flags (linux/sched/types.h SCHED_FLAG_*), as the spec names them. */
export const SCHED_FLAG: Readonly<Record<string, number>> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
/** The SCHED_FLAG_* bits of `names` (checked by {@link checkProcessAttributes}). */
export const schedFlags = (names: readonly string[] = []): number => names.reduce((m, n) => m | SCHED_FLAG[n]!, 0);

/** Execution domains (linux/personality.h): PER_LINUX and PER_LINUX32, as runc. */
export const PERSONA: Readonly<Record<string, number>> = { LINUX: 0x0000, LINUX32: 0x0008 };

/** SCHED_DEADLINE's smallest runtime (the kernel's DL_SCALE: 2^10 ns). */
const DL_MIN_RUNTIME = 1024;

/**
 * The Container fields of a config.json's `process.ioPriority`, `process.scheduler` and
 * `linux.personality` (copies, only the spec's keys; checked later by validateContainer()).
 */
export function processAttributesOf(
  proc: { ioPriority?: IoPriority; scheduler?: Scheduler },
  linux?: { personality?: Personality },
): { ioPriority?: IoPriority; scheduler?: Scheduler; personality?: Personality } {
  const out: { ioPriority?: IoPriority; scheduler?: Scheduler; personality?: Personality } = {};
  if (proc.ioPriority !== undefined) out.ioPriority = { class: proc.ioPriority.class, priority: proc.ioPriority.priority };
  if (proc.scheduler !== undefined) {
    const s = proc.scheduler;
    out.scheduler = { policy: s.policy };
    for (const k of ['nice', 'priority', 'runtime', 'deadline', 'period'] as const) if (s[k] !== undefined) out.scheduler[k] = s[k];
    if (s.flags !== undefined) out.scheduler.flags = [...s.flags];
  }
  const p = linux?.personality;
  if (p !== undefined) out.personality = p.flags === undefined ? { domain: p.domain } : { domain: p.domain, flags: [...p.flags] };
  return out;
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * Check a container's `ioPriority`, `scheduler` and `personality` (what validateContainer()
 * calls); the paths are the Container's (`scheduler.priority`), which a config.json's errors
 * name as `process.scheduler.priority` (oci-paths.ts).
 * @throws NsError `ERR_NS_CONFIG` naming the field: an unknown I/O class or a level outside
 *   0..7; an unknown or unimplemented policy (SCHED_ISO), an unknown flag, `nice` outside
 *   -20..19 for SCHED_OTHER/SCHED_BATCH, `priority` given for another policy than SCHED_FIFO/
 *   SCHED_RR or outside 1..99 for them, `runtime`/`deadline`/`period` for another policy than
 *   SCHED_DEADLINE, or for it not 1024 <= runtime <= deadline <= period (period 0: the
 *   deadline); a domain other than LINUX or LINUX32, any personality flag (the spec defines
 *   none; runc ignores them with a warning, ns refuses what it would not apply); SCHED_DEADLINE
 *   with `init` and without SCHED_FLAG_RESET_ON_FORK (the init's fork would fail).
 * @see ioprio_set(2), sched_setattr(2), personality(2), runtime-spec config.md "Scheduler",
 *   "IO Priority", config-linux.md "Personality"
 */
export function checkProcessAttributes(c: { ioPriority?: unknown; scheduler?: unknown; personality?: unknown; init?: unknown }): void {
  if (c.ioPriority !== undefined) checkIoPriority(c.ioPriority);
  if (c.scheduler !== undefined) checkScheduler(c.scheduler);
  const s = c.scheduler as Scheduler | undefined;
  if (c.init === true && s?.policy === 'SCHED_DEADLINE' && !s.flags?.includes('SCHED_FLAG_RESET_ON_FORK')) {
    throw configError('scheduler.policy: a SCHED_DEADLINE process may not fork (EAGAIN), and the init forks the program: add SCHED_FLAG_RESET_ON_FORK (the program then runs SCHED_OTHER) or run without init', 'scheduler.policy');
  }
  if (c.personality !== undefined) checkPersonality(c.personality);
}

function checkIoPriority(p: unknown): void {
  if (!isObject(p)) throw configError(`ioPriority: expected { class, priority }, got ${show(p)}`, 'ioPriority');
  if (typeof p.class !== 'string' || IOPRIO_CLASS[p.class] === undefined) {
    throw configError(`ioPriority.class: expected one of ${Object.keys(IOPRIO_CLASS).join(', ')}, got ${show(p.class)}`, 'ioPriority.class');
  }
  if (!isInt(p.priority, 0, 7)) throw configError(`ioPriority.priority: expected an integer 0..7, got ${show(p.priority)}`, 'ioPriority.priority');
}

function checkScheduler(s: unknown): void {
  if (!isObject(s)) throw configError(`scheduler: expected { policy, nice?, priority?, flags?, runtime?, deadline?, period? }, got ${show(s)}`, 'scheduler');
  const policy = s.policy;
  if (policy === 'SCHED_ISO') throw configError('scheduler.policy: SCHED_ISO is reserved and not implemented by Linux', 'scheduler.policy');
  if (typeof policy !== 'string' || SCHED_POLICY[policy] === undefined) {
    throw configError(`scheduler.policy: expected one of ${Object.keys(SCHED_POLICY).join(', ')}, got ${show(policy)}`, 'scheduler.policy');
  }
  if (s.nice !== undefined) {
    const fair = policy === 'SCHED_OTHER' || policy === 'SCHED_BATCH';
    if (!isInt(s.nice, fair ? -20 : -(2 ** 31), fair ? 19 : 2 ** 31 - 1)) {
      throw configError(`scheduler.nice: expected an integer ${fair ? `-20..19 with ${policy}` : 'int32'}, got ${show(s.nice)}`, 'scheduler.nice');
    }
  }
  const realtime = policy === 'SCHED_FIFO' || policy === 'SCHED_RR';
  if (realtime ? !isInt(s.priority, 1, 99) : s.priority !== undefined && s.priority !== 0) {
    const why = realtime ? `expected an integer 1..99 with ${policy}` : `only SCHED_FIFO and SCHED_RR take a priority (the policy is ${policy})`;
    throw configError(`scheduler.priority: ${why}, got ${show(s.priority)}`, 'scheduler.priority');
  }
  if (s.flags !== undefined) {
    if (!Array.isArray(s.flags)) throw configError(`scheduler.flags: expected a list of SCHED_FLAG_* names, got ${show(s.flags)}`, 'scheduler.flags');
    s.flags.forEach((f: unknown, i) => {
      if (typeof f !== 'string' || SCHED_FLAG[f] === undefined) {
        throw configError(`scheduler.flags[${i}]: expected one of ${Object.keys(SCHED_FLAG).join(', ')}, got ${show(f)}`, `scheduler.flags[${i}]`);
      }
    });
  }
  const dl = { runtime: s.runtime ?? 0, deadline: s.deadline ?? 0, period: s.period ?? 0 };
  for (const [key, v] of Object.entries(dl)) {
    if (!isInt(v, 0, Number.MAX_SAFE_INTEGER)) throw configError(`scheduler.${key}: expected a non-negative integer (nanoseconds), got ${show(v)}`, `scheduler.${key}`);
    if (policy !== 'SCHED_DEADLINE' && v !== 0) {
      throw configError(`scheduler.${key}: only SCHED_DEADLINE takes a runtime, deadline and period (the policy is ${policy})`, `scheduler.${key}`);
    }
  }
  if (policy === 'SCHED_DEADLINE') {
    const { runtime, deadline, period } = dl as unknown as Record<string, number>;
    if (runtime! < DL_MIN_RUNTIME) throw configError(`scheduler.runtime: expected at least ${DL_MIN_RUNTIME} ns with SCHED_DEADLINE, got ${runtime}`, 'scheduler.runtime');
    if (deadline! < runtime!) throw configError(`scheduler.deadline: expected at least the runtime (${runtime} ns), got ${deadline}`, 'scheduler.deadline');
    if (period !== 0 && period! < deadline!) throw configError(`scheduler.period: expected 0 or at least the deadline (${deadline} ns), got ${period}`, 'scheduler.period');
  }
}

function checkPersonality(p: unknown): void {
  if (!isObject(p)) throw configError(`personality: expected { domain, flags? }, got ${show(p)}`, 'personality');
  if (typeof p.domain !== 'string' || PERSONA[p.domain] === undefined) {
    throw configError(`personality.domain: expected LINUX or LINUX32, got ${show(p.domain)}`, 'personality.domain');
  }
  if (p.flags !== undefined && (!Array.isArray(p.flags) || p.flags.length > 0)) {
    const field = Array.isArray(p.flags) ? 'personality.flags[0]' : 'personality.flags';
    throw configError(`${field}: the runtime spec defines no personality flags (ns applies none), got ${JSON.stringify(Array.isArray(p.flags) ? p.flags[0] : p.flags)}`, field);
  }
}
