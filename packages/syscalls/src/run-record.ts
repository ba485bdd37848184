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
 * {@link encodeRunRecord}'s `encoded`.
 * @param field the field named in errors: `env` gives `env[2]`
 * @throws NsError `ERR_NS_CONFIG` naming the entry: not a string, a NUL byte
 */
export function encodeRunStrings(list: readonly string[], field: string): EncodedRunStrings {
  let size = 0;
  for (let k = 0; k < list.length; k++) size += checkedLength(list[k], () => `${field}[${k}]`);
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for (const s of list) {
    at += bytes.write(s, at, 'utf8');
    bytes[at++] = 0;
  }
  return { list, bytes };
}

/** A list of strings encoded by {@link encodeRunStrings}. */
export interface EncodedRunStrings {
  readonly list: readonly string[];
  readonly bytes: Buffer;
}

/** The bytes `s` takes in a record (with its NUL), checked. */
function checkedLength(s: unknown, field: () => string): number {
  if (typeof s !== 'string') throw bad(field(), `expected a string, got ${typeof s}`);
  if (s.includes('\0')) throw bad(field(), 'contains a NUL byte');
  return Buffer.byteLength(s, 'utf8') + 1;
}

/**
 * Encode `run` for an awaitRun step.
 * @param envp `run.envp` already encoded ({@link encodeRunStrings}): used, not encoded again,
 *   when `run.envp` is that very list (the same array)
 * @throws NsError `ERR_NS_CONFIG` naming the field: a string with a NUL byte, no argv or no
 *   candidate path, or a record past {@link RUN_RECORD_LIMITS} (64 KiB, 4096 strings).
 */
export function encodeRunRecord(run: RunRecord, envp?: EncodedRunStrings): Buffer {
  if (run.argv.length === 0) throw bad('args', 'expected at least the program');
  if (run.paths.length === 0) throw bad('args', 'no path to execute');
  const count = 1 + run.paths.length + run.argv.length + run.envp.length;
  if (count > RUN_RECORD_LIMITS.strings) throw bad('args', `more than ${RUN_RECORD_LIMITS.strings} arguments and environment entries in all`);
  const mask = run.stdio ?? 0;
  if (!Number.isInteger(mask) || mask < 0 || mask > 7) throw bad('stdio', `expected a mask of descriptors 0-2, got ${String(mask)}`);
  // One pass to check and size, one to write: this runs in every pool.exec(), on the caller's time.
  const env = envp !== undefined && envp.list === run.envp ? envp.bytes : undefined;
  let size = 16 + checkedLength(run.cwd, () => 'cwd');
  for (let k = 0; k < run.paths.length; k++) size += checkedLength(run.paths[k], () => 'args');
  for (let k = 0; k < run.argv.length; k++) size += checkedLength(run.argv[k], () => `args[${k}]`);
  if (env) size += env.length;
  else for (let k = 0; k < run.envp.length; k++) size += checkedLength(run.envp[k], () => `env[${k}]`);
  if (size > RUN_RECORD_LIMITS.bytes) throw bad('args', `the run's arguments, environment and cwd take ${size} bytes, more than the ${RUN_RECORD_LIMITS.bytes} a pool member reads`);
  const out = Buffer.allocUnsafe(4 + size);
  out.writeUInt32LE(size, 0);
  out.writeUInt32LE(run.paths.length, 4);
  out.writeUInt32LE(run.argv.length, 8);
  out.writeUInt32LE(run.envp.length, 12);
  out.writeUInt32LE(mask, 16);
  let at = 20;
  const put = (s: string): void => {
    at += out.write(s, at, 'utf8');
    out[at++] = 0;
  };
  put(run.cwd);
  for (const s of run.paths) put(s);
  for (const s of run.argv) put(s);
  if (env) at += env.copy(out, at);
  else for (const s of run.envp) put(s);
  return out;
}
