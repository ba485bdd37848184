/**
 * The runtime's own log, as runc's global `--log FILE` and `--log-format text|json` (logrus):
 * ns's errors and warnings (and with `--debug`, debug lines), one line each, never mixed into
 * a container's output. containerd's runc shim reads a create's error from this file only, as
 * JSON lines `{"level":"error","msg":"...","time":"..."}` (go-runc's getLastRuntimeError).
 *
 * A small synchronous writer rather than a logging library: a command writes a handful of
 * lines and exits, and each line must be on disk before `ns` returns (runc opens the file
 * O_APPEND|O_SYNC for the same reason: the client reads it as soon as runc has exited).
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { NsError } from '@ns/namespaces';

/** `--log-format`: logrus's text lines (`time="..." level=error msg="..."`) or JSON lines. */
export type LogFormat = 'text' | 'json';

/** The levels ns writes, by logrus's names (runc's `--debug` turns on `debug`). */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/** The formats `--log-format` takes. */
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** Characters logrus writes without quotes in a text line (its `needsQuoting`). */
const BARE = /^[A-Za-z0-9\-._/@^+]+$/;

/**
 * One log line (without the newline), as logrus formats it: JSON `{"level","msg","time"}`
 * (keys sorted, as Go's encoding/json writes a map), or text `time="..." level=L msg=M` with
 * the message quoted when it has anything but `[A-Za-z0-9-._/@^+]`.
 * @param time RFC 3339 with milliseconds, UTC (`2026-12-06T17:19:44.123Z`), which Go's
 *   time.Time parses
 */
export function formatLogLine(format: LogFormat, level: LogLevel, msg: string, time: string): string {
  if (format === 'json') return JSON.stringify({ level, msg, time });
  const value = BARE.test(msg) ? msg : JSON.stringify(msg);
  return `time="${time}" level=${level} msg=${value}`;
}

/** What {@link RuntimeLog} writes to and how. */
export interface RuntimeLogOptions {
  /** Writes one finished line (newline included). */
  write: (line: string) => void;
  format?: LogFormat;
  /** `--debug`: also write debug lines. */
  debug?: boolean;
  /** The log is a file of its own (`--log FILE`), not ns's stderr. */
  toFile?: boolean;
  /** Closes the destination (the file of `--log`). */
  close?: () => void;
  /** The clock, for tests: RFC 3339 text. Default: now, UTC, in milliseconds. */
  now?: () => string;
}

/**
 * The runtime's log: errors, warnings and debug lines of `ns` itself, never the container's
 * output. Writing never throws (a log that cannot be written must not turn a started
 * container into a failed command).
 */
export class RuntimeLog {
  readonly format: LogFormat;
  readonly debugEnabled: boolean;
  /** True for `--log FILE`: errors are then also printed on stderr, warnings only here. */
  readonly toFile: boolean;
  readonly #write: (line: string) => void;
  readonly #close: (() => void) | undefined;
  readonly #now: () => string;

  constructor(options: RuntimeLogOptions) {
    this.format = options.format ?? 'text';
    this.debugEnabled = options.debug ?? false;
    this.toFile = options.toFile ?? false;
    this.#write = options.write;
    this.#close = options.close;
    this.#now = options.now ?? (() => new Date().toISOString());
  }

  /** Write one line at `level` (a debug line only with `--debug`). */
  log(level: LogLevel, msg: string): void {
    if (level === 'debug' && !this.debugEnabled) return;
    try {
      this.#write(`${formatLogLine(this.format, level, msg.replace(/\s*\n\s*/g, ' ').trim(), this.#now())}\n`);
    } catch {
      // a full disk or a closed descriptor: the command's own result still stands
    }
  }

  /** An error of ns itself (a failed command), at level `error`: what containerd's shim reports. */
  error(msg: string): void {
    this.log('error', msg);
  }

  /** A warning of ns itself (an ignored option, a capability left out), at logrus's level `warning`. */
  warn(msg: string): void {
    this.log('warning', msg);
  }

  /** A debug line, written only with `--debug`. */
  debug(msg: string): void {
    this.log('debug', msg);
  }

  /** Close the file of `--log` (nothing for stderr). */
  close(): void {
    this.#close?.();
  }
}

/**
 * Open `path` for the runtime's log as runc does: created with mode 0644 (before the umask),
 * appended to, O_SYNC (each line on disk before `ns` returns).
 * @throws NsError with the errno code naming `--log` and the path when it cannot be opened.
 */
export function openRuntimeLog(path: string, options: { format?: LogFormat; debug?: boolean } = {}): RuntimeLog {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_SYNC, 0o644);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    throw new NsError(code, `--log ${path}: cannot open for writing: ${code}`, { path, syscall: 'open', cause });
  }
  return new RuntimeLog({
    ...options,
    toFile: true,
    write: (line) => void writeSync(fd, line),
    close: () => closeSync(fd),
  });
}
