/**
 * The hand-over of a run to a pool member (process/pool.ts): writing its record (with the run's
 * stdio descriptors for a pool with per-run stdio), the run's streams, the member's replies.
 */
import { fstatSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { NsError, native, unwatchFd, watchReadable } from '@ns/syscalls';
import type { RunStdioEntry } from '../plan/pool.js';
import { closeAll, pipeStream, type ContainerProcess } from './process.js';

/** write(2) all of `bytes` (a blocking pipe); false when the member is gone (EPIPE). */
export function writeRecord(fd: number, bytes: Buffer): boolean {
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return false;
    throw err;
  } finally {
    closeAll([fd]);
  }
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
  for (const s of [proc.stdin, proc.stdout, proc.stderr] as (Socket | null)[]) {
    if (s && typeof s.ref === 'function') {
      if (on) s.ref();
      else s.unref();
    }
  }
}

/**
 * The awaitRun replies (see RUN_REPLY) on the reply pipe `fd` until end of file, to `done` as
 * [step, code, value] each; `fd` is closed. Read through a libuv poll watcher
 * (watchReadable) and read(2) as the pipe becomes readable, not a net.Socket: no stream
 * machinery (its 'end' comes a nextTick later, its destroy another) between the member's
 * execve, whose end of file this waits for, and the caller; and a callback, not a promise, so
 * that pool.exec() resolves its caller's promise from it directly. The watcher keeps the event
 * loop alive until end of file (the member has exec'd or exited).
 * @throws the error of watchReadable (fd then closed)
 */
export function readReplies(fd: number, done: (replies: number[][]) => void): void {
  let chunks: Buffer[] | undefined;
  const onReadable = () => {
    // Readable with nothing to read: end of file (or an error, which ends it too). Data: keep
    // it and wait for the next call (level-triggered: end of file still comes).
    const chunk = native().readAvailable(fd, 4096);
    if (chunk) {
      (chunks ??= []).push(chunk);
      return;
    }
    unwatchFd(fd);
    const out: number[][] = [];
    if (chunks) {
      const b = Buffer.concat(chunks);
      for (let at = 0; at + 12 <= b.length; at += 12) out.push([b.readInt32LE(at), b.readInt32LE(at + 4), b.readInt32LE(at + 8)]);
    }
    done(out);
  };
  try {
    watchReadable(fd, onReadable);
  } catch (err) {
    closeAll([fd]);
    throw err;
  }
}

/**
 * Run `work` once `proc`'s run is over for its caller: at the turn after its 'close' (wait()
 * resolved), or, when its output is not being read (no 'close' would come: a stream neither
 * flowing, ended nor destroyed), 50 ms after its 'exit'. Output being read (wait() drains it)
 * waits for 'close' however long the loaded machine takes: the refill never overtakes wait().
 */
export function afterRun(proc: ContainerProcess, work: () => void): void {
  let done = false;
  let late: NodeJS.Timeout | undefined;
  const once = (): void => {
    if (done) return;
    done = true;
    clearTimeout(late);
    work();
  };
  if (proc.closed) {
    setImmediate(once);
    return;
  }
  proc.once('close', () => setImmediate(once));
  const unread = (): boolean => [proc.stdout, proc.stderr].some((s) => s !== undefined && s !== null && !s.destroyed && !s.readableEnded && s.readableFlowing !== true);
  // Exited, and output nobody reads: no 'close' would come. Read meanwhile: 'close' comes,
  // or the reading stops (looked at again every 50 ms).
  const check = (): void => {
    if (done) return;
    if (unread()) return once();
    late = setTimeout(check, 50);
    late.unref();
  };
  const exited = (): void => {
    late = setTimeout(check, 50);
    late.unref();
  };
  if (proc.exitCode !== null || proc.signalCode !== null) exited();
  else proc.once('exit', exited);
}
