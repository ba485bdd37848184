import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTPUT_BYTES, validateLimits, type Limits } from '../src/index.js';

const fails = (limits: unknown) => {
  try {
    validateLimits(limits);
  } catch (err) {
    return err as Error & { code: string; path?: string };
  }
  throw new Error(`accepted ${JSON.stringify(limits)}`);
};

describe('validateLimits', () => {
  it('fills in the output cap and keeps the rest', () => {
    expect(validateLimits(undefined)).toEqual({ outputBytes: DEFAULT_OUTPUT_BYTES });
    const all: Limits = {
      cpuTimeMs: 1000,
      wallTimeMs: 2000,
      extraTimeMs: 0.5,
      memoryBytes: 64 << 20,
      processes: 16,
      openFiles: 64,
      fileSizeBytes: 0,
      stackBytes: 8 << 20,
      outputBytes: 0,
      stdin: 'x',
    };
    expect(validateLimits(all)).toEqual(all);
    expect(validateLimits({ stdin: { file: '/in' } }).stdin).toEqual({ file: '/in' });
    expect(validateLimits({ stdin: new Uint8Array([1]) }).stdin).toEqual(new Uint8Array([1]));
  });

  it.each([
    [{ cpuTimeMs: -1 }, 'limits.cpuTimeMs', /-1/],
    [{ cpuTimeMs: 0 }, 'limits.cpuTimeMs', /0/],
    [{ wallTimeMs: '2s' }, 'limits.wallTimeMs', /"2s"/],
    [{ memoryBytes: 2097152.5 }, 'limits.memoryBytes', /2097152.5/],
    [{ memoryBytes: 100 }, 'limits.memoryBytes', /100/],
    [{ processes: Number.NaN }, 'limits.processes', /./],
    [{ openFiles: 2 }, 'limits.openFiles', /2/],
    [{ fileSizeBytes: -5 }, 'limits.fileSizeBytes', /-5/],
    [{ extraTimeMs: Infinity }, 'limits.extraTimeMs', /./],
    [{ outputBytes: null }, 'limits.outputBytes', /null/],
    [{ stdin: 42 }, 'limits.stdin', /42/],
    [{ stdin: { file: '' } }, 'limits.stdin.file', /""/],
  ])('%j fails with ERR_NS_CONFIG naming %s', (limits, path, got) => {
    const err = fails(limits);
    expect(err.code).toBe('ERR_NS_CONFIG');
    expect(err.path).toBe(path);
    expect(err.message.startsWith(`${path}: `)).toBe(true);
    expect(err.message).toMatch(got);
  });

  it('names an unknown limit (a typo) and a limits value that is not an object', () => {
    const typo = fails({ cpuTime: 5 });
    expect(typo).toMatchObject({ code: 'ERR_NS_CONFIG', path: 'limits' });
    expect(typo.message).toMatch(/unknown limit "cpuTime"/);
    expect(fails('1s')).toMatchObject({ code: 'ERR_NS_CONFIG', path: 'limits' });
    expect(fails(null)).toMatchObject({ code: 'ERR_NS_CONFIG', path: 'limits' });
  });
});
