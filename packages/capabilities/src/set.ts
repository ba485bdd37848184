import { readFileSync } from 'node:fs';
import { CapabilityError } from './errors.js';
import { checkCapabilityNumber, formatCapability, parseCapability } from './parse.js';
import { CAP_LAST_KNOWN, CAP_SET_BITS } from './table.js';

/** All 64 bits of a capability set: `0xffff_ffff_ffff_ffffn`. */
export const ALL_BITS_MASK = (1n << BigInt(CAP_SET_BITS)) - 1n;

/**
 * A capability set as a bigint mask: bit `n` set for capability number `n`.
 *
 * @param names capability names (any form {@link parseCapability} accepts) or numbers
 *   0 ... 63; duplicates are fine. An empty iterable gives `0n`.
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) naming the first unknown name or
 *   out-of-range number. capabilities(7).
 */
export function toMask(names: Iterable<string | number>): bigint {
  let mask = 0n;
  for (const item of names) {
    let n: number;
    if (typeof item === 'number') {
      checkCapabilityNumber(item);
      n = item;
    } else {
      n = parseCapability(item);
    }
    mask |= 1n << BigInt(n);
  }
  return mask;
}

/**
 * The names of the capabilities in a mask, sorted by number: `0x3n` ->
 * `['CAP_CHOWN', 'CAP_DAC_OVERRIDE']`. Bits 41 ... 63 (unknown to this table) come out as
 * `CAP_<n>` (see {@link formatCapability}).
 *
 * @param mask a 64-bit set, `0n` ... `2n ** 64n - 1n`.
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) when the mask is negative or wider
 *   than 64 bits.
 */
export function fromMask(mask: bigint): string[] {
  checkMask(mask);
  const names: string[] = [];
  for (let n = 0; n < CAP_SET_BITS; n++) {
    if ((mask >> BigInt(n)) & 1n) names.push(formatCapability(n));
  }
  return names;
}

/**
 * The mask of every capability 0 ... `lastCap`: `fullMask(40)` is `0x1ffffffffffn`, the
 * bounding set of a process on a kernel whose /proc/sys/kernel/cap_last_cap is 40.
 *
 * @param lastCap highest capability number, an integer 0 ... 63 (see {@link readLastCap}).
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) when out of range. capabilities(7).
 */
export function fullMask(lastCap: number): bigint {
  checkCapabilityNumber(lastCap);
  return (1n << BigInt(lastCap + 1)) - 1n;
}

/**
 * Parses a capability set written in hex as /proc/PID/status does (`'000001ffffffffff'`).
 *
 * @param text 1 ... 16 hex digits, either case, with an optional `0x` prefix.
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) on anything else. proc(5).
 */
export function parseHexMask(text: string): bigint {
  if (typeof text !== 'string' || !/^(0x)?[0-9a-f]{1,16}$/i.test(text)) {
    throw new CapabilityError(`invalid capability mask ${JSON.stringify(text)}: expected up to 16 hex digits`, String(text));
  }
  return BigInt(text.toLowerCase().startsWith('0x') ? text : `0x${text}`);
}

/**
 * Formats a capability set as /proc/PID/status does: 16 lower-case hex digits, zero padded
 * (`0x1ffffffffffn` -> `'000001ffffffffff'`). proc(5).
 *
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) when the mask is negative or wider
 *   than 64 bits.
 */
export function formatHexMask(mask: bigint): string {
  checkMask(mask);
  return mask.toString(16).padStart(16, '0');
}

/**
 * The running kernel's highest capability number, from /proc/sys/kernel/cap_last_cap
 * (Linux 3.2+). Falls back to `CAP_LAST_KNOWN` (40) when the file is missing or unreadable
 * (macOS, old kernels, a /proc-less sandbox) or holds anything but an integer 0 ... 63.
 * Synchronous: one small read. proc(5), capabilities(7).
 */
export function readLastCap(): number {
  try {
    const text = readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim();
    if (!/^\d+$/.test(text)) return CAP_LAST_KNOWN;
    const n = Number(text);
    return n < CAP_SET_BITS ? n : CAP_LAST_KNOWN;
  } catch {
    return CAP_LAST_KNOWN;
  }
}

/** The five capability sets of a thread, each a 64-bit mask. capabilities(7). */
export interface ProcessCapabilities {
  inheritable: bigint;
  permitted: bigint;
  effective: bigint;
  bounding: bigint;
  ambient: bigint;
}

const STATUS_FIELDS = {
  CapInh: 'inheritable',
  CapPrm: 'permitted',
  CapEff: 'effective',
  CapBnd: 'bounding',
  CapAmb: 'ambient',
} as const satisfies Record<string, keyof ProcessCapabilities>;

/**
 * Parses the capability lines of a /proc/PID/status text (`CapInh:`, `CapPrm:`, `CapEff:`,
 * `CapBnd:`, `CapAmb:`, each followed by 16 hex digits); other lines are ignored. A missing
 * `CapAmb` line (kernels before 4.3) gives `ambient: 0n`. proc(5), capabilities(7).
 *
 * @param text the whole file content.
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) when CapInh, CapPrm, CapEff or CapBnd
 *   is missing, or a value is not a hex mask.
 */
export function parseStatusCapabilities(text: string): ProcessCapabilities {
  const found: Partial<ProcessCapabilities> = {};
  for (const line of text.split('\n')) {
    const match = /^(Cap(?:Inh|Prm|Eff|Bnd|Amb)):\s*(\S*)\s*$/.exec(line);
    if (!match) continue;
    const field = STATUS_FIELDS[match[1] as keyof typeof STATUS_FIELDS];
    found[field] = parseHexMask(match[2] ?? '');
  }
  found.ambient ??= 0n;
  const missing = Object.entries(STATUS_FIELDS)
    .filter(([, field]) => found[field] === undefined)
    .map(([line]) => line);
  if (missing.length > 0) {
    throw new CapabilityError(`process status has no ${missing.join(', ')} line${missing.length > 1 ? 's' : ''}`);
  }
  return found as ProcessCapabilities;
}

/**
 * Reads the capability sets of a process from /proc/PID/status (of its main thread; use
 * `'self'` for the calling process). Synchronous: one small read. proc(5).
 *
 * @param pid a positive integer process id, or `'self'` (the default).
 * @throws the Node.js system error of the read (`code: 'ENOENT'` when the process does not
 *   exist, `'EACCES'` ...); CapabilityError (`code: 'ERR_NS_CONFIG'`) for an invalid `pid`
 *   or an unparseable status file.
 */
export function readProcessCapabilities(pid: number | 'self' = 'self'): ProcessCapabilities {
  if (pid !== 'self' && (!Number.isInteger(pid) || pid <= 0)) {
    throw new CapabilityError(`invalid pid ${String(pid)}: expected a positive integer or "self"`, String(pid));
  }
  return parseStatusCapabilities(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

function checkMask(mask: bigint): void {
  if (typeof mask !== 'bigint' || mask < 0n || mask > ALL_BITS_MASK) {
    throw new CapabilityError(`capability mask ${String(mask)} is not a 64-bit set`, String(mask));
  }
}
