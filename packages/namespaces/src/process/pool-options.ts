/** The options of createPool() (process/pool.ts), checked. */
import { ErrorCode, NsError } from '@ns/syscalls';
import type { PoolOptions } from './pool.js';

/** The fields of PoolOptions. */
const POOL_OPTIONS: readonly string[] = ['size', 'refill', 'idleTimeoutMs', 'stdio', 'memberConfig', 'onDiscard'];

/**
 * `options` checked, with their defaults.
 * @throws NsError `ERR_NS_CONFIG` naming the option: an unknown one, `size` not an integer
 *   from 1 to 1024, `refill` not a boolean, `idleTimeoutMs` not an integer >= 0.
 */
export function checkOptions(options: PoolOptions): Required<Pick<PoolOptions, 'size' | 'refill' | 'idleTimeoutMs'>> {
  const bad = (field: string, why: string) => new NsError(ErrorCode.CONFIG, `${field}: ${why}`, { path: field });
  if (options === null || typeof options !== 'object') throw bad('options', 'expected { size }');
  // A misspelt option (`idleTimeout`, `sizes`) is an error, not a default silently taken.
  const unknown = Object.keys(options).find((k) => !POOL_OPTIONS.includes(k));
  if (unknown !== undefined) throw bad(unknown, `unknown pool option (expected one of ${POOL_OPTIONS.join(', ')})`);
  const { size, refill = true, idleTimeoutMs = 0 } = options;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1024) throw bad('size', `expected an integer from 1 to 1024, got ${String(size)}`);
  if (typeof refill !== 'boolean') throw bad('refill', `expected a boolean, got ${String(refill)}`);
  if (typeof idleTimeoutMs !== 'number' || !Number.isInteger(idleTimeoutMs) || idleTimeoutMs < 0) {
    throw bad('idleTimeoutMs', `expected milliseconds (an integer >= 0), got ${String(idleTimeoutMs)}`);
  }
  return { size, refill, idleTimeoutMs };
}
