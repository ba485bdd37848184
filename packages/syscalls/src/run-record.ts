/**
 * The run record a pre-created container (an `awaitRun` step, native/init/pool.cc) reads: the
 * per-run part of a start, everything decided here. Little-endian:
 * `u32 bytes, u32 npaths, u32 argc, u32 envc, u32 stdio`, then NUL-terminated strings: cwd,
 * paths[npaths], argv[argc], envp[envc] (`bytes` counts what follows it).
 */
import { NsError } from './errors.js';

/** What one run hands to a waiting container. */
export interface RunRecord {
  /** Working directory, as the container sees it (chdir(2)). */
  cwd: string;
  /** The execve(2) candidates in order, as execvp(3) tries them (commandCandidates()). */
  paths: string[];
  argv: string[];
  envp: string[];
  /**
   * Which of descriptors 0, 1, 2 the run replaces (bit k for descriptor k), with descriptors
   * sent along with the record, in order (a member with `receiveStdio`). Default 0.
   */
  stdio?: number;
}

/** Bounds of a record (native NS_RUN_MAX_BYTES, NS_RUN_MAX_STRINGS): ns-init reads it into a static buffer. */
export const RUN_RECORD_LIMITS = { bytes: 65536, strings: 4096 } as const;

/**
 * The awaitRun step's replies (ns_msg `code` and `value`): `unused` from a member that goes
 * away without taking a run (idle timeout, the pool's end closed); a failure has an errno as
 * code and `record`, `chdir` or `execve` as value. End of file with no reply: the program runs.
 * `idleExit` is the exit status of a member gone unused.
 */
export const RUN_REPLY = { unused: 0, record: 1, chdir: 2, execve: 3, idleExit: 0 } as const;

function bad(field: string, why: string): NsError {
  return new NsError('ERR_NS_CONFIG', `${field}: ${why}`, { path: field });
}

/**
 * Strings checked and encoded as a record holds them (each NUL-terminated, UTF-8): a list that
 * does not change from run to run (a pool's default env) encoded once, for
 * {@link encodeRunRecord}'s `envp`.
 * @param field the field named in errors: `env` gives `env[2]`
 * @throws NsError `ERR_NS_CONFIG` naming the entry: not a string, a NUL byte
 */
export function encodeRunStrings(list: readonly string[], field: string): EncodedRunStrings {
  const text = joined(list, field, true);
  return { list, bytes: Buffer.from(text, 'utf8') };
}

/** A list of strings encoded by {@link encodeRunStrings}. */
export interface EncodedRunStrings {
  readonly list: readonly string[];
  readonly bytes: Buffer;
}

/**
 * The strings of `list`, checked, each followed by a NUL: one string, written into the record
 * with one call (its UTF-8 is that of the strings one after the other).
 */
function joined(list: readonly unknown[], field: string, indexed: boolean): string {
  let out = '';
  for (let k = 0; k < list.length; k++) {
    const s = list[k];
    if (typeof s !== 'string') throw bad(indexed ? `${field}[${k}]` : field, `expected a string, got ${typeof s}`);
    if (s.includes('\0')) throw bad(indexed ? `${field}[${k}]` : field, 'contains a NUL byte');
    out += s + '\0';
  }
  return out;
}

/**
 * Encode `run` for an awaitRun step.
 * @param envp `run.envp` already encoded ({@link encodeRunStrings}): used, not encoded again,
 *   when `run.envp` is that very list (the same array)
 * @throws NsError `ERR_NS_CONFIG` naming the field: a string with a NUL byte, no argv or no
 *   candidate path, or a record past {@link RUN_RECORD_LIMITS} (64 KiB, 4096 strings).
 */
export function encodeRunRecord(run: RunRecord, envp?: EncodedRunStrings): Buffer {
  const { cwd, paths, argv } = run;
  if (argv.length === 0) throw bad('args', 'expected at least the program');
  if (paths.length === 0) throw bad('args', 'no path to execute');
  const count = 1 + paths.length + argv.length + run.envp.length;
  if (count > RUN_RECORD_LIMITS.strings) throw bad('args', `more than ${RUN_RECORD_LIMITS.strings} arguments and environment entries in all`);
  const mask = run.stdio ?? 0;
  if (!Number.isInteger(mask) || mask < 0 || mask > 7) throw bad('stdio', `expected a mask of descriptors 0-2, got ${String(mask)}`);
  // This runs in every pool.exec(), on the caller's time: the strings are checked and joined in
  // JavaScript, then measured and written with one call each, the env copied when encoded already.
  const head = joined([cwd], 'cwd', false) + joined(paths, 'args', false) + joined(argv, 'args', true);
  const env = envp !== undefined && envp.list === run.envp ? envp.bytes : undefined;
  const tail = env ? '' : joined(run.envp, 'env', true);
  const headBytes = Buffer.byteLength(head, 'utf8');
  const size = 16 + headBytes + (env ? env.length : Buffer.byteLength(tail, 'utf8'));
  if (size > RUN_RECORD_LIMITS.bytes) throw bad('args', `the run's arguments, environment and cwd take ${size} bytes, more than the ${RUN_RECORD_LIMITS.bytes} a pool member reads`);
  const out = Buffer.allocUnsafe(4 + size);
  out.writeUInt32LE(size, 0);
  out.writeUInt32LE(paths.length, 4);
  out.writeUInt32LE(argv.length, 8);
  out.writeUInt32LE(run.envp.length, 12);
  out.writeUInt32LE(mask, 16);
  out.write(head, 20, 'utf8');
  if (env) out.set(env, 20 + headBytes);
  else if (tail) out.write(tail, 20 + headBytes, 'utf8');
  return out;
}
