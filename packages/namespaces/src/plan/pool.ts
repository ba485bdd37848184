/**
 * The plan of a pool member (createPool): a container's plan, everything set up but the
 * command. The final execve becomes `detach` (spawnAsync returns: the member is ready) and an
 * `awaitRun` step that waits for the run record on descriptor 3 and replies on descriptor 4,
 * both placed there by the plan's own stdio step (PlanIo.stdio[3] and [4]). What each run
 * hands over (args, env, cwd) is decided by {@link runRecordOf}.
 */
import { encodeRunRecord, encodeRunStrings, NsError, type EncodedRunStrings, type Plan, type RunRecord } from '@ns/syscalls';
import { dedupEnv, isEnvEntry } from '../config/env.js';
import { commandCandidates } from './process.js';

/** Where a member's record and reply descriptors are: right after its stdio 0, 1, 2. */
export const POOL_FDS = { record: 3, reply: 4 } as const;

/**
 * `plan` (made with PlanIo.stdio = [0, 1, 2, record, reply]) turned into a member's plan:
 * its final `execve` replaced by `detach` (keeping descriptors 3 and 4) and `awaitRun`. Every
 * step before it stays: namespaces, mounts, pivot_root, user, capabilities, no_new_privs, the
 * seccomp filter, the config's chdir, the closeFrom that marks descriptors from 5 on
 * close-on-exec. Pure.
 *
 * @param idleTimeoutMs how long the member waits for a run before it exits unused (0: no limit)
 * @param keyring the member's own session keyring name, for its `joinSessionKeyring` step:
 *   members share their config's id, and a keyring found by name would be shared by every
 *   member, alive at once, and so by runs (keyrings(7): joining by name finds an existing one)
 * @param receiveStdio the record descriptor is a SOCK_SEQPACKET socket whose messages carry the
 *   run's stdio descriptors (a pool with `stdio: 'per-run'`; see RunRecord.stdio)
 * @throws NsError `ERR_NS_CONFIG` when the plan does not end with execve or already detaches
 *   (a created container waiting for `start` cannot be a pool member).
 * @see native/init/pool.cc
 */
export function poolMemberPlan(plan: Plan, idleTimeoutMs: number, keyring?: string, receiveStdio = false): Plan {
  const steps = plan.steps;
  const last = steps[steps.length - 1];
  if (last?.op !== 'execve' || steps.some((s) => s.op === 'detach' || s.op === 'waitFifo' || s.op === 'awaitRun')) {
    throw new NsError('ERR_NS_CONFIG', 'a pool member needs a plan that ends with execve and does not wait for start');
  }
  const closeFrom = steps.find((s) => s.op === 'closeFrom');
  if (closeFrom?.op !== 'closeFrom' || closeFrom.first !== POOL_FDS.reply + 1) {
    throw new NsError('ERR_NS_CONFIG', 'a pool member plan must keep exactly its stdio, record and reply descriptors (stdio 0-2)');
  }
  return {
    ...plan,
    steps: [
      ...steps.slice(0, -1).map((s) => (keyring !== undefined && s.op === 'joinSessionKeyring' ? { ...s, name: keyring } : s)),
      { op: 'detach', keepFds: 2 },
      { op: 'awaitRun', recordFd: POOL_FDS.record, replyFd: POOL_FDS.reply, idleTimeoutMs, ...(receiveStdio ? { receiveStdio } : {}) },
    ],
  };
}

/** What one run of a pool changes: the command, and optionally its environment and directory. */
export interface PoolRun {
  /** The program and its arguments (OCI `process.args`); argv[0] searched in PATH as execvp(3). */
  args: string[];
  /** `KEY=value` entries (OCI `process.env`); default the config's env (with HOME as planned). */
  env?: string[];
  /** Absolute working directory inside the container; default the config's cwd. */
  cwd?: string;
  /**
   * The run's descriptors 0, 1, 2, only in a pool made with `stdio: 'per-run'`: as
   * child_process `stdio`, `'pipe'` (the default: streams on the returned process),
   * `'inherit'` (the caller's 0, 1, 2), `'ignore'` (/dev/null), a descriptor number or an
   * object with `fd`. They are sent to the member with its record (SCM_RIGHTS).
   */
  stdio?: 'pipe' | 'inherit' | 'ignore' | [RunStdio, RunStdio, RunStdio];
}

/** One of a run's stdio entries (PoolRun.stdio). */
export type RunStdio = 'pipe' | 'inherit' | 'ignore' | number | { fd: number } | null | undefined;

/** A run's stdio entry, checked: what the pool does for descriptor k. */
export type RunStdioEntry = { kind: 'pipe' } | { kind: 'ignore' } | { kind: 'fd'; fd: number };

/**
 * A run's `stdio` (PoolRun.stdio) as three checked entries: `'inherit'` is the caller's own
 * descriptor k, `null`/`undefined` are `'pipe'` (as child_process).
 * @throws NsError `ERR_NS_CONFIG` naming the field (`stdio`, `stdio[1]`): not three entries, an
 *   unknown string, a negative or non-integer descriptor.
 */
export function runStdioEntries(stdio: PoolRun['stdio']): RunStdioEntry[] {
  const bad = (field: string, why: string) => new NsError('ERR_NS_CONFIG', `${field}: ${why}`, { path: field });
  if (typeof stdio === 'string' && stdio !== 'pipe' && stdio !== 'inherit' && stdio !== 'ignore') {
    throw bad('stdio', `expected 'pipe', 'inherit', 'ignore' or three entries (0, 1, 2), got ${JSON.stringify(stdio)}`);
  }
  const list: RunStdio[] = typeof stdio === 'string' || stdio === undefined ? [stdio, stdio, stdio] : stdio;
  if (!Array.isArray(list) || list.length !== 3) throw bad('stdio', "expected 'pipe', 'inherit', 'ignore' or three entries (0, 1, 2)");
  return list.map((e, k): RunStdioEntry => {
    if (e === undefined || e === null || e === 'pipe') return { kind: 'pipe' };
    if (e === 'ignore') return { kind: 'ignore' };
    if (e === 'inherit') return { kind: 'fd', fd: k };
    const fd = typeof e === 'object' ? e.fd : e;
    // A descriptor is an int: larger values would wrap around to another one in the addon.
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw bad(`stdio[${k}]`, `expected 'pipe', 'inherit', 'ignore', a descriptor number (0 to 2147483647) or { fd }, got ${typeof e === 'number' ? String(e) : JSON.stringify(e)}`);
    }
    return { kind: 'fd', fd };
  });
}

/** What a run of a pool defaults to (runRecordOf): the member's planned env and cwd. */
export interface RunDefaults {
  env: readonly string[];
  cwd: string;
  /** `env` encoded once for every run that keeps it (see {@link runDefaults}). */
  encodedEnv?: EncodedRunStrings;
}

/**
 * A pool's run defaults with their env encoded once, not in every run's record.
 * @throws NsError `ERR_NS_CONFIG` naming `env[k]` with a NUL byte
 */
export function runDefaults(env: readonly string[], cwd: string): RunDefaults {
  return { env, cwd, encodedEnv: encodeRunStrings(env, 'env') };
}

/**
 * The record a member gets for `run` (and its encoding, and with `perRunStdio` its checked
 * stdio entries), decided as exec() decides for a config: env deduplicated
 * (the last entry of a key wins), HOME from the member's planned env when missing or empty, the
 * execve candidates from PATH (commandCandidates()).
 *
 * @param defaults the member's planned env (ContainerPlan.env) and the config's cwd
 * @param perRunStdio the pool was made with `stdio: 'per-run'`: `run.stdio` is allowed
 * @throws NsError `ERR_NS_CONFIG` naming the field (`args`, `env[2]`, `cwd`): not an array of
 *   strings, an empty args, an env entry without `=`, a relative cwd, a NUL byte, a record past
 *   64 KiB (see encodeRunRecord), a `stdio` without `perRunStdio` or a bad entry of it.
 */
export function runRecordOf(
  run: PoolRun,
  defaults: RunDefaults,
  perRunStdio = false,
): { record: RunRecord; bytes: Buffer; stdio: RunStdioEntry[] | undefined } {
  const bad = (field: string, why: string) => new NsError('ERR_NS_CONFIG', `${field}: ${why}`, { path: field });
  if (run === null || typeof run !== 'object') throw bad('run', `expected an object with args, got ${run === null ? 'null' : typeof run}`);
  for (const key of Object.keys(run)) {
    if (key === 'stdio' && !perRunStdio) throw bad('stdio', "a run's own stdio needs a pool made with stdio: 'per-run' (else each member's stdio is made with it)");
    if (key !== 'args' && key !== 'env' && key !== 'cwd' && key !== 'stdio') throw bad(key, 'unknown field of a run (args, env, cwd, stdio)');
  }
  const { args } = run;
  if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string') || args[0] === '') {
    throw bad('args', 'expected a non-empty array of strings, the program first');
  }
  let env: string[];
  if (run.env === undefined) {
    env = defaults.env as string[]; // read only, and encoded already (defaults.encodedEnv)
  } else {
    if (!Array.isArray(run.env)) throw bad('env', 'expected an array of KEY=value strings');
    run.env.forEach((e, k) => {
      if (typeof e !== 'string' || !isEnvEntry(e)) throw bad(`env[${k}]`, `expected KEY=value, got ${JSON.stringify(e)}`);
    });
    env = dedupEnv(run.env);
    const home = env.findIndex((e) => e.startsWith('HOME='));
    const planned = defaults.env.find((e) => e.startsWith('HOME=')) ?? 'HOME=/';
    if (home < 0) env.push(planned);
    else if (env[home] === 'HOME=') env[home] = planned;
  }
  const cwd = run.cwd ?? defaults.cwd;
  if (typeof cwd !== 'string' || !cwd.startsWith('/')) throw bad('cwd', `expected an absolute path, got ${JSON.stringify(cwd)}`);
  const stdio = perRunStdio ? runStdioEntries(run.stdio) : undefined;
  // Bit k: descriptor k comes with the record ('ignore' keeps the member's own /dev/null).
  const mask = stdio ? stdio.reduce((m, e, k) => (e.kind === 'ignore' ? m : m | (1 << k)), 0) : 0;
  const record: RunRecord = { cwd, paths: commandCandidates(args[0]!, env), argv: [...args], envp: env, ...(mask ? { stdio: mask } : {}) };
  // Its bounds and NUL checks, before a member is taken.
  return { record, bytes: encodeRunRecord(record, defaults.encodedEnv), stdio };
}
