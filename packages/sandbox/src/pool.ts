/**
 * Limited runs from a warm pool (issue 14): run()'s containers made in advance with
 * @ns/namespaces createPool(), each in its own pair of cgroups with the pool's limits written,
 * its read-only rootfs and fresh tmpfs layer mounted, waiting just before execve. A run hands
 * over its command and gets the same verdict run() gives.
 *
 * Limits are fixed when the pool is made (they shape the members: cgroup limits, rlimits, the
 * tmpfs size); a run brings its command, environment, working directory and stdin.
 */
import { performance } from 'node:perf_hooks';
import { NsError, createPool, type Container, type ContainerProcess, type Pool, type ValidContainer } from '@ns/namespaces';
import { RunCgroup } from './accounting.js';
import { sandboxContainer } from './container.js';
import { validateLimits, type Limits } from './limits.js';
import { DEFAULT_CGROUP_PARENT, abortError, checkParent, isThrown, runId, verdictOf, type RunOptions } from './run.js';
import { planStdin, type StdinPlan } from './stdio.js';
import { failedVerdict, type Verdict } from './verdict.js';

export interface SandboxPoolOptions extends Omit<RunOptions, 'signal'> {
  /** Members kept ready (an integer >= 1). */
  size: number;
  /** Make a fresh member for each one used (default true). See PoolOptions.refill. */
  refill?: boolean;
  /** Milliseconds an unused member waits before it goes away with its cgroups (default 0: no limit). */
  idleTimeoutMs?: number;
}

/** What one run of a sandbox pool brings. */
export interface SandboxRunInput {
  /** The program and its arguments; default the config's args. */
  args?: string[];
  /** `KEY=value` entries; default the config's env. */
  env?: string[];
  /** Absolute working directory; default the config's cwd. */
  cwd?: string;
  /** Bytes for its stdin (default the limits' `stdin`, else none: end of file at once). */
  stdin?: string | Uint8Array;
  /** Cancel the run: killed, cleaned up, and run() rejects with `ABORT_ERR`. */
  signal?: AbortSignal;
}

/** A pool made by {@link createSandboxPool}. */
export interface SandboxPool {
  /**
   * One run in a ready member: the verdict run() gives (OK, RE, SG, TO, OOM, OLE, XX), its
   * wall time counted from this call (the set-up was done before; its CPU time, about a
   * millisecond, is in the cgroup's account as with run()). Whatever happens the run's
   * processes are killed and its cgroups removed before this resolves.
   * @throws NsError `ERR_NS_CONFIG` naming the field of a bad input (`args`, `env[0]`, `cwd`,
   *   `stdin`: bytes only, a file is refused; an unknown field), before a member is taken;
   *   `ERR_NS_STATE` on a closed pool; `ABORT_ERR` when `input.signal` aborts.
   */
  run(input?: SandboxRunInput): Promise<Verdict>;
  /** Remove the idle members and their cgroups; runs in progress finish on their own. */
  close(): Promise<void>;
  readonly idle: number;
  /** The error of the last member start that failed in the background (see Pool.refillError), or undefined. */
  readonly refillError: unknown;
}

/** The fields of SandboxPoolOptions. */
const SANDBOX_POOL_OPTIONS: readonly string[] = ['size', 'refill', 'idleTimeoutMs', 'cgroupParent', 'layer', 'idPrefix', 'init'];

/**
 * Create a pool of `options.size` containers for limited runs of `container` under `limits`
 * (as run() would start them: see run() for the cgroups, the layer and the limits). Resolves
 * once the first member is ready: a config or limits that cannot start fail here.
 *
 * @throws NsError `ERR_NS_CONFIG` for malformed limits (`limits.memoryBytes`), a `stdin` file
 *   in the limits (a pool takes bytes: `SandboxRunInput.stdin`), bad pool options (`size`, an
 *   unknown one), a bad `cgroupParent`, a container that is not an object; the error of the
 *   first member's failed start. Nothing is left behind.
 */
export async function createSandboxPool(container: Container | ValidContainer, limits: Limits | undefined, options: SandboxPoolOptions): Promise<SandboxPool> {
  const bad = (field: string, why: string) => new NsError('ERR_NS_CONFIG', `${field}: ${why}`, { path: field });
  if (container === null || typeof container !== 'object') throw bad('container', 'expected a container config');
  if (options === null || typeof options !== 'object') throw bad('options', 'expected { size }');
  // A misspelt option (`idleTimeout`) is an error, not a default silently taken, as createPool's.
  const unknown = Object.keys(options).find((k) => !SANDBOX_POOL_OPTIONS.includes(k));
  if (unknown !== undefined) throw bad(unknown, `unknown sandbox pool option (expected one of ${SANDBOX_POOL_OPTIONS.join(', ')})`);
  const checked = validateLimits(limits);
  if (checked.stdin !== undefined && typeof checked.stdin === 'object' && !(checked.stdin instanceof Uint8Array)) {
    throw new NsError('ERR_NS_CONFIG', 'limits.stdin: a file cannot be the stdin of pooled runs (their stdin is a pipe made in advance): pass its bytes to run({ stdin })', { path: 'limits.stdin' });
  }
  const parent = checkParent(options.cgroupParent ?? DEFAULT_CGROUP_PARENT);
  const accts = new Map<string, RunCgroup>();
  const destroy = async (id: string) => {
    const acct = accts.get(id);
    accts.delete(id);
    await acct?.destroy();
  };
  const pool: Pool = await createPool(container, {
    size: options.size,
    ...(options.refill !== undefined ? { refill: options.refill } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    stdio: 'pipe',
    memberConfig: () => {
      const id = runId(options.idPrefix ?? 'sbx');
      const acct = RunCgroup.create(`${parent === '/' ? '' : parent}/${id}`);
      accts.set(id, acct);
      try {
        return sandboxContainer(container as Container, checked, { id, cgroupsPath: acct.boxPath, ...(options.layer ? { layer: options.layer } : {}) });
      } catch (err) {
        void destroy(id);
        throw err;
      }
    },
    onDiscard: destroy,
  });
  const defaultArgs = container.args;

  return {
    async run(input: SandboxRunInput = {}): Promise<Verdict> {
      checkRunInput(input);
      if (input.signal?.aborted) throw abortError(input.signal);
      const start = performance.now();
      let proc: ContainerProcess;
      try {
        proc = await pool.exec({
          args: input.args ?? [...defaultArgs],
          ...(input.env !== undefined ? { env: input.env } : {}),
          ...(input.cwd !== undefined ? { cwd: input.cwd } : {}),
        });
      } catch (err) {
        if (isThrown(err) || (err as NsError).code === 'ERR_NS_STATE') throw err;
        return failedVerdict(err, performance.now() - start); // the member and its cgroups: gone (onDiscard)
      }
      const acct = accts.get(proc.id)!;
      accts.delete(proc.id);
      const bytes = input.stdin ?? (checked.stdin as string | Uint8Array | undefined);
      const stdin: StdinPlan = bytes === undefined ? { entry: 'pipe', feed: (s) => void s?.on('error', () => undefined).end(), close: () => undefined } : planStdin(bytes);
      let verdict: Verdict;
      try {
        verdict = await verdictOf(proc, checked, acct, stdin, start, input.signal);
      } catch (err) {
        if (isThrown(err)) {
          await killed(proc);
          await acct.destroy().catch(() => undefined);
          throw err;
        }
        verdict = failedVerdict(err, performance.now() - start);
      } finally {
        await killed(proc);
      }
      try {
        await acct.destroy();
      } catch (err) {
        return { ...verdict, status: 'XX', message: `${verdict.message ? `${verdict.message}; ` : ''}cleanup failed: ${(err as Error).message}` };
      }
      return verdict;
    },
    close: () => pool.close(),
    get idle() {
      return pool.idle;
    },
    get refillError() {
      return pool.refillError;
    },
  };
}

const RUN_INPUT_FIELDS = new Set(['args', 'env', 'cwd', 'stdin', 'signal']);

/**
 * The shape of a pool run's input, checked before a member is taken (the fields pool.exec()
 * checks further: `args`, `env`, `cwd`, are checked there, also before it takes a member).
 * @throws NsError `ERR_NS_CONFIG` naming the field: an unknown one, a `stdin` that is not a
 *   string or a Uint8Array (a `{ file }` cannot feed a pipe made in advance), a `signal` that
 *   is not an AbortSignal.
 */
function checkRunInput(input: unknown): asserts input is SandboxRunInput {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new NsError('ERR_NS_CONFIG', `run input: expected an object such as { args: [...] }, got ${JSON.stringify(input) ?? String(input)}`, { path: 'input' });
  }
  const unknown = Object.keys(input).filter((k) => !RUN_INPUT_FIELDS.has(k));
  if (unknown.length > 0) {
    throw new NsError('ERR_NS_CONFIG', `${unknown[0]}: unknown field of a pool run's input (expected ${[...RUN_INPUT_FIELDS].join(', ')})`, { path: unknown[0]! });
  }
  const { stdin, signal } = input as SandboxRunInput;
  if (stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array)) {
    const file = typeof stdin === 'object' && stdin !== null && 'file' in stdin;
    throw new NsError('ERR_NS_CONFIG', file
      ? 'stdin: a file cannot be the stdin of a pooled run (its stdin is a pipe made in advance): pass its bytes (fs.readFileSync)'
      : `stdin: expected a string or a Uint8Array, got ${JSON.stringify(stdin) ?? String(stdin)}`, { path: 'stdin' });
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new NsError('ERR_NS_CONFIG', 'signal: expected an AbortSignal', { path: 'signal' });
  }
}

/** The run's process gone (an exception while watching must not leave it running). */
async function killed(p: ContainerProcess): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await p.exited();
  }
}
