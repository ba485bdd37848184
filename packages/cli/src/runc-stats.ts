/**
 * The JSON of `ns events`: runc's event lines (runc types/events.go `Event`, `Stats`) made
 * from @ns/cgroups' CgroupStats, so that tools reading `runc events` read `ns events` too.
 *
 * Mapping (runc field <- CgroupStats):
 * - `cpu.usage.total` <- cpu.usageNs, `cpu.usage.kernel` <- systemNs, `cpu.usage.user` <- userNs
 *   (nanoseconds); `cpu.throttling.{periods, throttledPeriods, throttledTime}` <- periods,
 *   throttledPeriods, throttledNs. Per-CPU usage (`percpu`) is not read.
 * - `memory.usage.{usage, max, limit, failcnt}` <- memory.usage, maxUsage, limit, failcnt
 *   (bytes); an unlimited limit is 18446744073709551615 (2^64-1, as runc prints v2's `max`).
 * - `memory.swap.usage` <- usage + swapUsage: memory plus swap, as runc's (v1 memsw) entry;
 *   its limit is not read. `memory.cache` <- memory.stat `cache` (v1) or `file` (v2);
 *   `memory.raw` <- memory.stat.
 * - `pids.current`, `pids.limit` <- pids (the limit left out when unlimited, as runc).
 * A section is left out when the cgroup has no such controller.
 */
import type { CgroupStats } from '@ns/namespaces';

/** 2^64-1: runc's uint64 "no limit". */
export const UINT64_MAX = 18446744073709551615n;

/** runc's types.MemoryEntry (bytes). */
export interface RuncMemoryEntry {
  limit?: number | bigint;
  usage?: number;
  max?: number;
  failcnt?: number;
}

/** runc's types.Stats, the parts ns reads. */
export interface RuncStats {
  cpu?: {
    usage: { total: number; kernel?: number; user?: number };
    throttling?: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory?: {
    cache?: number;
    usage: RuncMemoryEntry;
    swap?: RuncMemoryEntry;
    raw?: Record<string, number>;
  };
  pids?: { current: number; limit?: number };
}

/** One line of `ns events` (runc's types.Event): `stats` with data, or `oom` without. */
export interface RuncEvent {
  type: 'stats' | 'oom';
  id: string;
  data?: RuncStats;
}

/** `obj` without its undefined fields. */
function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/**
 * CgroupStats in runc's `events` shape (see the mapping above). Pure: no file is read.
 * @see runc types/events.go, events.go convertLibcontainerStats
 */
export function runcStats(stats: CgroupStats): RuncStats {
  const out: RuncStats = {};
  const { cpu, memory, pids } = stats;
  if (cpu) {
    out.cpu = { usage: defined({ total: cpu.usageNs, kernel: cpu.systemNs, user: cpu.userNs }) };
    const throttling = defined({ periods: cpu.periods, throttledPeriods: cpu.throttledPeriods, throttledTime: cpu.throttledNs });
    if (Object.keys(throttling).length > 0) out.cpu.throttling = throttling;
  }
  if (memory) {
    const limit = memory.limit === undefined ? undefined : memory.limit < 0 ? UINT64_MAX : memory.limit;
    out.memory = defined({
      cache: memory.stat.cache ?? memory.stat.file,
      usage: defined({ limit, usage: memory.usage, max: memory.maxUsage, failcnt: memory.failcnt ?? 0 }),
      swap: memory.swapUsage === undefined ? undefined : { usage: memory.usage + memory.swapUsage },
      raw: Object.keys(memory.stat).length > 0 ? { ...memory.stat } : undefined,
    });
  }
  if (pids) out.pids = defined({ current: pids.current, limit: pids.limit !== undefined && pids.limit >= 0 ? pids.limit : undefined });
  return out;
}

/** Marks a bigint while JSON.stringify runs (a NUL cannot be in an id or a memory.stat key). */
const BIG = '\u0000u64:';

/**
 * One event as a line of JSON, ending in a newline. Integers beyond 2^53 (2^64-1 for "no
 * limit", v1's page-counter maximum in memory.stat) are written with all their digits, as Go
 * writes a uint64, not rounded as JSON.stringify writes a number.
 */
export function eventLine(event: RuncEvent): string {
  const text = JSON.stringify(event, (_key, value: unknown) => {
    if (typeof value === 'bigint') return `${BIG}${value}`;
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) return `${BIG}${BigInt(value)}`;
    return value;
  });
  return `${text.replace(/"\\u0000u64:(-?\d+)"/g, '$1')}\n`;
}
