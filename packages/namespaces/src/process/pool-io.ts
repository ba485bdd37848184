/**
 * The hand-over of a run to a pool member (process/pool.ts): writing its record (with the run's
 * stdio descriptors for a pool with per-run stdio), the run's streams, the member's replies.
 */
import { fstatSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { NsError, native, refWatch, unwatchFd, watchData } from '@ns/syscalls';
import type { RunStdioEntry } from '../plan/pool.js';
import { closeAll, pipeStream, type ContainerProcess } from './process.js';

/**
 * write(2) all of `bytes` (a blocking pipe); false when the member is gone (EPIPE).
 * @throws NsError the errno of another failed write(2) `fd` stays
 * open: the member reads exactly the record's length, not to end of file, so the pool closes
 * its end with the member's other leftovers once the run is over, not on the way to the start.
 */
export function writeRecord(fd: number, bytes: Buffer): boolean {
  return native().writeAll(fd, bytes); // one call into the addon: no fs.writeSync checks and loop
}

/** Our end of a run's stdio pipe: descriptor `index` of the run, as a stream. */
export interface RunStream {
  index: number;
  stream: Socket;
}

/**
 * Send the record with the run's stdio (per-run pools): pipes made here for `'pipe'` entries
 * (the member's end sent and closed, ours kept as a stream), the caller's descriptors for the
 * others, in one sendmsg(2) on the record socket, which is then closed. False when the member is
 * gone (EPIPE, ECONNRESET); its pipes closed again.
 * @throws NsError the errno of pipe2(2) or sendmsg(2) otherwise (e.g. EBADF for a stdio
 *   descriptor that is not open), nothing left open.
 */
export function sendRecord(socket: number, bytes: Buffer, stdio: RunStdioEntry[]): RunStream[] | false {
  const addon = native();
  const fds: number[] = [];
  const ours: { index: number; fd: number; readable: boolean }[] = [];
  const theirs: number[] = [];
  try {
    stdio.forEach((e, index) => {
      if (e.kind === 'fd') fds.push(e.fd);
      else if (e.kind === 'pipe') {
        const [r, w] = addon.pipe();
        // Descriptor 0: the member reads; 1 and 2: it writes.
        const [mine, member] = index === 0 ? [w, r] : [r, w];
        ours.push({ index, fd: mine, readable: index !== 0 });
        theirs.push(member);
        fds.push(member);
      }
    });
    addon.sendFds(socket, fds, bytes);
  } catch (err) {
    closeAll(ours.map((o) => o.fd));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE' || code === 'ECONNRESET') return false;
    throw err;
  } finally {
    closeAll([...theirs, socket]);
  }
  return ours.map((o) => ({ index: o.index, stream: pipeStream(o.fd, o.readable) }));
}

/**
 * Check that the caller's descriptors of a run's stdio are open, before a member is taken for it.
 * @throws NsError `EBADF` naming `stdio[N]` for a descriptor that is not open
 */
export function checkRunDescriptors(stdio: readonly RunStdioEntry[]): void {
  stdio.forEach((e, index) => {
    if (e.kind !== 'fd') return;
    try {
      fstatSync(e.fd);
    } catch {
      throw new NsError('EBADF', `stdio[${index}]: descriptor ${e.fd} is not open`, { path: `stdio[${index}]` });
    }
  });
}

/** A run's pipe streams as the process's stdin/stdout/stderr, counted for its 'close'. */
export function attachRunStreams(proc: ContainerProcess, streams: RunStream[]): void {
  for (const { index, stream } of streams) {
    if (index === 0) proc.stdin = stream;
    else if (index === 1) proc.stdout = stream;
    else proc.stderr = stream;
    if (index !== 0) proc.trackStream(stream);
  }
}

/** Let a member's stdio streams keep the event loop alive (a run) or not (an idle member). */
export function setStreamsRef(proc: ContainerProcess, on: boolean): void {
  refStream(proc.stdin, on);
  refStream(proc.stdout, on);
  refStream(proc.stderr, on);
}

function refStream(s: Socket | Writable | Readable | null, on: boolean): void {
  const socket = s as Socket | null;
  if (socket && typeof socket.ref === 'function') {
    if (on) socket.ref();
    else socket.unref();
  }
}

/**
 * A member's awaitRun replies (see RUN_REPLY) on its reply pipe, [step, code, value] each, up
 * to end of file (the member has exec'd its program, or exited). Watched from the member's
 * preparation on (watchData: a libuv poll watcher that reads the pipe itself), so that a
 * hand-over only claims it: no watcher set up, no read call, no stream machinery between the
 * member's execve and the caller, and a callback, not a promise, so that pool.exec() resolves
 * its caller's promise from it directly. Until claimed the watcher does not keep the event loop
 * alive (an idle member does not); what an idle member says (`unused`, gone at its idle
 * timeout) is kept for the claim.
 */
export class MemberReplies {
  private fd: number;
  private chunks: Buffer[] | undefined;
  private ended: number[][] | undefined;
  private done: ((replies: number[][]) => void) | undefined;

  /**
   * Watch `fd` (the reply pipe's read end), which the watcher takes over.
   * @throws NsError the errno of watching it (`fd` then still the caller's)
   */
  constructor(fd: number) {
    watchData(fd, (data) => this.data(data));
    refWatch(fd, false);
    this.fd = fd;
  }

  private data(data: Buffer | null): void {
    if (data) {
      (this.chunks ??= []).push(data);
      return;
    }
    this.fd = -1; // end of file: the watcher has stopped and closed it
    const out: number[][] = [];
    if (this.chunks) {
      const b = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      for (let at = 0; at + 12 <= b.length; at += 12) out.push([b.readInt32LE(at), b.readInt32LE(at + 4), b.readInt32LE(at + 8)]);
    }
    this.ended = out;
    this.done?.(out);
  }

  /**
   * Call `done` with the replies at end of file (at once when it came already); meanwhile the
   * watcher keeps the event loop alive. Once per member.
   */
  claim(done: (replies: number[][]) => void): void {
    if (this.ended) return done(this.ended);
    this.done = done;
    refWatch(this.fd, true);
  }

  /** Stop watching and close the pipe (a member discarded); nothing more is called. */
  close(): void {
    this.done = undefined;
    if (this.fd >= 0) unwatchFd(this.fd);
    this.fd = -1;
  }
}

/**
 * The end of a member's process, watched from its preparation on (its listeners are not added
 * and removed on the way to a start): while it waits, its exit calls `onIdleExit`; once
 * taken for a run (take()), nothing; once its run has started (afterRun()), the run's end calls
 * `work` at the turn after its 'close' (wait() resolved), or, when its output is not being read
 * (no 'close' would come: a stream neither flowing, ended nor destroyed), 50 ms after its
 * 'exit'. Output being read (wait() drains it) waits for 'close' however long the loaded
 * machine takes: the refill never overtakes wait().
 */
export class MemberEnd {
  private taken = false;
  private work: (() => void) | undefined;
  private done = false;
  private late: NodeJS.Timeout | undefined;

  constructor(private readonly proc: ContainerProcess, onIdleExit: () => void) {
    proc.once('exit', () => {
      if (!this.taken) onIdleExit();
      else if (this.work) this.exited();
    });
    proc.once('close', () => {
      if (this.work) setImmediate(this.once);
    });
  }

  /** The member is being handed a run: its exit is no longer an idle one. */
  take(): void {
    this.taken = true;
  }

  /** Its run has started: `work` once it is over for its caller (see the class comment). */
  afterRun(work: () => void): void {
    this.taken = true;
    this.work = work;
    const proc = this.proc;
    if (proc.closed) setImmediate(this.once);
    else if (proc.exitCode !== null || proc.signalCode !== null) this.exited();
  }

  private readonly once = (): void => {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.late);
    this.work!();
  };

  private unread(): boolean {
    return [this.proc.stdout, this.proc.stderr].some((s) => s !== undefined && s !== null && !s.destroyed && !s.readableEnded && s.readableFlowing !== true);
  }

  // Exited, and output nobody reads: no 'close' would come. Read meanwhile: 'close' comes, or
  // the reading stops (looked at again every 50 ms).
  private readonly check = (): void => {
    if (this.done) return;
    if (this.unread()) return this.once();
    this.exited();
  };

  private exited(): void {
    this.late = setTimeout(this.check, 50);
    this.late.unref();
  }
}
