import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, NsError, native, type Child, type ExitStatus } from '@ns/syscalls';
import type { Cgroup, CgroupStats, LinuxResources } from '@ns/cgroups';
import { asNsError, thawForKill } from '../container/cgroup.js';

// Stream modules are loaded when a process first needs a pipe or a pty: a container with
// inherited stdio (`ns run`) never does, and loading them is a few ms of a short CLI's life.
let load: NodeJS.Require | undefined;
const builtin = <T>(id: string): T => (load ??= createRequire(import.meta.url))(id) as T;
const net = () => builtin<typeof import('node:net')>('node:net');
const stream = () => builtin<typeof import('node:stream')>('node:stream');
const tty = () => builtin<typeof import('node:tty')>('node:tty');

/** How the container's process ended: `exitCode` or `signal`, the other one null. */
export interface ContainerExit {
  exitCode: number | null;
  /** Signal name (`SIGKILL`) when the process was killed by a signal. */
  signal: NodeJS.Signals | null;
  /**
   * With a cgroup of its own (`resources`): whether the kernel's OOM killer killed a process
   * of the container (memory.events `oom_kill`, v1 memory.oom_control), read before the
   * cgroup was removed. On cgroup v1 the count is read only when the memory cgroup was
   * notified of an OOM (its own limit or an ancestor's, as runc's events hear of it there) or
   * the container's process died of SIGKILL: a process other than that one killed by the
   * host-wide OOM killer is not counted there.
   */
  oomKilled?: boolean;
}

/**
 * Work done once a container's process has exited, before `'exit'` and wait(): the fields it
 * returns go into the exit (its cgroup is read and removed this way). An error it throws is
 * ignored.
 */
export type ExitHook = (exit: ContainerExit) => Partial<ContainerExit> | void | Promise<Partial<ContainerExit> | void>;

// The first name of a number wins, as Node's own child_process reports it: SIGABRT, not its
// alias SIGIOT (listed after it), SIGIO, not SIGPOLL.
const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(constants.signals)) if (!signalNames.has(n)) signalNames.set(n, name as NodeJS.Signals);

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
  /**
   * With `init: true`, once it has exited (set before `'exit'`): the largest resident set, in
   * KiB, of a process of the container (the init's getrusage(RUSAGE_CHILDREN) `ru_maxrss`, over
   * the processes it and they reaped), as isolate's `max-rss`. Null before, and without an init.
   */
  maxRssKiB: number | null = null;
  private readonly child: Child;
  private readonly exitPromise: Promise<ContainerExit>;
  private readonly closePromise: Promise<ContainerExit>;
  private openStreams = 0;
  private hasExited = false;
  /** The process has exited (set before the exit hooks remove its cgroup). */
  private gone = false;

  /**
   * The container's cgroup, when it has one of its own (`resources` or `cgroupsPath`) and this
   * handle started it: stats(), pause(), resume() and update() act on it.
   */
  readonly cgroup: Cgroup | null;

  /** What release() closes (SyncContext.onRelease). */
  private readonly releaseHooks: (() => void)[];

  /** @internal created by exec(). */
  constructor(id: string, child: Child, extras: { cgroup?: Cgroup | undefined; exitHooks?: readonly ExitHook[]; releaseHooks?: readonly (() => void)[] } = {}) {
    super();
    this.id = id;
    this.child = child;
    this.pid = child.pid;
    this.cgroup = extras.cgroup ?? null;
    this.releaseHooks = [...(extras.releaseHooks ?? [])];
    const hooks = extras.exitHooks ?? [];
    this.exitPromise = child.exited.then(async (status: ExitStatus) => {
      this.gone = true;
      const exit: ContainerExit = {
        exitCode: status.exitCode,
        signal: status.signal === null ? null : signalName(status.signal),
      };
      for (const hook of hooks) {
        try {
          Object.assign(exit, await hook(exit));
        } catch {
          // the exit is what the caller waits for: a hook's failure must not hide it
        }
      }
      this.exitCode = exit.exitCode;
      this.signalCode = exit.signal;
      this.maxRssKiB = child.maxRssKiB ?? null;
      this.hasExited = true;
      // As child_process: nobody reads what is written to a process that has exited.
      if (this.stdin && !this.terminal) this.stdin.destroy();
      this.emit('exit', exit.exitCode, exit.signal);
      this.maybeClose();
      return exit;
    });
    this.closePromise = new Promise((resolve) => this.once('close', () => resolve(this.exitPromise)));
  }

  /**
   * Resolves with how the process ended, once it has exited and its stdio streams have
   * closed (all its output delivered, as the `'close'` event). An output stream nobody
   * consumes (no `'data'` listener, not piped, not iterated) by the next turn of the event
   * loop is drained and discarded, so waiting never hangs on it. Never rejects.
   */
  wait(): Promise<ContainerExit> {
    setImmediate(() => {
      for (const stream of [this.stdout, this.stderr]) {
        if (stream && stream.readableFlowing === null && !stream.destroyed) stream.resume();
      }
    });
    return this.closePromise;
  }

  /** Resolves as soon as the process has exited (the `'exit'` event), output may still be in flight. */
  exited(): Promise<ContainerExit> {
    return this.exitPromise;
  }

  /**
   * The container cgroup's statistics now: memory (usage, peak, limit, OOM counts), cpu
   * (usage, throttling) and pids (see @ns/cgroups readStats).
   * @throws NsError `ERR_NS_STATE` when the container has no cgroup of its own, or has exited.
   */
  stats(): CgroupStats {
    return this.ownCgroup('stats').stats();
  }

  /**
   * Freeze every process of the container (cgroup v1 freezer, v2 cgroup.freeze), resolving
   * once they are frozen (`runc pause`).
   * @throws NsError `ERR_NS_STATE` without a cgroup or a freezer, or once exited; ETIMEDOUT-like
   *   CgroupError when the cgroup does not freeze in time.
   */
  async pause(): Promise<void> {
    await this.ownCgroup('pause').freeze();
  }

  /** Thaw what pause() froze (`runc resume`). @throws NsError `ERR_NS_STATE` without a cgroup, or once exited. */
  resume(): void {
    this.ownCgroup('resume').thaw();
  }

  /**
   * Change the container's limits while it runs (`runc update`): `resources` as OCI
   * `linux.resources`, written over the current ones.
   * @throws NsError `ERR_NS_STATE` without a cgroup or once exited; `ERR_NS_CONFIG` or an errno naming the
   *   field and file the kernel refused.
   */
  update(resources: LinuxResources): void {
    const cg = this.ownCgroup('update');
    try {
      cg.update(resources);
    } catch (err) {
      throw asNsError(err);
    }
  }

  private ownCgroup(what: string): Cgroup {
    if (!this.cgroup) throw new NsError(ErrorCode.STATE, `${what}: container ${this.id} has no cgroup of its own (give it resources)`);
    // Its cgroup is being removed or gone: a pause would make a freezer cgroup nobody removes.
    if (this.gone) throw new NsError(ErrorCode.STATE, `${what}: container ${this.id} has exited (its cgroup is removed)`);
    return this.cgroup;
  }

  /**
   * Send a signal (name or number, default `SIGTERM`) with pidfd_send_signal(2). Returns
   * false when the process has already exited. Note that a container's pid 1 ignores signals
   * it has no handler for, except SIGKILL (and SIGSTOP) sent from outside; with `init: true`
   * the init passes every signal on to the program, which gets their default actions.
   * SIGKILL into a paused container (pause()) thaws it afterwards on cgroup v1, whose frozen
   * tasks act on no signal until thawed (runc's way): it then ends.
   * @throws NsError `ERR_NS_CONFIG` for an unknown signal name.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const sig = signalNumber(signal);
    const sent = this.child.kill(sig);
    // Paused on cgroup v1: frozen tasks act on no signal until thawed, SIGKILL included.
    if (sent && sig === constants.signals.SIGKILL && this.cgroup && !this.gone) thawForKill(this.cgroup);
    return sent;
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

  /**
   * Let go of the process for good: stop watching it without reaping it (`'exit'` is never
   * emitted, wait() never resolves, kill() returns false). When this Node process exits the
   * process (or its zombie) goes to the nearest subreaper, which reaps it and gets its status,
   * as with `runc exec --detach`: conmon and containerd's shim wait for the pid themselves.
   * Until then a released process that has died is a zombie of this process: one in a
   * container's pid namespace (execIn()) keeps that container's first process from finishing
   * its exit (the kernel waits for every pid of the namespace to be freed), so the container's
   * wait() resolves only once this Node process has exited too.
   */
  release(): this {
    this.child.release();
    for (const hook of this.releaseHooks.splice(0)) {
      try {
        hook();
      } catch {
        // releasing goes on: what a hook fails to close goes with this process
      }
    }
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
    if (this.hasExited && this.openStreams === 0) {
      queueMicrotask(() => {
        this.closedFlag = true;
        this.emit('close', this.exitCode, this.signalCode);
      });
    }
  }

  private closedFlag = false;

  /** Whether `'close'` has been emitted: the process has exited and its stdio streams have closed (wait() resolves). */
  get closed(): boolean {
    return this.closedFlag;
  }
}

/** A pipe end in the parent as a stream (net.Socket over a pipe descriptor). */
export function pipeStream(fd: number, readable: boolean): Socket {
  return new (net().Socket)({ fd, readable, writable: !readable, allowHalfOpen: false });
}

/**
 * The master side of a pty as two streams. Reading uses tty.ReadStream (net.Socket refuses a
 * tty descriptor) with backpressure: a slow consumer pauses the reader and the container
 * blocks on its full pty.
 *
 * The caller keeps a descriptor of the slave open until the process exits, then calls
 * `finish()`: libuv takes POLLHUP after a short read as end of file, but a pty master gives at
 * most a few KiB a read while more waits in the tty buffer, so the last output would be lost
 * (runs of `seq 1 100000` lost their tail 10 times out of 10). Holding the slave, nobody
 * hangs up; `finish()` drains what is left with plain reads, then closes both ends.
 */
export function ptyStreams(
  master: number,
  slave: number,
): { input: Writable; output: Readable; resize(cols: number, rows: number): void; finish(): void } {
  const addon = native();
  // highWaterMark bounds what is held for a slow consumer.
  const output = new (stream().PassThrough)({ highWaterMark: 64 * 1024 });
  // `onread` mode: chunks go straight to the callback, nothing is buffered inside the socket,
  // and returning false stops reading at once.
  const { ReadStream, WriteStream } = tty();
  const reader = new ReadStream(master, {
    onread: {
      buffer: Buffer.allocUnsafe(64 * 1024),
      callback: (n: number, buf: Uint8Array) => output.write(Buffer.from(buf.subarray(0, n))),
    },
  } as unknown as ConstructorParameters<typeof ReadStream>[1]);
  output.on('drain', () => reader.resume());
  reader.resume(); // start reading (a tty stream starts paused)
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    reader.pause();
    // The process is gone and we hold the slave: everything it wrote is in the pty now.
    // poll(0) before each read: never blocks, even on a blocking descriptor.
    for (let chunk = addon.readAvailable(master); chunk; chunk = addon.readAvailable(master)) output.write(chunk);
    closeAll([slave]);
    reader.destroy();
    output.end();
  };
  reader.on('end', finish);
  reader.on('error', finish);
  // The consumer went away (destroyed the stream): stop reading, release the descriptors.
  output.once('close', () => {
    reader.destroy();
    closeAll(finished ? [] : [slave]);
    finished = true;
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
    finish,
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
