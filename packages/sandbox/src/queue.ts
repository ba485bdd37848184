/**
 * Many runs with a bound on how many run at once, verdicts in the order the jobs were given:
 * what a grader does with a batch of test cases (Judge0's workers, DOMjudge's judgehosts).
 * Each run is isolated from the others as run() makes it: fresh namespaces, a fresh writable
 * layer over the read-only rootfs, a cgroup of its own.
 */
import { availableParallelism } from 'node:os';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Container, ValidContainer } from '@ns/namespaces';
import { NsError } from '@ns/namespaces';
import { validateLimits, type Limits } from './limits.js';
import { run, type RunOptions } from './run.js';
import type { Verdict } from './verdict.js';

/** One job of a batch: a container and its limits (and run options over the queue's). */
export interface Job {
  container: Container | ValidContainer;
  limits?: Limits;
  options?: RunOptions;
}

/** @throws NsError ERR_NS_CONFIG naming `concurrency` unless it is a positive integer */
function checkConcurrency(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new NsError('ERR_NS_CONFIG', `concurrency: expected a positive integer, got ${JSON.stringify(n)}`, { path: 'concurrency' });
  }
  return n;
}

/**
 * A queue of runs with a concurrency bound (p-limit): `push()` returns the job's verdict when
 * its turn has come and gone. Runs start in the order they were pushed.
 */
export class SandboxQueue {
  private readonly limit: LimitFunction;
  private readonly options: RunOptions;

  /**
   * @param options `concurrency`: runs at once (default: the number of CPUs, availableParallelism());
   *   the rest are RunOptions every run gets (a job's own options win)
   * @throws NsError `ERR_NS_CONFIG` for a concurrency that is not a positive integer
   */
  constructor(options: RunOptions & { concurrency?: number } = {}) {
    const { concurrency, ...runOptions } = options;
    this.limit = pLimit(checkConcurrency(concurrency ?? availableParallelism()));
    this.options = runOptions;
  }

  /**
   * Queue one run (see run()). Its limits are checked now, so a malformed one rejects at
   * once, before any run of the batch starts.
   * @returns the verdict; rejects only with run()'s `ERR_NS_CONFIG` errors
   */
  push(job: Job): Promise<Verdict> {
    try {
      validateLimits(job.limits);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.limit(() => run(job.container, job.limits, { ...this.options, ...job.options }));
  }

  /** Runs in progress now. */
  get active(): number {
    return this.limit.activeCount;
  }

  /** Runs waiting for their turn. */
  get pending(): number {
    return this.limit.pendingCount;
  }
}

/**
 * Run a batch with at most `concurrency` runs at once and return the verdicts in the order of
 * `jobs`. Every job's limits are checked before any run starts.
 *
 * @param jobs containers with their limits (see run())
 * @param options `concurrency` (default the number of CPUs) and RunOptions for every run
 * @throws NsError `ERR_NS_CONFIG` naming the job (`jobs[2].limits.cpuTimeMs: ...`) before
 *   anything runs, or from a run whose container config exec() refuses (the other runs of
 *   the batch still finish and clean up first)
 */
export async function runMany(jobs: readonly Job[], options: RunOptions & { concurrency?: number } = {}): Promise<Verdict[]> {
  jobs.forEach((job, i) => {
    try {
      validateLimits(job.limits);
    } catch (err) {
      const e = err as NsError;
      throw new NsError('ERR_NS_CONFIG', `jobs[${i}].${e.message}`, { path: `jobs[${i}].${e.path ?? 'limits'}`, cause: err });
    }
  });
  const queue = new SandboxQueue(options);
  const settled = await Promise.allSettled(jobs.map((job) => queue.push(job)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<Verdict>).value);
}
