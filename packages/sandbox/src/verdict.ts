/**
 * The verdict of a run: how it ended, in the statuses graders use (isolate's RE, SG, TO, XX,
 * plus OK, OOM and OLE as Judge0 and DOMjudge report them), with the numbers behind it.
 * Deciding it is a pure function of what was measured (unit-tested without a kernel).
 */
import { constants } from 'node:os';
import type { CheckedLimits } from './limits.js';

/**
 * OK: exited 0 within every limit. RE: exited non-zero. SG: killed by a signal (not the
 * sandbox's). TO: cpu or wall time limit. OOM: the memory limit (the kernel's OOM killer).
 * OLE: the output limit. XX: the sandbox itself failed (the program may not have run).
 */
export type Status = 'OK' | 'RE' | 'SG' | 'TO' | 'OOM' | 'OLE' | 'XX';

export interface Verdict {
  status: Status;
  /** Exit status when the program exited, else null. */
  exitCode: number | null;
  /** The signal that ended it (`SIGKILL`), else null. */
  signal: NodeJS.Signals | null;
  /** CPU time of every process of the run, user + system, ms (the cgroup's accounting; the container's set-up included). */
  cpuMs: number;
  /** Wall-clock time from start to exit, ms. */
  wallMs: number;
  /**
   * The largest resident set of a single process of the run, KiB (isolate's `max-rss`): what
   * the init reaped, from its getrusage(RUSAGE_CHILDREN) `ru_maxrss`; with `init: false`, the
   * cgroup's peak (as `cgroupMemKiB`).
   */
  maxRssKiB: number;
  /**
   * Peak memory of the whole run in KiB, page cache and tmpfs included (isolate's `cg-mem`):
   * cgroup memory.peak on v2, memory.max_usage_in_bytes on v1. What the run was charged: file
   * pages it mapped that the page cache had charged elsewhere (a shared binary's) count in
   * `maxRssKiB`, not here. Absent in verdicts made by hand (formatMeta then writes `maxRssKiB`).
   */
  cgroupMemKiB?: number;
  /** Whether the kernel's OOM killer killed a process of the run. */
  oomKilled: boolean;
  /** Whether the sandbox killed the run (time or output limit), as isolate's `killed`. */
  killed: boolean;
  stdout: Buffer;
  stderr: Buffer;
  /** Which streams went over `outputBytes`. */
  truncated: { stdout: boolean; stderr: boolean };
  /** Why, in words, as isolate's messages (`Time limit exceeded (wall clock)`); empty for OK. */
  message: string;
}

/** Why the sandbox killed a run, if it did. */
export type KillReason = 'cpu' | 'wall' | 'output' | null;

/** What was measured of a finished run, for {@link decideStatus}. */
export interface Measured {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  cpuMs: number;
  wallMs: number;
  oomKilled: boolean;
  killedFor: KillReason;
  truncated: { stdout: boolean; stderr: boolean };
}

const SIGXFSZ = constants.signals.SIGXFSZ;

/** The number of a signal name (`SIGKILL` -> 9), 0 when unknown. */
export function signalNumberOf(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : ((constants.signals as Record<string, number>)[signal] ?? 0);
}

/**
 * The status and message of a finished run, in isolate's order of precedence: what the
 * sandbox killed it for (output, wall, cpu), cpu time over the limit (a program that finished
 * within the extra time), wall time over the limit, the OOM killer, a signal, the exit status.
 *
 * - A signal of SIGXFSZ reads `File size limit exceeded`; so does exit status 153 (128 +
 *   SIGXFSZ, a shell reporting a child the signal killed) when `fileSizeBytes` is set.
 * - A program the OOM killer struck is `OOM` even when its main process survived it.
 */
export function decideStatus(m: Measured, limits: Pick<CheckedLimits, 'cpuTimeMs' | 'wallTimeMs' | 'fileSizeBytes'>): { status: Status; message: string } {
  if (m.killedFor === 'output') {
    const which = (['stdout', 'stderr'] as const).filter((s) => m.truncated[s]).join(', ');
    return { status: 'OLE', message: `Output limit exceeded (${which})` };
  }
  if (m.killedFor === 'wall') return { status: 'TO', message: 'Time limit exceeded (wall clock)' };
  if (m.killedFor === 'cpu' || (limits.cpuTimeMs !== undefined && m.cpuMs > limits.cpuTimeMs)) return { status: 'TO', message: 'Time limit exceeded' };
  if (limits.wallTimeMs !== undefined && m.wallMs > limits.wallTimeMs) return { status: 'TO', message: 'Time limit exceeded (wall clock)' };
  if (m.oomKilled) return { status: 'OOM', message: 'Memory limit exceeded' };
  if (m.signal !== null) {
    const n = signalNumberOf(m.signal);
    if (n === SIGXFSZ) return { status: 'SG', message: `File size limit exceeded (caught fatal signal ${n}, ${m.signal})` };
    return { status: 'SG', message: `Caught fatal signal ${n}` };
  }
  if (m.exitCode !== 0 && m.exitCode !== null) {
    if (limits.fileSizeBytes !== undefined && m.exitCode === 128 + SIGXFSZ) {
      return { status: 'RE', message: `Exited with error status ${m.exitCode} (128 + SIGXFSZ: File size limit exceeded)` };
    }
    return { status: 'RE', message: `Exited with error status ${m.exitCode}` };
  }
  if (m.truncated.stdout || m.truncated.stderr) return { status: 'OLE', message: 'Output limit exceeded' };
  return { status: 'OK', message: '' };
}

/** A verdict for a run that could not be made or watched (status XX), with the error's message. */
export function failedVerdict(err: unknown, wallMs = 0): Verdict {
  const message = err instanceof Error ? `${(err as { code?: string }).code ? `${(err as { code?: string }).code}: ` : ''}${err.message}` : String(err);
  return {
    status: 'XX',
    exitCode: null,
    signal: null,
    cpuMs: 0,
    wallMs,
    maxRssKiB: 0,
    cgroupMemKiB: 0,
    oomKilled: false,
    killed: false,
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    truncated: { stdout: false, stderr: false },
    message,
  };
}
