/**
 * Reading a bundle's config.json without trusting it: a regular file of bounded size, UTF-8
 * text, JSON whose strings are all text. A symlink to /dev/zero, a fifo or a 100 MB file is
 * refused at once instead of hanging `ns` or growing it to gigabytes.
 */
import { ErrorCode, NsError } from '@ns/syscalls';
import { readRegularFile } from './regular-file.js';

/**
 * The largest config.json read, in bytes (16 MiB). Real ones are a few KiB; runc sets no
 * limit, but the whole file is held in memory, parsed and validated before anything starts.
 */
export const MAX_CONFIG_BYTES = 16 * 2 ** 20;

/**
 * The text of `file`, which must be a regular file (symlinks followed) of at most
 * {@link MAX_CONFIG_BYTES} holding UTF-8. Opened with O_NONBLOCK, so a fifo does not block
 * (readRegularFile()).
 *
 * @param file an absolute path (a bundle's config.json)
 * @throws NsError `ERR_NS_NOT_FOUND` when it does not exist; `ERR_NS_CONFIG` (path `file`) when
 *   it is not a regular file, too large or not UTF-8; the errno name (`EACCES`, `ELOOP` ...)
 *   when it cannot be opened or read. See open(2) O_NONBLOCK, fstat(2).
 */
export function readConfigFile(file: string): string {
  let read;
  try {
    read = readRegularFile(file, { maxBytes: MAX_CONFIG_BYTES });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') throw new NsError(ErrorCode.NOT_FOUND, `${file} does not exist`, { path: file, cause });
    throw new NsError(code, `cannot read ${file}: ${(cause as Error).message}`, { path: file, syscall: (cause as NodeJS.ErrnoException).syscall ?? 'open', cause });
  }
  if (!read.ok) {
    const why = read.why === 'not-regular' ? `not a regular file (${read.kind})` : read.size !== null ? `too large (${read.size} bytes, at most ${MAX_CONFIG_BYTES})` : `too large (more than ${MAX_CONFIG_BYTES} bytes)`;
    throw new NsError(ErrorCode.CONFIG, `${file}: ${why}`, { path: file });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(read.bytes);
  } catch (cause) {
    throw new NsError(ErrorCode.CONFIG, `${file}: not UTF-8 text (JSON must be UTF-8, RFC 8259)`, { path: file, cause });
  }
}

/** String.prototype.isWellFormed (ES2024; in Node 20, not in this project's ES2023 lib). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * The JSON path of the first string in `value` holding a lone UTF-16 surrogate (JSON's
 * `"\ud800"`), which is no text and would reach execve(2) or a path as U+FFFD; null when none.
 * Only walked when `text` has a surrogate escape at all (`\uD800`..`\uDFFF`).
 */
export function loneSurrogatePath(text: string, value: unknown): string | null {
  if (!/\\u[dD][89a-fA-F][0-9a-fA-F]{2}/.test(text)) return null;
  // Iterative, and each path segment kept once with its parent: a file nested 100000 deep
  // neither overflows the stack nor builds 100000 long path strings.
  const segs: string[] = [];
  const parents: number[] = [];
  const pathOf = (node: number): string => {
    const parts: string[] = [];
    for (let n = node; n >= 0; n = parents[n]!) parts.push(segs[n]!);
    return parts.reverse().join('').replace(/^\./, '');
  };
  const stack: [unknown, number][] = [[value, -1]];
  const child = (parent: number, seg: string): number => (segs.push(seg), parents.push(parent), segs.length - 1);
  while (stack.length > 0) {
    const [v, node] = stack.pop()!;
    if (typeof v === 'string') {
      if (!wellFormed(v)) return pathOf(node);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], child(node, `[${i}]`)]);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v).reverse()) {
        const seg = /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
        if (!wellFormed(k)) return pathOf(child(node, seg));
        stack.push([x, child(node, seg)]);
      }
    }
  }
  return null;
}
