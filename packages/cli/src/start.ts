/**
 * Running a process in the foreground of `ns`: stdio, the terminal, signal forwarding and
 * the exit status. Used by `ns run` (a new container) and `ns exec` (a process in a running one).
 */
import { once } from 'node:events';
import {
  StateStore,
  signalNumber,
  startContainer as startRecorded,
  type Container,
  type ContainerProcess,
  type ExecOptions,
} from '@ns/namespaces';
import { EXIT, errorLine, exitCodeFor } from './errors.js';
import type { ResolvedIo } from './io.js';

/** Signals `ns` passes on to the container's process (as runc does for a foreground run). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** ^D, the default VEOF character of a terminal (termios(3)). */
const VEOF = '\x04';

/** How long to wait, after the process exited, for the rest of its terminal output. */
const DRAIN_MS = 2000;

/** Starts the process with the stdio / terminal options {@link runForeground} chose. */
export type Launcher = (options: ExecOptions) => ContainerProcess;

/** What {@link startContainer} and {@link runForeground} take besides the container. */
export interface ForegroundOptions {
  /** Allocate a pty (the container's `terminal`, `ns exec -t`). */
  terminal?: boolean;
  /**
   * The process's 0, 1, 2 without a terminal (default: ns's own, `'inherit'`), e.g.
   * `['inherit', fd, fd]` for `--stdout FILE`. Ignored with a terminal.
   */
  stdio?: ExecOptions['stdio'];
}

/**
 * Start a process with `launch` and wait for it: the process's exit code, 128 + N when
 * signal N killed it, 127 / 126 when its command was not found / not executable, 125 when
 * ns failed (one `ns: ...` line on stderr).
 *
 * Without a terminal the process gets ns's own descriptors 0, 1, 2 (or `stdio`). With one,
 * ns's stdin (raw mode when it is a TTY, restored at the end) is copied to the pty, the pty
 * to ns's stdout, and the window size follows ns's stdout (SIGWINCH); the end of a piped
 * stdin reaches the pty as ^D. SIGINT, SIGTERM and SIGHUP sent to ns are sent on to the
 * process. Nothing is left holding the event loop.
 */
export async function runForeground(launch: Launcher, io: ResolvedIo, foreground: ForegroundOptions = {}): Promise<number> {
  const terminal = foreground.terminal ?? false;
  const options: ExecOptions = { stdio: foreground.stdio ?? 'inherit' };
  if (terminal && process.stdout.isTTY) {
    options.terminalSize = { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
  }

  let proc: ContainerProcess;
  try {
    proc = launch(options);
  } catch (err) {
    io.stderr(errorLine(err));
    return exitCodeFor(err);
  }

  // Listen for 'close' now: it may be emitted in the same tick as 'exit'.
  const closed = once(proc, 'close').catch(() => undefined);
  const cleanups: (() => void)[] = [];

  for (const signal of FORWARDED_SIGNALS) {
    const forward = () => {
      try {
        proc.kill(signal);
      } catch {
        // already gone
      }
    };
    process.on(signal, forward);
    cleanups.push(() => process.removeListener(signal, forward));
  }

  try {
    if (terminal) cleanups.push(attachTerminal(proc));
    const exit = await proc.wait();
    if (terminal) await drain(closed);
    if (exit.exitCode !== null) return exit.exitCode;
    if (exit.signal !== null) return 128 + signalNumber(exit.signal);
    return EXIT.FAILURE;
  } finally {
    for (const cleanup of cleanups.reverse()) cleanup();
  }
}

/**
 * Start `container` in the foreground, as `runc run`, and wait for it (exit status as
 * {@link runForeground}). Its state is recorded in `store` (default: the default state
 * root) while it runs, so `ns exec`, `ns kill`, `ns ps` ... reach it, and removed when it
 * exits. An id already in use fails with 125 before anything starts.
 */
export async function startContainer(
  container: Container,
  io: ResolvedIo,
  options: { store?: StateStore; stdio?: ExecOptions['stdio'] } = {},
): Promise<number> {
  const store = options.store ?? new StateStore();
  const foreground: ForegroundOptions = { terminal: container.terminal };
  if (options.stdio !== undefined) foreground.stdio = options.stdio;
  return runForeground((execOptions) => startRecorded(container, { ...execOptions, store }).process, io, foreground);
}

/** Wait for the terminal output to end, but not forever (a process outside may hold the pty). */
async function drain(closed: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, DRAIN_MS);
    timer.unref();
  });
  await Promise.race([closed, timeout]);
  clearTimeout(timer);
}

/**
 * Wire ns's own stdin / stdout to the container's pty. Returns the function undoing it all:
 * raw mode off, stdin unpiped, paused and unref'ed, listeners removed.
 */
function attachTerminal(proc: ContainerProcess): () => void {
  const undo: (() => void)[] = [];
  const stdin = process.stdin;
  const stdout = process.stdout;

  if (stdin.isTTY) {
    stdin.setRawMode(true);
    // Also on an unexpected exit, never leave the user's terminal raw.
    const restore = () => {
      if (stdin.isTTY && stdin.isRaw) stdin.setRawMode(false);
    };
    process.once('exit', restore);
    undo.push(() => {
      restore();
      process.removeListener('exit', restore);
    });
  }

  if (proc.stdin) {
    const target = proc.stdin;
    const ignore = () => {
      // stdin went away (EIO on a hung-up terminal): the container just gets no more input.
    };
    // End of input (a pipe or file on stdin) reaches the container as the terminal's EOF
    // character, as script(1) does: the pty itself stays open for the output.
    const onEnd = () => {
      if (!target.destroyed) target.write(VEOF);
    };
    stdin.on('error', ignore);
    stdin.once('end', onEnd);
    stdin.pipe(target, { end: false });
    undo.push(() => {
      stdin.unpipe(target);
      stdin.removeListener('error', ignore);
      stdin.removeListener('end', onEnd);
      stdin.pause();
      (stdin as { unref?: () => void }).unref?.();
    });
  }

  if (proc.stdout) {
    const source = proc.stdout;
    source.pipe(stdout, { end: false });
    undo.push(() => source.unpipe(stdout));
  }

  if (stdout.isTTY && proc.terminal) {
    const terminal = proc.terminal;
    const onResize = () => {
      try {
        terminal.resize(stdout.columns, stdout.rows);
      } catch {
        // the container is gone
      }
    };
    stdout.on('resize', onResize);
    undo.push(() => stdout.removeListener('resize', onResize));
  }

  return () => {
    for (const step of undo.reverse()) step();
  };
}
