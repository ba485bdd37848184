/**
 * Exit statuses and error lines of `ns`, as runc, Docker and POSIX shells use them.
 *
 * - 125: ns itself failed (usage error, bad config, a set-up step failed);
 * - 126: the command was found but could not be executed (execve: EACCES, ENOEXEC, EISDIR ...);
 * - 127: the command was not found (execve: ENOENT);
 * - 141: with a terminal, the reader of ns's output went away (128 + SIGPIPE, as a shell
 *   pipeline's writer): the process was killed;
 * - otherwise the container's own exit code, or 128 + N when it was killed by signal N.
 */
import { ErrorCode, NsError } from '@ns/namespaces';
import type { RuntimeLog } from './log.js';

export const EXIT = {
  /** ns failed before (or instead of) running the command. */
  FAILURE: 125,
  /** The command exists but could not be executed. */
  CANNOT_EXECUTE: 126,
  /** The command was not found. */
  NOT_FOUND: 127,
  /** With a terminal: ns's stdout reader went away (EPIPE), 128 + SIGPIPE. */
  BROKEN_PIPE: 141,
} as const;

/** A usage or config error of ns (`ERR_NS_CONFIG`), naming the option or field in `path`. */
export function usage(message: string, path?: string): NsError {
  return new NsError(ErrorCode.CONFIG, message, path === undefined ? {} : { path });
}

interface ErrorLike {
  code?: unknown;
  syscall?: unknown;
  message?: unknown;
}

/**
 * The exit status for an error thrown while starting a container: 127 / 126 for a failed
 * execve(2) (ENOENT / anything else), 125 for everything else.
 */
export function exitCodeFor(err: unknown): number {
  const e = (err ?? {}) as ErrorLike;
  if (e.syscall === 'execve') return e.code === 'ENOENT' ? EXIT.NOT_FOUND : EXIT.CANNOT_EXECUTE;
  return EXIT.FAILURE;
}

/** One line `ns: <message>` (newlines inside the message folded), ending in a newline. */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `ns: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`;
}

/** Where {@link reportError} and {@link reportWarning} write: ns's stderr and the runtime's log. */
interface ReportTarget {
  stderr: (text: string) => void;
  /** The runtime's log (`--log`, `--log-format`, `--debug`); absent: text lines on stderr. */
  log?: RuntimeLog | undefined;
  /** The config.json being run: `config.json: ` at the start of an error names it in full (ResolvedIo.configFile). */
  configFile?: string | undefined;
}

/** The log is more than ns's `ns: ...` lines on stderr: a file (`--log`) or JSON (`--log-format json`). */
function structured(io: ReportTarget): io is ReportTarget & { log: RuntimeLog } {
  return io.log !== undefined && (io.log.toFile || io.log.format === 'json');
}

/**
 * Report an error of ns itself, as runc's fatal(): to the runtime's log, and on stderr as one
 * `ns: ...` line unless stderr is the log (`--log-format json` without `--log`: one JSON line).
 */
export function reportError(io: ReportTarget, err: unknown): void {
  const line = inConfigFile(errorLine(err), io.configFile);
  if (structured(io)) io.log.error(line.slice(4, -1));
  if (!structured(io) || io.log.toFile) io.stderr(line);
}

/**
 * An error line of the library about a config.json it was handed as data (`ns: config.json:
 * linux.namespaces[2].path: ...`) with the file's full path, as loadOciSpec() names it.
 */
function inConfigFile(line: string, file: string | undefined): string {
  const prefix = 'ns: config.json: ';
  return file !== undefined && line.startsWith(prefix) ? `ns: ${file}: ${line.slice(prefix.length)}` : line;
}

/**
 * Report a warning of ns itself (an ignored option, a capability left out ...): to the
 * runtime's log only, as runc's logrus warnings. Without `--log` the log is stderr
 * (`ns: warning: ...`). Never to a container's stdio but through ns's stderr.
 */
export function reportWarning(io: ReportTarget, message: string): void {
  if (structured(io)) io.log.warn(message);
  else io.stderr(`ns: warning: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`);
}

/** A debug line (with `--debug` only), to the runtime's log. */
export function reportDebug(io: ReportTarget, message: string): void {
  if (!io.log?.debugEnabled) return;
  if (structured(io)) io.log.debug(message);
  else io.stderr(`ns: debug: ${message}\n`);
}
