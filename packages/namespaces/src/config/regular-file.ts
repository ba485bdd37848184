/**
 * Reading a file that someone else controls (a bundle's config.json, a rootfs' /etc/passwd):
 * opened with O_NONBLOCK so that a fifo never blocks, checked with fstat(2) to be a regular
 * file of bounded size, and read whole without ever holding more than the bound (plus a byte,
 * to see a file that grew). What the caller says about a file that fails is its own.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** What {@link readRegularFile} found. */
export type RegularFileRead =
  | { ok: true; bytes: Buffer }
  /** Not a regular file: `kind` says what it is (`a fifo`, `a directory` ...). */
  | { ok: false; why: 'not-regular'; kind: string }
  /** Larger than the bound: `size` as fstat gave it, or `more than` the bound when it grew. */
  | { ok: false; why: 'too-large'; size: number | null };

/** What a file that is not a regular one is, in words. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/**
 * Open `path` (O_RDONLY | O_NONBLOCK, and O_NOFOLLOW with `nofollow`), and read it when it is a
 * regular file of at most `maxBytes`.
 * @throws the open(2) or read(2) error as Node gives it (`ENOENT`, `ELOOP`, `EACCES` ...), for
 *   the caller to word
 * @see open(2) O_NONBLOCK, O_NOFOLLOW; fstat(2)
 */
export function readRegularFile(path: string, options: { maxBytes: number; nofollow?: boolean }): RegularFileRead {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (options.nofollow ? constants.O_NOFOLLOW : 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, why: 'not-regular', kind: kindOf(st) };
    if (st.size > options.maxBytes) return { ok: false, why: 'too-large', size: st.size };
    const buf = Buffer.allocUnsafe(Math.min(st.size, options.maxBytes) + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += got;
    if (n > options.maxBytes) return { ok: false, why: 'too-large', size: null };
    return { ok: true, bytes: buf.subarray(0, n) };
  } finally {
    closeSync(fd);
  }
}
