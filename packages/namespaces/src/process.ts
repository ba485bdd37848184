import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { ReadStream, WriteStream } from 'node:tty';
import { ErrorCode, NsError, native, type Child, type ExitStatus } from '@ns/syscalls';

/** How the container's process ended: `exitCode` or `signal`, the other one null. */
export interface ContainerExit {
  exitCode: number | null;
  /** Signal name (`SIGKILL`) when the process was killed by a signal. */
  signal: NodeJS.Signals | null;
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/**
 * A signal given as a name (`SIGTERM`, `TERM`, `term`) or number, as a number.
 * @throws NsError `ERR_NS_CONFIG` naming an unknown signal.
 */
export function signalNumber(signal: NodeJS.Signals | string | number): number {
  if (typeof signal === 'number') {
    if (Number.isInteger(signal) && signal >= 0 && signal <= 64) return signal;
  } else {
    if (/^\d+$/.test(signal)) return signalNumber(Number(signal));
    const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
    const n = (constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new NsError(ErrorCode.CONFIG, `unknown signal ${JSON.stringify(signal)}`);
}

/** The name of a signal number (`9` -> `SIGKILL`), or `SIG<n>` for real-time signals. */
export function signalName(n: number): NodeJS.Signals {
  return signalNames.get(n) ?? (`SIG${n}` as NodeJS.Signals);
}

/** The terminal side of a container started with `terminal: true`. */
export interface ContainerTerminal {
  /** Set the pty's window size (columns, rows). */
  resize(cols: number, rows: number): void;
}

/**
 * A process started in a container. Like ChildProcess: `pid`, `stdin`/`stdout`/`stderr`
 * (for `stdio: 'pipe'`; in terminal mode `stdin`/`stdout` are the pty and `stderr` is null),
 * `kill()`, and the events `'exit'` (code, signal) and `'close'` (after stdio has ended).
 */
export class ContainerProcess extends EventEmitter {
  /** Pid in the caller's pid namespace. */
  readonly pid: number;
  /** Container id. */
  readonly id: string;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  /** Present in terminal mode. */
  terminal: ContainerTerminal | null = null;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private readonly child: Child;
  private readonly exitPromise: Promise<ContainerExit>;
  private openStreams = 0;
  private exited = false;

  /** @internal created by exec(). */
  constructor(id: string, child: Child) {
    super();
    this.id = id;
    this.child = child;
    this.pid = child.pid;
    this.exitPromise = child.exited.then((status: ExitStatus) => {
      const exit: ContainerExit = {
        exitCode: status.exitCode,
        signal: status.signal === null ? null : signalName(status.signal),
      };
      this.exitCode = exit.exitCode;
      this.signalCode = exit.signal;
      this.exited = true;
      this.emit('exit', exit.exitCode, exit.signal);
      this.maybeClose();
      return exit;
    });
  }

  /** Resolves with how the process ended. Never rejects. */
  wait(): Promise<ContainerExit> {
    return this.exitPromise;
  }

  /**
   * Send a signal (name or number, default `SIGTERM`) with pidfd_send_signal(2). Returns
   * false when the process has already exited. Note that a container's pid 1 ignores
   * signals it has no handler for, except SIGKILL (and SIGSTOP) sent from outside.
   * @throws NsError `ERR_NS_CONFIG` for an unknown signal name.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    return this.child.kill(signalNumber(signal));
  }

  /** Let the running process keep (ref) or not keep (unref) the event loop alive. */
  ref(): this {
    this.child.ref();
    return this;
  }

  unref(): this {
    this.child.unref();
    return this;
  }

  /** @internal count a stdio stream that must end before 'close'. */
  trackStream(stream: NodeJS.EventEmitter): void {
    this.openStreams++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.openStreams--;
      this.maybeClose();
    };
    stream.once('close', finish);
  }

  private maybeClose(): void {
    if (this.exited && this.openStreams === 0) {
      queueMicrotask(() => this.emit('close', this.exitCode, this.signalCode));
    }
  }
}

/** A pipe end in the parent as a stream (net.Socket over a pipe descriptor). */
export function pipeStream(fd: number, readable: boolean): Socket {
  return new Socket({ fd, readable, writable: !readable, allowHalfOpen: false });
}

/**
 * The master side of a pty as two streams. Reading uses tty.ReadStream (net.Socket refuses a
 * tty descriptor); EIO after the last slave closes is end of file, not an error.
 */
export function ptyStreams(master: number): { input: Writable; output: Readable; resize(cols: number, rows: number): void } {
  const addon = native();
  const reader = new ReadStream(master);
  const output = new PassThrough();
  reader.on('data', (chunk: Buffer) => output.write(chunk));
  const end = () => {
    output.end();
    reader.destroy();
  };
  reader.on('end', end);
  reader.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EIO') end();
    else output.destroy(err);
  });
  // A second descriptor for writing, so closing one side does not close the other.
  const writeFd = addon.dup(master);
  const writer = new WriteStream(writeFd);
  writer.on('error', () => {
    /* the container went away; nothing to write to */
  });
  output.once('close', () => writer.destroy());
  output.once('end', () => writer.destroy());
  return {
    input: writer,
    output,
    resize(cols: number, rows: number) {
      addon.setWinsize(master, cols, rows);
    },
  };
}

/** Close descriptors, ignoring ones already closed. */
export function closeAll(fds: Iterable<number>): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
