/**
 * Bounds on a config.json that the schema does not state but the kernel does: the sizes
 * execve(2) takes for `process.args` and `process.env`, and how many mounts a container's
 * set-up makes. Past them a config would fail late (E2BIG at execve, after the rootfs is
 * built) or take minutes to set up; here it fails first, naming the JSON path.
 */
import { readFileSync } from 'node:fs';
import type { Fail } from './linux-checks.js';
import type { OciSpec } from './oci-schema.js';

/** The largest single argument or environment string execve(2) takes, NUL included (MAX_ARG_STRLEN, 32 pages). */
export const MAX_ARG_STRLEN = 32 * 4096;

/**
 * The most entries of `mounts`, `linux.maskedPaths`, `linux.readonlyPaths` and `linux.devices`
 * each (10000): each is a mount (or a node) of its own, set up one by one; the kernel's
 * fs.mount-max is 100000 mounts a namespace, and no real config comes near this.
 */
export const MAX_LIST_ENTRIES = 10_000;

/** The soft RLIMIT_STACK, in bytes, of this process (/proc/self/limits); Infinity when unlimited. */
function ownStackLimit(): number {
  try {
    const line = /^Max stack size\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (line?.[1] === undefined || line[1] === 'unlimited') return Infinity;
    return Number(line[1]);
  } catch {
    return 8 * 2 ** 20; // the usual default
  }
}

/** The least room {@link argRoom} gives, whatever the stack limit (ARG_MAX, 128 KiB). */
const MIN_ARG_ROOM = 128 * 1024;

/**
 * The room execve(2) gives arguments and environment together, in bytes, for a process whose
 * soft RLIMIT_STACK is `stack`: a quarter of it, at least 128 KiB and at most 3/4 of the
 * kernel's 8 MiB _STK_LIM (fs/exec.c bprm_stack_limits()).
 */
export function argRoom(stack: number): number {
  return Math.max(MIN_ARG_ROOM, Math.min(stack / 4, (3 * 8 * 2 ** 20) / 4));
}

/**
 * Refuse a spec whose `process.args` / `process.env` execve(2) would refuse with E2BIG (one
 * string of 128 KiB or more, or all of them past {@link argRoom} of the stack limit the process
 * gets: its `RLIMIT_STACK` in `process.rlimits`, else this process's), or with more than
 * {@link MAX_LIST_ENTRIES} entries in a list of mounts.
 *
 * @throws via `fail` (`ERR_NS_CONFIG`): `process.args[1]: 1048577 bytes, execve(2) takes at
 *   most 131072 a string (MAX_ARG_STRLEN)`, `linux.maskedPaths: 1000000 entries, at most 10000`.
 */
export function checkOciLimits(spec: OciSpec, fail: Fail): void {
  const lists: [string, unknown[] | undefined][] = [
    ['mounts', spec.mounts],
    ['linux.maskedPaths', spec.linux?.maskedPaths],
    ['linux.readonlyPaths', spec.linux?.readonlyPaths],
    ['linux.devices', spec.linux?.devices],
  ];
  for (const [path, list] of lists) {
    if (list !== undefined && list.length > MAX_LIST_ENTRIES) {
      fail(path, `${list.length} entries, at most ${MAX_LIST_ENTRIES} (each is a mount or node of its own; fs.mount-max is 100000 a namespace)`);
    }
  }
  const proc = spec.process;
  if (proc === undefined) return;
  // The stack limit (a read of /proc/self/limits without a RLIMIT_STACK rule) matters only past
  // the least room execve(2) ever gives, 128 KiB: a usual config never needs it.
  type Room = { stack: number; unlimited: boolean; room: number };
  let limit: Room | undefined;
  const roomNow = (): Room => {
    const stackRule = proc.rlimits?.find((r) => r.type === 'RLIMIT_STACK');
    const stack = stackRule !== undefined ? stackRule.soft : ownStackLimit();
    const unlimited = stack === Infinity || stack >= 2 ** 64 - 1;
    return { stack, unlimited, room: argRoom(unlimited ? Infinity : stack) };
  };
  let total = 0;
  for (const [name, list] of [['process.args', proc.args ?? []], ['process.env', proc.env ?? []]] as const) {
    for (let i = 0; i < list.length; i++) {
      const bytes = Buffer.byteLength(list[i]!) + 1;
      if (bytes > MAX_ARG_STRLEN) fail(`${name}[${i}]`, `${bytes} bytes with its NUL, execve(2) takes at most ${MAX_ARG_STRLEN} a string (MAX_ARG_STRLEN)`);
      total += bytes + 8; // the string and its pointer
      if (total <= MIN_ARG_ROOM) continue;
      limit ??= roomNow();
      if (total > limit.room) {
        fail(name, `process.args and process.env take more than the ${limit.room} bytes execve(2) gives them with ${limit.unlimited ? 'an unlimited' : `a ${limit.stack}-byte`} RLIMIT_STACK (a quarter of it, fs/exec.c)`);
      }
    }
  }
}
