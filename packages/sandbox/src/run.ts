/**
 * One limited run with a verdict, the job of isolate (`isolate --run`) and nsjail
 * (`--mode o`): start the program in a container of its own, hold it to its limits without
 * blocking the event loop, and whatever happens, kill everything it started and remove its
 * cgroups before the verdict is returned.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { NsError, execAsync, type Container, type ContainerExit, type ContainerProcess, type ValidContainer } from '@ns/namespaces';
import { RunCgroup } from './accounting.js';
import { sandboxContainer, type LayerOptions } from './container.js';
import { validateLimits, type CheckedLimits, type Limits } from './limits.js';
import { CappedCapture, planStdin, type StdinPlan } from './stdio.js';
import { decideStatus, failedVerdict, type KillReason, type Verdict } from './verdict.js';

/** Where runs get their cgroups when the caller names no parent. */
export const DEFAULT_CGROUP_PARENT = '/ns-sandbox';

export interface RunOptions {
  /**
   * The cgroup under which each run makes its own (`<parent>/<run id>`, the container's at
   * `<parent>/<run id>/box`); an absolute cgroup path, default {@link DEFAULT_CGROUP_PARENT}.
   * It is made when missing and left in place (as runc leaves parents).
   */
  cgroupParent?: string;
  /** The writable layer (see LayerOptions): default a fresh tmpfs on /tmp over a read-only rootfs. */
  layer?: LayerOptions;
  /** A prefix for the run's container id (default `sbx`); the id is unique per run. */
  idPrefix?: string;
  /**
   * Run the program under ns's init (@ns/namespaces Container `init`): default true (unless
   * the config says `init: false`). The program is then not the container's pid 1, so the
   * kernel's signals have their default actions (SIGXFSZ past `fileSizeBytes`, SIGPIPE on a
   * pipe nobody reads, SIGTERM, SIGSEGV from a kill(2)) and give `SG`, as on the host; orphans
   * are reaped. The init is not counted in `processes`. With false the program is pid 1 and
   * such signals are ignored (a write past the file size limit fails with EFBIG instead).
   */
  init?: boolean;
  /**
   * Cancel the run: it is killed, cleaned up like any other, and run() rejects with an
   * `ABORT_ERR` NsError (as child_process and fetch do) instead of returning a verdict.
   */
  signal?: AbortSignal;
}

let counter = 0;

/** A container id no other run of any process uses (`sbx-<pid>-<n>-<random>`). @internal run() and createSandboxPool() */
export function runId(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
}

/** An absolute, normalized cgroup path. @throws NsError ERR_NS_CONFIG naming `cgroupParent` @internal */
export function checkParent(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..')) {
    throw new NsError('ERR_NS_CONFIG', `cgroupParent: expected an absolute cgroup path such as "/ns-sandbox", got ${JSON.stringify(path)}`, { path: 'cgroupParent' });
  }
  return path;
}

/** Errors run() rejects with (after cleaning up) rather than turning into an XX verdict. @internal */
export const isThrown = (err: unknown): boolean => err instanceof Error && ['ERR_NS_CONFIG', 'ABORT_ERR'].includes((err as { code?: string }).code ?? '');

/** @internal */
export function abortError(signal: AbortSignal): NsError {
  return new NsError('ABORT_ERR', 'The operation was aborted', { cause: signal.reason });
}

/** What watching a started run gives. */
interface Watched {
  exit: ContainerExit;
  killedFor: KillReason;
  stdout: CappedCapture;
  stderr: CappedCapture;
  wallMs: number;
  /** The largest process's resident set (the process handle's, from waitid's rusage), KiB. */
  maxRssKiB: number | undefined;
}

/**
 * Hold a started run to its time and output limits until it has exited and its output is
 * read: a wall timer, and the cgroup's cpu time polled on timers (each check one file read,
 * more often as the budget runs out, at most every 100 ms), never blocking the event loop.
 */
async function watch(
  proc: ContainerProcess,
  limits: CheckedLimits,
  acct: RunCgroup,
  stdin: StdinPlan,
  start: number,
  signal?: AbortSignal,
): Promise<Watched> {
  let killedFor: KillReason = null;
  let aborted = false;
  // Called from timers and stream events: must never throw (run()'s finally kills it anyway).
  const sigkill = () => {
    try {
      proc.kill('SIGKILL');
    } catch {
      // gone already
    }
  };
  const kill = (why: Exclude<KillReason, null>) => {
    if (killedFor === null) killedFor = why;
    sigkill();
  };
  const onAbort = () => {
    aborted = true;
    sigkill();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort(); // aborted while it was starting
  const stdout = new CappedCapture(limits.outputBytes, () => kill('output'));
  const stderr = new CappedCapture(limits.outputBytes, () => kill('output'));
  stdout.attach(proc.stdout);
  stderr.attach(proc.stderr);
  stdin.feed(proc.stdin);

  let wallTimer: NodeJS.Timeout | undefined;
  let cpuTimer: NodeJS.Timeout | undefined;
  if (limits.wallTimeMs !== undefined) {
    wallTimer = setTimeout(() => kill('wall'), Math.max(0, start + limits.wallTimeMs - performance.now()));
  }
  if (limits.cpuTimeMs !== undefined) {
    const budgetMs = limits.cpuTimeMs + (limits.extraTimeMs ?? 0);
    const next = (leftMs: number) => Math.min(100, Math.max(5, leftMs / 2));
    const check = () => {
      const usedMs = acct.cpuNs() / 1e6;
      if (usedMs > budgetMs) return kill('cpu');
      cpuTimer = setTimeout(check, next(budgetMs - usedMs));
    };
    cpuTimer = setTimeout(check, next(budgetMs));
  }
  let wallMs = 0;
  proc.once('exit', () => (wallMs = performance.now() - start));
  try {
    const exit = await proc.wait();
    if (aborted) throw abortError(signal!);
    return { exit, killedFor, stdout, stderr, wallMs: wallMs || performance.now() - start, maxRssKiB: proc.maxRssKiB ?? undefined };
  } finally {
    clearTimeout(wallTimer);
    clearTimeout(cpuTimer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Run `container` once under `limits` and return its verdict, as `isolate --run` with
 * `--meta` (see formatMeta for the file) or nsjail in once mode.
 *
 * The run gets a container of its own (fresh namespaces, id `sbx-…`), in a cgroup of its own
 * holding the memory and process limits, below a cgroup that accounts for the whole run
 * (`<cgroupParent>/<id>`). CPU time (user + system of every process, from the cgroup; as with
 * isolate's cgroup timing it includes the container's own set-up before execve, about a
 * millisecond) is checked on timers and the run killed past `cpuTimeMs + extraTimeMs`; a
 * timer kills it at `wallTimeMs`; output past `outputBytes` on either stream kills it too.
 * The rootfs is read-only with a fresh tmpfs on /tmp (options.layer), discarded with the run.
 * Open files, file size and stack are rlimits, and core dumps are off. Without `wallTimeMs`
 * nothing stops a program that sleeps (as isolate): graders should always give one.
 *
 * Whatever happens (a limit, an exception, a failed start) every process of the run is killed
 * and both cgroups are removed before this resolves.
 *
 * @param container a container config (`rootfsContainer(dir, { args })` ...); its id,
 *   terminal, cgroupsPath, and rlimits of the types the limits set are replaced, its
 *   resources kept under the limits'
 * @param limits see Limits: milliseconds and bytes; left out, unlimited (output: 64 MiB per stream)
 * @returns the verdict: status OK, RE, SG, TO, OOM, OLE, or XX when the sandbox could not
 *   start or watch the run (the message says why: `ENOENT: execve /bin/nope: ENOENT`)
 * @throws NsError `ERR_NS_CONFIG` naming the field, for malformed limits (`limits.memoryBytes`),
 *   a bad `cgroupParent`, or a container config exec() refuses; `ABORT_ERR` when
 *   `options.signal` aborts (the run killed first). Nothing is left behind either way.
 */
export async function run(container: Container | ValidContainer, limits?: Limits, options: RunOptions = {}): Promise<Verdict> {
  const checked = validateLimits(limits);
  const parent = checkParent(options.cgroupParent ?? DEFAULT_CGROUP_PARENT);
  if (options.signal?.aborted) throw abortError(options.signal);
  const id = runId(options.idPrefix ?? 'sbx');
  const start = performance.now();
  let acct: RunCgroup;
  try {
    acct = RunCgroup.create(`${parent === '/' ? '' : parent}/${id}`);
  } catch (err) {
    return failedVerdict(err, performance.now() - start);
  }
  let proc: ContainerProcess | undefined;
  let verdict: Verdict;
  try {
    verdict = await startAndWatch(container, checked, options, id, acct, start, (p) => (proc = p));
  } catch (err) {
    if (isThrown(err)) {
      await acct.destroy().catch(() => undefined);
      throw err;
    }
    verdict = failedVerdict(err, performance.now() - start);
  } finally {
    // An exception while watching must not leave the program running.
    const p = proc as ContainerProcess | undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await p.exited();
    }
  }
  try {
    await acct.destroy();
  } catch (err) {
    return { ...verdict, status: 'XX', message: `${verdict.message ? `${verdict.message}; ` : ''}cleanup failed: ${(err as Error).message}` };
  }
  return verdict;
}

async function startAndWatch(
  container: Container | ValidContainer,
  limits: CheckedLimits,
  options: RunOptions,
  id: string,
  acct: RunCgroup,
  start: number,
  started: (p: ContainerProcess) => void,
): Promise<Verdict> {
  const box = sandboxContainer(container as Container, limits, {
    id,
    cgroupsPath: acct.boxPath,
    ...(options.layer ? { layer: options.layer } : {}),
    ...(options.init !== undefined ? { init: options.init } : {}),
  });
  const stdin = planStdin(limits.stdin);
  let proc: ContainerProcess;
  try {
    proc = await execAsync(box, { stdio: [stdin.entry, 'pipe', 'pipe'] });
  } finally {
    stdin.close();
  }
  started(proc);
  return verdictOf(proc, limits, acct, stdin, start, options.signal);
}

/**
 * Watch a started run to its end (watch()) and make its verdict from what it did and what its
 * cgroup accounted. @internal run() and createSandboxPool()
 */
export async function verdictOf(proc: ContainerProcess, limits: CheckedLimits, acct: RunCgroup, stdin: StdinPlan, start: number, signal?: AbortSignal): Promise<Verdict> {
  const w = await watch(proc, limits, acct, stdin, start, signal);
  const usage = acct.usage();
  const measured = {
    exitCode: w.exit.exitCode,
    signal: w.exit.signal,
    cpuMs: usage.cpuNs / 1e6,
    wallMs: w.wallMs,
    oomKilled: w.exit.oomKilled === true || usage.oomKills > 0,
    killedFor: w.killedFor,
    truncated: { stdout: w.stdout.truncated, stderr: w.stderr.truncated },
  };
  const { status, message } = decideStatus(measured, limits);
  return {
    status,
    exitCode: measured.exitCode,
    signal: measured.signal,
    cpuMs: Math.round(measured.cpuMs * 1000) / 1000,
    wallMs: Math.round(measured.wallMs * 1000) / 1000,
    maxRssKiB: w.maxRssKiB ?? Math.ceil(usage.peakBytes / 1024),
    cgroupMemKiB: Math.ceil(usage.peakBytes / 1024),
    oomKilled: measured.oomKilled,
    killed: measured.killedFor !== null,
    stdout: w.stdout.data(),
    stderr: w.stderr.data(),
    truncated: measured.truncated,
    message,
  };
}
