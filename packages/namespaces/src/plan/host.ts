/**
 * What planning takes from the calling process and the running kernel, read once per process:
 * the caller's inheritable capabilities and RLIMIT_NOFILE hard limit, and the kinds of the
 * kernel's own files (/proc, /sys). The rootfs and other host paths are read per planning pass,
 * through HostReads (hostreads.ts).
 */
import { readFileSync } from 'node:fs';
import { parseStatusCapabilities } from '@ns/capabilities';
import { statKind, type Kind } from './hostreads.js';

let inheritableCache: bigint | undefined;
let nofileHardCache: number | undefined;
const kernelKindCache = new Map<string, Kind>();

/** The caller's inheritable capability set (the seed drops from it, never adds to it); read once. */
export function callerInheritable(): bigint {
  if (inheritableCache === undefined) {
    try {
      inheritableCache = parseStatusCapabilities(readFileSync('/proc/self/status', 'utf8')).inheritable;
    } catch {
      inheritableCache = 0n;
    }
  }
  return inheritableCache;
}

/** The caller's hard RLIMIT_NOFILE, from /proc/self/limits (read once: Node never changes it). */
export function callerNofileHard(): number {
  return (nofileHardCache ??= readNofileHard());
}

function readNofileHard(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const hard = line?.split(/\s{2,}/)[2];
    if (hard && /^\d+$/.test(hard)) return Number(hard);
  } catch {
    // fall through
  }
  return 1024;
}

/** True for a path of the kernel's own file systems, /proc and /sys (the same in every container). */
export function isKernelPath(p: string): boolean {
  return p === '/proc' || p.startsWith('/proc/') || p === '/sys' || p.startsWith('/sys/');
}

/**
 * The kind of a /proc or /sys path ({@link isKernelPath}) as the host kernel has it (lstat):
 * the same for every container this process starts, so read once.
 */
export function kernelKind(p: string): Kind {
  let kind = kernelKindCache.get(p);
  if (kind === undefined) kernelKindCache.set(p, (kind = statKind(p, false)));
  return kind;
}
