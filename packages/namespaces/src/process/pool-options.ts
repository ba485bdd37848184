/** The options of createPool() and pool.exec() (process/pool.ts), and the pool's interface. */
import { validateResources, type LinuxResources } from '@ns/cgroups';
import { ErrorCode, NsError } from '@ns/syscalls';
import { asNsError } from '../container/cgroup.js';
import type { Container } from '../config/container.js';
import type { ValidContainer } from '../config/valid.js';
import type { PoolRun } from '../plan/pool.js';
import type { StdioEntry } from './exec.js';
import type { ContainerProcess } from './process.js';

export interface PoolOptions {
  /** How many members to keep ready: an integer >= 1. */
  size: number;
  /**
   * Replace each member used (default true): once its run has ended (so that the new set-up does
   * not compete with the run's start and end), or at once when no member is ready. false: only
   * the first `size`, then one per exec() that finds none ready.
   */
  refill?: boolean;
  /**
   * Milliseconds a member waits for a run before it exits by itself (default 0: no limit). A
   * member gone idle is not replaced at once: an unused pool shrinks to nothing, and the next
   * exec() makes members again.
   */
  idleTimeoutMs?: number;
  /**
   * The stdio of every member, made when it is prepared (`'pipe'` default: streams on the
   * process exec() returns; `'ignore'`, `'inherit'`, or three entries as ExecOptions.stdio).
   * `'per-run'`: each exec() gives its own (PoolRun.stdio, default `'pipe'`), sent to the
   * member with the run's record over a SOCK_SEQPACKET socket (SCM_RIGHTS); the member then
   * reads its record with recvmsg(2), which a seccomp profile of the config must allow.
   */
  stdio?: 'pipe' | 'ignore' | 'inherit' | 'per-run' | [StdioEntry, StdioEntry, StdioEntry];
  /**
   * The config of member `n` (1, 2, ...): default `config` itself, with the id `<id>-<n>` when it
   * has a cgroup (`resources`), so that each member gets its own (`/ns/<id>-<n>`). A config
   * with a `cgroupsPath` needs this: members may not share a cgroup.
   */
  memberConfig?: (n: number) => Container | ValidContainer;
  /**
   * Called once a member that never ran a program is gone: its idle timeout, close(), a failed
   * start, or a run whose chdir or execve failed. Awaited by close().
   */
  onDiscard?: (id: string) => void | Promise<void>;
}

/** Per-run options of {@link Pool.exec}. */
export interface PoolExecOptions {
  /**
   * OCI `linux.resources` written to the member's cgroup before the hand-over (runc update's
   * way, about 20 µs a file): a run's own memory or pids limit. The config needs a cgroup.
   */
  resources?: LinuxResources;
}

/** A pool made by {@link createPool}. */
export interface Pool {
  /**
   * Start `run.args` in a ready member: resolves once its execve has succeeded, with the same
   * process handle exec() returns (wait(), kill(), stdio streams of the pool's `stdio`).
   * @throws NsError `ERR_NS_STATE` on a closed pool; `ERR_NS_CONFIG` naming the field of a bad
   *   run (`args`, `env[1]`, `cwd`, a record past 64 KiB) or of `options` (an unknown one,
   *   `resources.memory.limit`, `resources` on a pool without cgroups) before any member is taken; the errno
   *   of a failed chdir or execve as exec() reports it (`exec "nope": executable file not
   *   found in $PATH`, `chdir /nope: ENOENT`), the member then gone; a member's failed start.
   */
  exec(run: PoolRun, options?: PoolExecOptions): Promise<ContainerProcess>;
  /** Kill the idle members and those being made, and resolve once they and their cgroups are gone. Runs already handed out are the caller's. */
  close(): Promise<void>;
  /** Members ready now. */
  readonly idle: number;
  /** Their pids (in the caller's pid namespace). */
  readonly pids: number[];
  readonly closed: boolean;
  /**
   * The error of the last member start that failed in the background (a refill: `EMFILE`, a
   * memberConfig that throws ...), or undefined. While it is set the pool makes no more members
   * on its own (it would fail the same way); the next exec() clears it and tries again, and
   * one that finds no member ready gets such an error itself.
   */
  readonly refillError: unknown;
}


/** An option error naming the option. */
function optionError(field: string, why: string): NsError {
  return new NsError(ErrorCode.CONFIG, `${field}: ${why}`, { path: field });
}

/** The fields of PoolOptions. */
const POOL_OPTIONS: readonly string[] = ['size', 'refill', 'idleTimeoutMs', 'stdio', 'memberConfig', 'onDiscard'];

/**
 * `options` checked, with their defaults.
 * @throws NsError `ERR_NS_CONFIG` naming the option: an unknown one, `size` not an integer
 *   from 1 to 1024, `refill` not a boolean, `idleTimeoutMs` not an integer >= 0.
 */
export function checkOptions(options: PoolOptions): Required<Pick<PoolOptions, 'size' | 'refill' | 'idleTimeoutMs'>> {
  if (options === null || typeof options !== 'object') throw optionError('options', 'expected { size }');
  // A misspelt option (`idleTimeout`, `sizes`) is an error, not a default silently taken.
  const unknown = Object.keys(options).find((k) => !POOL_OPTIONS.includes(k));
  if (unknown !== undefined) throw optionError(unknown, `unknown pool option (expected one of ${POOL_OPTIONS.join(', ')})`);
  const { size, refill = true, idleTimeoutMs = 0 } = options;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1024) throw optionError('size', `expected an integer from 1 to 1024, got ${String(size)}`);
  if (typeof refill !== 'boolean') throw optionError('refill', `expected a boolean, got ${String(refill)}`);
  if (typeof idleTimeoutMs !== 'number' || !Number.isInteger(idleTimeoutMs) || idleTimeoutMs < 0) {
    throw optionError('idleTimeoutMs', `expected milliseconds (an integer >= 0), got ${String(idleTimeoutMs)}`);
  }
  for (const f of ['memberConfig', 'onDiscard'] as const) {
    if (options[f] !== undefined && typeof options[f] !== 'function') throw optionError(f, `expected a function, got ${typeof options[f]}`);
  }
  return { size, refill, idleTimeoutMs };
}

/**
 * pool.exec()'s `options` checked before a member is taken (a bad one used to cost a member).
 * @param withCgroup whether the pool's members have a cgroup of their own (`resources` needs one)
 * @throws NsError `ERR_NS_CONFIG` naming the field: not an object, an unknown option,
 *   `resources` on a pool without cgroups, a bad `resources` field (validateResources)
 */
export function checkExecOptions(options: unknown, withCgroup: boolean): PoolExecOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw optionError('options', 'expected { resources }');
  const unknown = Object.keys(options).find((k) => k !== 'resources');
  if (unknown !== undefined) throw optionError(unknown, 'unknown option of pool.exec() (expected resources)');
  const { resources } = options as PoolExecOptions;
  if (resources === undefined) return {};
  if (!withCgroup) throw optionError('resources', "this pool's members have no cgroup of their own to limit (give the config resources)");
  try {
    return { resources: validateResources(resources, 'resources') };
  } catch (err) {
    throw asNsError(err);
  }
}
