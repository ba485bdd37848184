/**
 * The stdio of a process started by exec() / execIn() without a terminal, wired as
 * child_process does it (pipes, the caller's descriptors, /dev/null), and the descriptors a
 * terminal process keeps past 2.
 */
import { openSync } from 'node:fs';
import { NsError, native } from '@ns/syscalls';

/** One stdio slot, as child_process: a pipe, the caller's own descriptor, /dev/null, or a descriptor. */
export type StdioEntry = 'pipe' | 'inherit' | 'ignore' | number | { fd: number } | null | undefined;

/** What {@link pipeStdio} opened: closed by the caller after the spawn (child ends) or with the process (parent ends). */
export interface StdioWiring {
  childFds: number[];
  parentFds: number[];
  pipes: { index: number; fd: number; readable: boolean }[];
}

/**
 * The descriptors that become the process's 0, 1, 2 (and more) for ExecOptions.stdio (default
 * `'pipe'`): a pipe per `'pipe'`/`null`/`undefined` slot (the parent's end in `wiring.pipes`),
 * the same number for `'inherit'`, /dev/null for `'ignore'`, a number or `{ fd }` as given.
 * What it opens goes into `wiring`, also when it throws (the caller closes it).
 * @throws NsError `ERR_NS_CONFIG` naming `stdio[N]` for an entry of none of those kinds;
 *   pipe2(2) / open(2) errors.
 */
export function pipeStdio(stdio: string | readonly StdioEntry[] | undefined, wiring: StdioWiring): number[] {
  const out: number[] = [];
  const given = stdio ?? 'pipe';
  const entries = (typeof given === 'string' ? [given, given, given] : [...given]) as StdioEntry[];
  while (entries.length < 3) entries.push(undefined);
  entries.forEach((entry, index) => {
    if (entry === 'pipe' || entry === undefined || entry === null) {
      const [r, w] = native().pipe();
      const readable = index !== 0;
      wiring.childFds.push(readable ? w : r);
      wiring.parentFds.push(readable ? r : w);
      wiring.pipes.push({ index, fd: readable ? r : w, readable });
      out.push(readable ? w : r);
    } else if (entry === 'inherit') {
      out.push(index);
    } else if (entry === 'ignore') {
      const fd = openSync('/dev/null', 'r+');
      wiring.childFds.push(fd);
      out.push(fd);
    } else if (typeof entry === 'number') {
      out.push(entry);
    } else if (typeof entry.fd === 'number') {
      out.push(entry.fd);
    } else {
      throw new NsError('ERR_NS_CONFIG', `stdio[${index}]: expected 'pipe', 'inherit', 'ignore', a descriptor or a stream with an fd`);
    }
  });
  return out;
}

/**
 * The descriptors past 2 of `stdio` in terminal mode (runc's `--preserve-fds` with `-t`): the
 * caller's own descriptors only (a number, `{ fd }`, or `'inherit'` for the same number).
 * @throws NsError `ERR_NS_CONFIG` naming `stdio[N]` for a pipe or `'ignore'` there.
 */
export function terminalExtras(stdio: string | readonly StdioEntry[] | undefined): number[] {
  if (!Array.isArray(stdio)) return [];
  return stdio.slice(3).map((entry, k) => {
    const index = k + 3;
    if (typeof entry === 'number') return entry;
    if (entry === 'inherit') return index;
    if (entry !== null && typeof entry === 'object' && typeof entry.fd === 'number') return entry.fd;
    throw new NsError('ERR_NS_CONFIG', `stdio[${index}]: with a terminal only descriptors of the caller go past 2 (a number, an object with an fd, or 'inherit')`, { path: `stdio[${index}]` });
  });
}
