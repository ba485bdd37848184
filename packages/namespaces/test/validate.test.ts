import { describe, expect, it } from 'vitest';
import { rlimitValue, rootfsContainer, validateContainer, type Container } from '../src/index.js';

describe('validateContainer on hand-written configs', () => {
  const base = (): Container => rootfsContainer('/tmp', { id: 'v1', args: ['/bin/true'] });

  it('names a missing namespaces list instead of failing with a TypeError (regression)', () => {
    const c = { ...base(), namespaces: undefined } as unknown as Container;
    expect(() => validateContainer(c)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'namespaces' }));
  });

  it('names a namespaces entry that is not an object', () => {
    const c = { ...base(), namespaces: [null] } as unknown as Container;
    expect(() => validateContainer(c)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'namespaces[0]' }));
  });
});

/** Expect validateContainer to throw ERR_NS_CONFIG with `path`. */
function rejects(c: unknown, path: string): void {
  expect(() => validateContainer(c as Container)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path }));
}

describe('validateContainer: rlimits are never read as unlimited by mistake', () => {
  const base = (): Container => rootfsContainer('/tmp', { id: 'v1', args: ['/bin/true'] });
  const rl = (soft: unknown, hard: unknown) => ({ ...base(), rlimits: [{ type: 'RLIMIT_NPROC', soft, hard }] });

  it('rejects string limits', () => rejects(rl('100', '200'), 'rlimits[0].soft'));
  it('rejects a string hard limit', () => rejects(rl(100, '200'), 'rlimits[0].hard'));
  it('rejects fractional limits', () => rejects(rl(100.5, 200), 'rlimits[0].soft'));
  it('rejects negative limits', () => rejects(rl(-5, 200), 'rlimits[0].soft'));
  it('rejects NaN', () => rejects(rl(NaN, 200), 'rlimits[0].soft'));
  it('rejects -Infinity', () => rejects(rl(-Infinity, 200), 'rlimits[0].soft'));
  it('rejects bigints (the config is stored as JSON)', () => rejects(rl(5n, 10n), 'rlimits[0].soft'));
  it('rejects a soft limit above the hard one', () => rejects(rl(9, 8), 'rlimits[0]'));
  it('rejects an unlimited soft limit under a finite hard one', () => rejects(rl(Infinity, 8), 'rlimits[0]'));
  it('rejects rlimits that are not a list', () => rejects({ ...base(), rlimits: {} }, 'rlimits'));
  it('rejects a null rlimit', () => rejects({ ...base(), rlimits: [null] }, 'rlimits[0]'));
  it('rejects an inherited property name as type', () => rejects({ ...base(), rlimits: [{ type: 'toString', soft: 1, hard: 1 }] }, 'rlimits[0].type'));

  it('keeps the accepted forms: integers, RLIM_INFINITY as 2^64-1 (JSON) or Infinity, soft <= hard', () => {
    const c = {
      ...base(),
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: 0, hard: 1024 },
        { type: 'RLIMIT_CORE', soft: 18446744073709551615, hard: 18446744073709551615 },
        { type: 'RLIMIT_NPROC', soft: 100, hard: Infinity },
        { type: 'RLIMIT_STACK', soft: Infinity, hard: 2 ** 64 },
      ],
    };
    expect(validateContainer(c).rlimits).toEqual(c.rlimits);
  });

  it('rlimitValue itself refuses values it used to turn into unlimited', () => {
    expect(rlimitValue(2 ** 64)).toBe(-1n);
    expect(rlimitValue(Infinity)).toBe(-1n);
    expect(rlimitValue(7)).toBe(7n);
    for (const bad of [-5, 100.5, NaN, '100' as unknown as number]) {
      expect(() => rlimitValue(bad)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'rlimits' }));
    }
  });
});
