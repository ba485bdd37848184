/**
 * The limits of one sandboxed run, as isolate's and nsjail's options (isolate(1): --time,
 * --wall-time, --extra-time, --mem, --processes, --open-files, --fsize, --stack; DOMjudge
 * runguard's --streamsize), in the units Node code uses: milliseconds and bytes. Checked at
 * the edge with a zod schema: a malformed limit fails with `ERR_NS_CONFIG` naming its field
 * before anything is created.
 */
import { NsError } from '@ns/namespaces';
import * as z from 'zod/mini';

/** Where the program's standard input comes from. */
export type StdinSource = string | Uint8Array | { file: string };

export interface Limits {
  /**
   * CPU time of the whole run (user + system of every process, from the cgroup's accounting),
   * in milliseconds (isolate `--time`, in seconds there). Over it the verdict is `TO`.
   */
  cpuTimeMs?: number;
  /** Wall-clock time in milliseconds (isolate `--wall-time`): killed when it passes, `TO`. */
  wallTimeMs?: number;
  /**
   * Grace in milliseconds past `cpuTimeMs` before the run is killed (isolate `--extra-time`):
   * a program finishing in the grace still gets `TO`, but its whole run time is reported.
   */
  extraTimeMs?: number;
  /** Memory (RAM, page cache and tmpfs files included; no swap) in bytes: cgroup memory limit. Over it: `OOM`. */
  memoryBytes?: number;
  /** Tasks (processes and threads) at once: cgroup pids.max (isolate `--processes`). */
  processes?: number;
  /** Open descriptors per process: RLIMIT_NOFILE, soft and hard (isolate `--open-files`). */
  openFiles?: number;
  /** Largest file a process may write, in bytes: RLIMIT_FSIZE (isolate `--fsize`, KiB there). */
  fileSizeBytes?: number;
  /** Stack size per process in bytes: RLIMIT_STACK (isolate `--stack`). */
  stackBytes?: number;
  /**
   * Output captured per stream (stdout and stderr each), in bytes (DOMjudge runguard
   * `--streamsize`): past it the rest is dropped, the stream flagged `truncated`, the run
   * killed and the verdict `OLE`. Default 64 MiB, at most 2 GiB; 0 allows no output at all
   * (the first byte is `OLE`), it is not "no limit".
   */
  outputBytes?: number;
  /** Standard input: a string or bytes (written to a pipe), or `{ file }` (opened read-only). Default: /dev/null. */
  stdin?: StdinSource;
}

/** Limits after validation: the output cap is always set. */
export type CheckedLimits = Omit<Limits, 'outputBytes'> & { outputBytes: number };

/** The output cap when none is given (per stream). */
export const DEFAULT_OUTPUT_BYTES = 64 * 1024 * 1024;

const positiveInt = z.number().check(z.int(), z.positive(), z.maximum(Number.MAX_SAFE_INTEGER));
const nonNegative = z.number().check(z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER));

const stdinSchema = z.union([z.string(), z.instanceof(Uint8Array), z.strictObject({ file: z.string().check(z.minLength(1)) })]);

/** The schema of {@link Limits} (zod/mini): unknown keys are refused, so a typo names itself. */
export const limitsSchema = z.strictObject({
  cpuTimeMs: z.optional(positiveInt),
  wallTimeMs: z.optional(positiveInt),
  extraTimeMs: z.optional(nonNegative),
  memoryBytes: z.optional(z.number().check(z.int(), z.minimum(1024 * 1024), z.maximum(Number.MAX_SAFE_INTEGER))),
  processes: z.optional(positiveInt),
  openFiles: z.optional(z.number().check(z.int(), z.minimum(3), z.maximum(1 << 30))),
  fileSizeBytes: z.optional(z.number().check(z.int(), z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER))),
  stackBytes: z.optional(positiveInt),
  outputBytes: z.optional(z.number().check(z.int(), z.nonnegative(), z.maximum(2 ** 31))),
  stdin: z.optional(stdinSchema),
});

/** What a zod issue expected, in words (`expected a positive integer, got -1`). */
function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  const got = value instanceof Uint8Array ? 'bytes' : JSON.stringify(value) ?? String(value);
  if (issue.code === 'unrecognized_keys') return `unknown limit${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return `${issue.message} (got ${got})`;
}

/**
 * Check limits and fill in the defaults. Each field is optional; a field left out is not
 * limited (but for `outputBytes`, {@link DEFAULT_OUTPUT_BYTES}).
 *
 * @param limits see {@link Limits}; units are milliseconds and bytes
 * @returns the limits with `outputBytes` set
 * @throws NsError `ERR_NS_CONFIG` naming the field (`limits.cpuTimeMs: Too small: expected
 *   number to be >0 (got -1)`), for a negative, non-integer, string or unknown limit
 */
export function validateLimits(limits: unknown): CheckedLimits {
  if (limits === undefined) return { outputBytes: DEFAULT_OUTPUT_BYTES };
  const r = limitsSchema.safeParse(limits);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = issue.path[0];
    const field = key === undefined ? 'limits' : `limits.${issue.path.map(String).join('.')}`;
    const value = key === undefined || limits === null || typeof limits !== 'object' ? limits : (limits as Record<string, unknown>)[String(key)];
    throw new NsError('ERR_NS_CONFIG', `${field}: ${describeIssue(issue, value)}`, { path: field });
  }
  return { ...r.data, outputBytes: r.data.outputBytes ?? DEFAULT_OUTPUT_BYTES } as CheckedLimits;
}
