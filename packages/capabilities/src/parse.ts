import { CapabilityError } from './errors.js';
import { CAPABILITIES, CAP_SET_BITS, type CapabilityName } from './table.js';

/** Upper-case name without the CAP_ prefix (`NET_ADMIN`) -> number. */
const BY_SHORT_NAME: ReadonlyMap<string, number> = new Map(
  CAPABILITIES.map((c) => [c.name.slice('CAP_'.length), c.value]),
);

/** Number -> kernel name. */
const BY_VALUE: ReadonlyMap<number, CapabilityName> = new Map(CAPABILITIES.map((c) => [c.value, c.name]));

/**
 * The number of a capability named as in capabilities(7).
 *
 * @param name case-insensitive, with or without the `CAP_` prefix: `'CAP_NET_ADMIN'`,
 *   `'cap_net_admin'`, `'NET_ADMIN'` and `'net_admin'` all give 12. No whitespace is
 *   trimmed, and numeric forms (`'CAP_41'`, `'12'`) are not accepted.
 * @returns the bit number, 0 ... 40 (`CAP_LAST_KNOWN`).
 * @throws CapabilityError with `code: 'ERR_NS_CONFIG'` and a message such as
 *   `unknown capability "CAP_FOO"` when the name is not in the table.
 */
export function parseCapability(name: string): number {
  if (typeof name !== 'string') {
    throw new CapabilityError(`capability must be a string, got ${typeof name}`, String(name));
  }
  let key = name.toUpperCase();
  if (key.startsWith('CAP_')) key = key.slice('CAP_'.length);
  const value = BY_SHORT_NAME.get(key);
  if (value === undefined) throw new CapabilityError(`unknown capability ${JSON.stringify(name)}`, name);
  return value;
}

/** True when `name` is a capability name {@link parseCapability} accepts. */
export function isCapabilityName(name: string): boolean {
  try {
    parseCapability(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * The kernel name of a capability number, as in capabilities(7): `12` -> `'CAP_NET_ADMIN'`.
 *
 * A number a newer kernel may define but this table does not know (41 ... 63) is formatted
 * as `CAP_<n>` (`'CAP_41'`), so masks read from /proc can always be printed; such names are
 * for display only and {@link parseCapability} rejects them.
 *
 * @param n an integer bit number, 0 ... 63.
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) when `n` is not an integer in 0 ... 63.
 */
export function formatCapability(n: number): string {
  checkCapabilityNumber(n);
  return BY_VALUE.get(n) ?? `CAP_${n}`;
}

/**
 * Throws unless `n` is an integer bit number of a 64-bit capability set (0 ... 63).
 * @throws CapabilityError with `code: 'ERR_NS_CONFIG'`.
 */
export function checkCapabilityNumber(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n >= CAP_SET_BITS) {
    throw new CapabilityError(`capability number ${String(n)} is out of range 0..${CAP_SET_BITS - 1}`, String(n));
  }
}
