/**
 * What a command may touch of the outside world, injectable for tests: writers for ns's own
 * messages (the container's output never goes through these), the working directory and the
 * environment `-e KEY` reads from.
 */
import { isAbsolute, resolve } from 'node:path';
import { NsError } from '@ns/namespaces';
import type { Command } from 'commander';
import type { RuntimeLog } from './log.js';

export interface CliIo {
  /** Writes ns's own standard output (help text, `--dry-run` plans). Default: process.stdout. */
  stdout?: (text: string) => void;
  /** Writes ns's own diagnostics (`ns: ...` lines). Default: process.stderr. */
  stderr?: (text: string) => void;
  /**
   * Directory relative paths are taken from. Default: process.cwd(); when the working
   * directory has been deleted, none (see {@link ResolvedIo.cwdGone}).
   */
  cwd?: string;
  /** Environment `-e KEY` (without `=`) copies values from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** A call handed over by an ns front that clones (`ns serve`): see {@link FrontCall}. */
  front?: FrontCall;
}

/**
 * A `create` handed to `ns serve` by a front that clones (docs/cli-start.md): the container's
 * process must be the caller's child, with the caller's stdio, not this server's.
 */
export interface FrontCall {
  /** The caller's descriptors 0, 1, 2, as numbers in this process: what the container inherits. */
  stdio: readonly [number, number, number];
  /** The connection to the front, which clones the container's process (ExecOptions.cloneVia). */
  cloneVia: number;
  /** Set by the call: the pid of the container's process made for the caller (the front leaves it alone). */
  containerPid?: number;
  /**
   * Set by the call: undo what it made for the caller (delete the created container, kill the
   * exec'd process). The server runs it when the front went away before the call's end: a
   * caller killed during `create` must not leave a container it never heard of (as the Node
   * path's set-up dies with its creator).
   */
  rollback?: () => Promise<void>;
}

/** {@link CliIo} with every field filled in. */
export interface ResolvedIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The working directory; `/` when it has been deleted (`cwdGone`), e.g. as the bundle recorded in state. */
  cwd: string;
  /**
   * The working directory no longer exists (process.cwd() fails with ENOENT): relative paths
   * cannot be resolved and the working directory is never used as a bundle.
   */
  cwdGone?: boolean;
  env: NodeJS.ProcessEnv;
  /** {@link CliIo.front}. */
  front?: FrontCall;
  /**
   * The runtime's own log (global `--log FILE`, `--log-format`, `--debug`): where ns's errors
   * and warnings go besides, or instead of, stderr (see reportError(), reportWarning()).
   * Absent: `ns: ...` lines on stderr.
   */
  log?: RuntimeLog;
  /**
   * The config.json the command's container was read from (`ns run` / `ns create` of a
   * bundle): an error whose message starts `config.json: ` is reported with this full path
   * instead (reportError()), as the errors of reading the file are.
   */
  configFile?: string;
}

/**
 * Fill in the defaults of {@link CliIo}: process.stdout / process.stderr writers,
 * process.cwd() (or `/` with `cwdGone` when the working directory was removed), process.env.
 * Never throws.
 */
export function resolveIo(io: CliIo = {}): ResolvedIo {
  let cwd = io.cwd;
  let cwdGone = false;
  if (cwd === undefined) {
    try {
      cwd = process.cwd();
    } catch {
      // uv_cwd: ENOENT (the directory was removed) or EACCES on a parent.
      cwd = '/';
      cwdGone = true;
    }
  }
  return {
    stdout: io.stdout ?? ((text) => void process.stdout.write(text)),
    stderr: io.stderr ?? ((text) => void process.stderr.write(text)),
    cwd,
    cwdGone,
    env: io.env ?? process.env,
    ...(io.front ? { front: io.front } : {}),
  };
}

/**
 * The directory relative paths are taken from: `io.cwd`, or null when the working directory
 * is gone (then {@link absolutePath} refuses relative paths).
 */
export function baseDir(io: Pick<ResolvedIo, 'cwd' | 'cwdGone'>): string | null {
  return io.cwdGone === true ? null : io.cwd;
}

/**
 * `path` made absolute from `cwd`. With no working directory (null), an absolute path is
 * kept and a relative one fails, as the kernel would fail to look it up.
 * @param what the option naming the path in the message (`--rootfs`, `-v` ...)
 * @throws NsError `ENOENT` for a relative path without a working directory; `ERR_NS_CONFIG`
 *   for an empty path (which resolve() would take as the working directory).
 */
export function absolutePath(cwd: string | null, path: string, what: string): string {
  if (path === '') throw emptyPath(what);
  if (isAbsolute(path)) return resolve(path);
  if (cwd === null) {
    throw new NsError('ENOENT', `${what} ${path}: a relative path, but the working directory no longer exists`, { path });
  }
  return resolve(cwd, path);
}

/** A path-valued option (`--rootfs <dir>`, `--meta <file>`, `--console-socket <path>`). */
const PATH_VALUE = /<(dir|file|path)>/;

const emptyPath = (flag: string): NsError =>
  new NsError('ERR_NS_CONFIG', `${flag}: an empty path (give a path; "." for the working directory)`, { path: flag });

/**
 * Refuse an empty value for any path-valued option of `cmd` (`--rootfs ''` was taken as the
 * working directory: resolve('') is the cwd; `--cwd ''` ran in /). Called before a verb runs.
 * @throws NsError `ERR_NS_CONFIG` naming the option (exit 125)
 */
export function refuseEmptyPaths(cmd: Command): void {
  for (const option of cmd.options) {
    if (!PATH_VALUE.test(option.flags)) continue;
    const value: unknown = cmd.getOptionValue(option.attributeName());
    if (value === '' || (Array.isArray(value) && value.includes(''))) throw emptyPath(option.long ?? option.flags);
  }
}
