/**
 * The program's standard streams: output captured up to a cap per stream (DOMjudge runguard's
 * `--streamsize`: what is past the cap is read and dropped, so the program never blocks on a
 * full pipe, and the stream is flagged), and standard input from bytes or a file.
 */
import { closeSync, openSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { StdinSource } from './limits.js';

/** Output of one stream kept up to `cap` bytes; `onOverflow` is called once when the program writes more. */
export class CappedCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;

  constructor(
    private readonly cap: number,
    private readonly onOverflow: () => void,
  ) {}

  /** Read `stream` to its end (flowing mode), keeping up to the cap. */
  attach(stream: Readable | null): void {
    if (!stream) return;
    stream.on('data', (chunk: Buffer) => this.push(chunk));
    stream.on('error', () => {
      // the container went away; what was read is what there is
    });
  }

  /** Take one chunk of output. */
  push(chunk: Buffer): void {
    if (this.truncated) return;
    const room = this.cap - this.kept;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      return;
    }
    if (room > 0) this.chunks.push(chunk.subarray(0, room));
    this.kept = this.cap;
    this.truncated = true;
    this.onOverflow();
  }

  /** The bytes kept. */
  data(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }
}

/**
 * What to give exec() as stdin: `'ignore'` (/dev/null) without a source, a pipe for bytes, a
 * read-only descriptor of a file (the caller closes it after the start: {@link StdinPlan.close}).
 */
export interface StdinPlan {
  entry: 'ignore' | 'pipe' | number;
  /** Write the bytes into the pipe, once the process exists. */
  feed(stdin: Writable | null): void;
  /** Release what was opened here (the file descriptor): after exec() returned or failed. */
  close(): void;
}

/**
 * How to wire a run's standard input (see {@link StdinPlan}). Bytes go through a pipe, written
 * as the program reads them; a program that exits or closes its stdin before reading them all
 * simply does not get the rest (EPIPE is not an error here).
 * @throws the fs error of opening `{ file }` (`ENOENT`, `EACCES` ...)
 */
export function planStdin(source: StdinSource | undefined): StdinPlan {
  if (source === undefined) return { entry: 'ignore', feed: () => {}, close: () => {} };
  if (typeof source === 'object' && !(source instanceof Uint8Array)) {
    const fd = openSync(source.file, 'r');
    let open = true;
    return {
      entry: fd,
      feed: () => {},
      close: () => {
        if (!open) return;
        open = false;
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      },
    };
  }
  const bytes = typeof source === 'string' ? Buffer.from(source) : source;
  return {
    entry: 'pipe',
    feed: (stdin) => {
      if (!stdin) return;
      stdin.on('error', () => {
        // EPIPE: the program did not read it all
      });
      stdin.end(bytes);
    },
    close: () => {},
  };
}
