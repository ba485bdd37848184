/**
 * Running a process in the foreground of `ns`: stdio, the terminal, signal forwarding and
 * the exit status. Used by `ns run` (a new container) and `ns exec` (a process in a running one).
 */
import type { Readable } from 'node:stream';
import {
  NsError,
  StateStore,
  runContainer,
  signalNumber,
  type Container,
  type ContainerProcess,
  type ExecOptions,
} from '@ns/namespaces';
import { writePidFile } from './detach.js';
import { EXIT, reportError, exitCodeFor } from './errors.js';
import type { ResolvedIo } from './io.js';
import { native } from '@ns/syscalls';

/**
 * Signals `ns` passes on to the container's process during a foreground run: as runc, every
 * signal a process can catch but SIGCHLD, SIGURG and SIGWINCH (the console's size), and but
 * those Node needs for itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGPROF) and
 * SIGPIPE (Node ignores it; a reader of ns's output that goes away is handled apart). Listening
 * to SIGUSR1 also keeps it from opening Node's inspector, SIGQUIT and SIGUSR2 from ending Node.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGCONT',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGVTALRM', 'SIGXCPU', 'SIGXFSZ', 'SIGPWR', 'SIGIO', 'SIGSYS',
];

/** ^D, the default VEOF character of a terminal (termios(3)). */
const VEOF = '\x04';

/** Starts the process with the stdio / terminal options {@link runForeground} chose. */
export type Launcher = (options: ExecOptions) => ContainerProcess;

/** What {@link runAttached} and {@link runForeground} take besides the container. */
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
 * stdin reaches the pty as ^D. The pty's output is piped with backpressure (a slow reader
 * slows the container down rather than filling ns's memory) and written out in full before
 * ns returns, however long the reader takes. When the reader goes away (EPIPE on ns's
 * stdout) the process is killed with SIGKILL and the status is 141 (128 + SIGPIPE, as a
 * shell pipeline's writer); another write error is reported and gives 125.
 * SIGINT, SIGTERM and SIGHUP sent to ns are sent on to the process. Nothing is left holding
 * the event loop.
 */
export async function runForeground(launch: Launcher, io: ResolvedIo, foreground: ForegroundOptions = {}): Promise<number> {
  const terminal = foreground.terminal ?? false;
  const options: ExecOptions = { stdio: foreground.stdio ?? 'inherit' };
  if (terminal && process.stdout.isTTY) {
    options.terminalSize = { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
  }

  // The handlers go in first: the process may print (and whoever watches it send ns a
  // signal) before launch() returns. A signal is dispatched once this synchronous code is
  // done, so `proc` is set by then.
  let proc: ContainerProcess | undefined;
  const cleanups: (() => void)[] = [];
  for (const signal of FORWARDED_SIGNALS) {
    const forward = () => {
      try {
        proc?.kill(signal);
      } catch {
        // already gone
      }
    };
    process.on(signal, forward);
    cleanups.push(() => process.removeListener(signal, forward));
  }
  const undo = () => {
    for (const cleanup of cleanups.reverse()) cleanup();
  };

  try {
    proc = launch(options);
  } catch (err) {
    undo();
    reportError(io, err);
    return exitCodeFor(err);
  }

  try {
    let output: TerminalOutput | undefined;
    if (terminal) {
      const attached = attachTerminal(proc);
      cleanups.push(attached.undo);
      output = attached.output;
    }
    const exit = await proc.wait();
    if (output) {
      // The process is gone, so its output is finite: all of it, at the reader's pace.
      const failure = await output.done;
      if (failure !== undefined) {
        if (failure.code === 'EPIPE') return EXIT.BROKEN_PIPE;
        reportError(io, new Error(`writing the terminal output: ${failure.message}`));
        return EXIT.FAILURE;
      }
    }
    if (exit.exitCode !== null) return exit.exitCode;
    if (exit.signal !== null) return 128 + signalNumber(exit.signal);
    return EXIT.FAILURE;
  } finally {
    undo();
  }
}

/**
 * `ns run` in the foreground: create and start `container` (runContainer() of @ns/namespaces,
 * as `runc run`) attached to ns's stdio or terminal, and wait for it (exit status as {@link
 * runForeground}). Its state is recorded in `store` (default: the default state root) while it
 * runs, so `ns exec`, `ns kill`, `ns ps` ... reach it, and removed when it exits. An id already
 * in use fails with 125 before anything starts. The detached form is runDetached().
 *
 * @param options.pidFile an absolute path: the process's pid is written there once it runs
 *   (runc `run --pid-file`, no newline, whole by a rename); when it cannot be written the
 *   container is killed and the run fails (125, naming `--pid-file`), as runc.
 */
export async function runAttached(
  container: Container,
  io: ResolvedIo,
  options: { store?: StateStore; stdio?: ExecOptions['stdio']; pidFile?: string } = {},
): Promise<number> {
  const store = options.store ?? new StateStore();
  const foreground: ForegroundOptions = { terminal: container.terminal };
  if (options.stdio !== undefined) foreground.stdio = options.stdio;
  const { pidFile } = options;
  return runForeground((execOptions) => {
    const proc = runContainer(container, { ...execOptions, store }).process;
    if (pidFile !== undefined) {
      try {
        writePidFile(pidFile, proc.pid);
      } catch (err) {
        proc.kill('SIGKILL');
        throw new NsError((err as NodeJS.ErrnoException).code ?? 'EIO', `--pid-file ${pidFile}: ${(err as Error).message}`, { path: pidFile, cause: err });
      }
    }
    return proc;
  }, io, foreground);
}

/**
 * The former name of {@link runAttached}.
 * @deprecated use runAttached()
 */
export const startContainer: typeof runAttached = runAttached;

/** The pty's output on its way to ns's stdout. */
interface TerminalOutput {
  /**
   * Resolves once the pty's output has ended and all of it has been written to ns's stdout
   * (undefined), or once writing failed (the error, e.g. `EPIPE`: the process was killed).
   */
  done: Promise<NodeJS.ErrnoException | undefined>;
}

/**
 * Pipe the pty's output to ns's stdout with backpressure (stream.pipe: the pty is not read
 * while stdout's buffer is full). A write error on stdout (EPIPE when the reader went away)
 * kills the process with SIGKILL: nobody reads its output any more, and without a reader
 * it would run (or block on the pty) for nothing. The rest of the output is then discarded.
 */
function pipeOutput(proc: ContainerProcess, source: Readable): {
  output: TerminalOutput;
  undo: () => void;
} {
  const stdout = process.stdout;
  let settle!: (failure: NodeJS.ErrnoException | undefined) => void;
  let settled = false;
  const done = new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    settle = (failure) => {
      if (settled) return;
      settled = true;
      resolve(failure);
    };
  });
  const onWriteError = (err: NodeJS.ErrnoException) => {
    if (settled) return;
    source.unpipe(stdout);
    source.resume(); // discard: never leave the pty (and a process still writing to it) blocked
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
    settle(err);
  };
  // Everything read from the pty has been handed to stdout: done once stdout has written it.
  const onEnd = () => {
    if (settled) return;
    if (stdout.destroyed) return settle(undefined);
    stdout.write('', (err?: Error | null) => {
      if (err) onWriteError(err as NodeJS.ErrnoException);
      else settle(undefined);
    });
  };
  // The pty failed (not EIO, which is its end): nothing more will come.
  const onReadError = () => settle(undefined);
  stdout.on('error', onWriteError);
  source.once('end', onEnd);
  source.on('error', onReadError);
  source.pipe(stdout, { end: false });
  return {
    output: { done },
    undo: () => {
      source.unpipe(stdout);
      source.removeListener('end', onEnd);
      stdout.removeListener('error', onWriteError);
      // onReadError stays: a late error of the pty must not be an unhandled 'error'.
      settle(undefined);
    },
  };
}

/**
 * Wire ns's own stdin / stdout to the container's pty. Returns the output's progress and
 * the function undoing it all: raw mode off, stdin unpiped, paused and unref'ed, listeners
 * removed.
 */
function attachTerminal(proc: ContainerProcess): { output?: TerminalOutput; undo: () => void } {
  const undo: (() => void)[] = [];
  const stdin = process.stdin;
  const stdout = process.stdout;

  if (stdin.isTTY) {
    stdin.setRawMode(true);
    // Output raw too, as runc's cfmakeraw: the pty has made \n into \r\n already (libuv's raw
    // mode keeps ONLCR, and lines ended \r\r\n on the caller's terminal).
    let opost = false;
    if (stdout.isTTY) {
      try {
        opost = native().ttyOpost(1, false);
      } catch {
        // not ours to change (a terminal of another session): output keeps its processing
      }
    }
    // Also on an unexpected exit, never leave the user's terminal raw.
    const restore = () => {
      if (stdin.isTTY && stdin.isRaw) stdin.setRawMode(false);
      if (opost) {
        opost = false;
        try {
          native().ttyOpost(1, true);
        } catch {
          // the terminal went away
        }
      }
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

  let output: TerminalOutput | undefined;
  if (proc.stdout) {
    const piped = pipeOutput(proc, proc.stdout);
    output = piped.output;
    undo.push(piped.undo);
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

  const undoAll = () => {
    for (const step of undo.reverse()) step();
  };
  return output ? { output, undo: undoAll } : { undo: undoAll };
}
