/**
 * Statistics of a cgroup, read from its files: memory (usage, peak, limit, OOM counts), cpu
 * (usage, throttling) and pids, on v1 (cgroup-v1/memory.rst, cpuacct.rst, pids.rst) and v2
 * (cgroup-v2.rst "Memory Interface Files", "CPU Interface Files", "PID Interface Files").
 */
import { join } from 'node:path';
import type { CgroupDirs } from './path.js';
import type { CgroupSys } from './sys.js';

export interface MemoryStats {
  /** Bytes in use now (v1 memory.usage_in_bytes, v2 memory.current). */
  usage: number;
  /** Highest usage seen, bytes (v1 memory.max_usage_in_bytes, v2 memory.peak where the kernel has it). */
  maxUsage?: number;
  /** The hard limit in bytes; -1 when unlimited. */
  limit?: number;
  /** Swap in use, bytes (v1: memory+swap minus memory; v2 memory.swap.current). */
  swapUsage?: number;
  /** Times the limit was hit (v1 memory.failcnt, v2 memory.events `max`). */
  failcnt?: number;
  /** OOM situations (v2 memory.events `oom`; v1 has no counter, only the eventfd notification). */
  oomEvents?: number;
  /** Processes the OOM killer killed in this cgroup (v1 memory.oom_control / v2 memory.events `oom_kill`). */
  oomKills: number;
  /** v1 only: the cgroup is under OOM right now (with the OOM killer disabled it waits). */
  underOom?: boolean;
  /** memory.stat, key -> value (bytes or counts, as the kernel gives them). */
  stat: Record<string, number>;
}

export interface CpuStats {
  /** Total CPU time in nanoseconds (v1 cpuacct.usage, v2 cpu.stat usage_usec * 1000). */
  usageNs: number;
  userNs?: number;
  systemNs?: number;
  /** CFS bandwidth periods elapsed / throttled, and time throttled in ns (cpu.stat). */
  periods?: number;
  throttledPeriods?: number;
  throttledNs?: number;
}

export interface PidsStats {
  current: number;
  /** pids.max; -1 when `max`. */
  limit?: number;
}

/** Whatever the cgroup's controllers expose; a section is missing when its controller is. */
export interface CgroupStats {
  memory?: MemoryStats;
  cpu?: CpuStats;
  pids?: PidsStats;
}

/** Parse a flat keyed file (`key value` per line: memory.stat, cpu.stat, memory.events). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes (9223372036854771712 on 4 KiB pages). */
const V1_UNLIMITED = 2 ** 62;

/** A limit file's text to bytes, -1 for `max` or the v1 no-limit value. */
export function parseLimit(text: string): number {
  const t = text.trim();
  if (t === 'max') return -1;
  const n = Number(t);
  return n >= V1_UNLIMITED ? -1 : n;
}

/** USER_HZ: the clock tick of cpuacct.stat, 100 on every Linux ABI. */
const USER_HZ = 100;

function reader(sys: CgroupSys) {
  const text = (dir: string | undefined, file: string): string | undefined => {
    if (dir === undefined) return undefined;
    try {
      return sys.readFile(join(dir, file));
    } catch {
      return undefined;
    }
  };
  const int = (dir: string | undefined, file: string): number | undefined => {
    const t = text(dir, file);
    return t === undefined ? undefined : Number(t.trim());
  };
  return { text, int };
}

function memoryV1(dir: string, sys: CgroupSys): MemoryStats | undefined {
  const { text, int } = reader(sys);
  const usage = int(dir, 'memory.usage_in_bytes');
  if (usage === undefined) return undefined;
  const oom = parseKeyValues(text(dir, 'memory.oom_control') ?? '');
  const memsw = int(dir, 'memory.memsw.usage_in_bytes');
  const limit = text(dir, 'memory.limit_in_bytes');
  const out: MemoryStats = { usage, oomKills: oom.oom_kill ?? 0, stat: parseKeyValues(text(dir, 'memory.stat') ?? '') };
  const max = int(dir, 'memory.max_usage_in_bytes');
  if (max !== undefined) out.maxUsage = max;
  if (limit !== undefined) out.limit = parseLimit(limit);
  if (memsw !== undefined) out.swapUsage = Math.max(0, memsw - usage);
  const failcnt = int(dir, 'memory.failcnt');
  if (failcnt !== undefined) out.failcnt = failcnt;
  if (oom.under_oom !== undefined) out.underOom = oom.under_oom === 1;
  return out;
}

function memoryV2(dir: string, sys: CgroupSys): MemoryStats | undefined {
  const { text, int } = reader(sys);
  const usage = int(dir, 'memory.current');
  if (usage === undefined) return undefined;
  const events = parseKeyValues(text(dir, 'memory.events') ?? '');
  const out: MemoryStats = { usage, oomKills: events.oom_kill ?? 0, stat: parseKeyValues(text(dir, 'memory.stat') ?? '') };
  const peak = int(dir, 'memory.peak');
  if (peak !== undefined) out.maxUsage = peak;
  const limit = text(dir, 'memory.max');
  if (limit !== undefined) out.limit = parseLimit(limit);
  const swap = int(dir, 'memory.swap.current');
  if (swap !== undefined) out.swapUsage = swap;
  if (events.max !== undefined) out.failcnt = events.max;
  if (events.oom !== undefined) out.oomEvents = events.oom;
  return out;
}

function cpuV1(acct: string | undefined, cpu: string | undefined, sys: CgroupSys): CpuStats | undefined {
  const { text, int } = reader(sys);
  const usageNs = int(acct, 'cpuacct.usage');
  if (usageNs === undefined) return undefined;
  const out: CpuStats = { usageNs };
  const st = parseKeyValues(text(acct, 'cpuacct.stat') ?? '');
  if (st.user !== undefined) out.userNs = (st.user * 1e9) / USER_HZ;
  if (st.system !== undefined) out.systemNs = (st.system * 1e9) / USER_HZ;
  const cs = parseKeyValues(text(cpu, 'cpu.stat') ?? '');
  if (cs.nr_periods !== undefined) out.periods = cs.nr_periods;
  if (cs.nr_throttled !== undefined) out.throttledPeriods = cs.nr_throttled;
  if (cs.throttled_time !== undefined) out.throttledNs = cs.throttled_time;
  return out;
}

function cpuV2(dir: string, sys: CgroupSys): CpuStats | undefined {
  const { text } = reader(sys);
  const t = text(dir, 'cpu.stat');
  if (t === undefined) return undefined;
  const cs = parseKeyValues(t);
  if (cs.usage_usec === undefined) return undefined;
  const out: CpuStats = { usageNs: cs.usage_usec * 1000 };
  if (cs.user_usec !== undefined) out.userNs = cs.user_usec * 1000;
  if (cs.system_usec !== undefined) out.systemNs = cs.system_usec * 1000;
  if (cs.nr_periods !== undefined) out.periods = cs.nr_periods;
  if (cs.nr_throttled !== undefined) out.throttledPeriods = cs.nr_throttled;
  if (cs.throttled_usec !== undefined) out.throttledNs = cs.throttled_usec * 1000;
  return out;
}

function pidsStats(dir: string | undefined, sys: CgroupSys): PidsStats | undefined {
  const { text, int } = reader(sys);
  const current = int(dir, 'pids.current');
  if (current === undefined) return undefined;
  const max = text(dir, 'pids.max');
  return max === undefined ? { current } : { current, limit: parseLimit(max) };
}

/**
 * Read a cgroup's statistics. Each controller is read from the hierarchy holding it (memory
 * from v1 and pids from v2 on a hybrid host, say); a controller that is absent or not enabled
 * leaves its section out. Never throws for a missing file.
 *
 * @param dirs the cgroup's directories (cgroupDirs)
 */
/**
 * Only the OOM kill count (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`): one
 * file, for what a container's end needs to know. 0 without a memory controller.
 */
export function readOomKills(dirs: CgroupDirs, sys: CgroupSys): number {
  const v1 = dirs.v1.memory;
  const [dir, file] = v1 !== undefined ? [v1, 'memory.oom_control'] : [dirs.unified, 'memory.events'];
  if (dir === undefined) return 0;
  try {
    return parseKeyValues(sys.readFile(join(dir, file))).oom_kill ?? 0;
  } catch {
    return 0;
  }
}

export function readStats(dirs: CgroupDirs, sys: CgroupSys): CgroupStats {
  const out: CgroupStats = {};
  const v2 = dirs.unified;
  const mem = dirs.v1.memory !== undefined ? memoryV1(dirs.v1.memory, sys) : v2 !== undefined ? memoryV2(v2, sys) : undefined;
  if (mem) out.memory = mem;
  const cpu = dirs.v1.cpuacct !== undefined ? cpuV1(dirs.v1.cpuacct, dirs.v1.cpu, sys) : v2 !== undefined ? cpuV2(v2, sys) : undefined;
  if (cpu) out.cpu = cpu;
  const pids = pidsStats(dirs.v1.pids ?? v2, sys);
  if (pids) out.pids = pids;
  return out;
}
