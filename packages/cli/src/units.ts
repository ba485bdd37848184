/**
 * Values of command-line flags as runc reads them: sizes in bytes with binary suffixes
 * (docker/go-units `RAMInBytes`: `512m`, `1.5GiB`), Go durations (`time.ParseDuration`:
 * `5s`, `1m30s`, `250ms`) and plain decimal integers (`strconv.ParseInt` / `ParseUint`).
 * Each throws `ERR_NS_CONFIG` naming the flag and the value.
 */
import { usage } from './errors.js';

/** Binary multipliers of RAMInBytes: k = 1024, m = 1024², ... p = 1024⁵, any case. */
const BINARY: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** `512`, `512m`, `512 MiB`, `1.5g`, `64kb`: a number, an optional space, an optional unit. */
const SIZE = /^(\d+(?:\.\d+)?) ?(?:([kmgtp])i?)?b?$/i;

/**
 * A size in bytes, as runc's `--memory`, `--memory-swap` and `--memory-reservation` take it
 * (docker/go-units RAMInBytes): a decimal number with an optional unit `b`, `k`, `m`, `g`,
 * `t`, `p` (binary: `k` is 1024), optionally followed by `i` and `b` (`512m`, `512MiB`,
 * `1.5g`), truncated to whole bytes; `-1` means unlimited.
 * @param flag the flag named in errors (`--memory`)
 * @returns bytes, or -1
 * @throws NsError `ERR_NS_CONFIG` for anything else, or a value beyond 2^53 bytes
 */
export function parseBytes(value: string, flag: string): number {
  if (value === '-1') return -1;
  const m = SIZE.exec(value.trim());
  if (!m) {
    throw usage(`${flag} ${JSON.stringify(value)}: expected a size in bytes with an optional unit (512m, 1.5g, 1048576), or -1 for unlimited`, flag);
  }
  const bytes = Math.trunc(Number(m[1]) * (m[2] ? BINARY[m[2].toLowerCase()]! : 1));
  if (!Number.isSafeInteger(bytes)) throw usage(`${flag} ${JSON.stringify(value)}: too large`, flag);
  return bytes;
}

/**
 * A decimal integer (`strconv.ParseInt` / `ParseUint` as runc uses them for `--cpu-quota`,
 * `--pids-limit` ...), optionally signed when `min` is negative.
 * @param flag the flag named in errors
 * @param min the smallest value accepted (0: an unsigned value)
 * @param hint what the number means, for the message (`microseconds`, `-1 for unlimited`)
 * @throws NsError `ERR_NS_CONFIG` for another form, or a value below `min` or beyond 2^53
 */
export function parseInteger(value: string, flag: string, min: number, hint?: string): number {
  const what = `${min < 0 ? 'an integer' : 'a non-negative integer'}${hint ? ` (${hint})` : ''}`;
  const text = value.trim();
  if (!/^[+-]?\d+$/.test(text)) throw usage(`${flag} ${JSON.stringify(value)}: expected ${what}`, flag);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw usage(`${flag} ${JSON.stringify(value)}: too large`, flag);
  if (n < min) throw usage(`${flag} ${JSON.stringify(value)}: expected ${what}`, flag);
  return n;
}

/** Milliseconds per unit of a Go duration. */
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go duration (`time.ParseDuration`, what runc's `--interval` takes): a sequence of decimal
 * numbers each with a unit, `ns`, `us`, `ms`, `s`, `m`, `h` (`5s`, `1m30s`, `1.5s`, `250ms`);
 * `0` alone is zero.
 * @param flag the flag named in errors (`--interval`)
 * @returns milliseconds (fractional below 1 ms)
 * @throws NsError `ERR_NS_CONFIG` for another form (a number without a unit, `5 s`)
 */
export function parseDuration(value: string, flag: string): number {
  if (value === '0' || value === '+0' || value === '-0') return 0;
  const m = /^([+-]?)((?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(value);
  if (!m) throw usage(`${flag} ${JSON.stringify(value)}: expected a duration such as 5s, 500ms or 1m30s`, flag);
  let ms = 0;
  for (const part of m[2]!.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  return m[1] === '-' ? -ms : ms;
}
