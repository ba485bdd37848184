// `ns run`'s isolate-style limit flags, parsed without a kernel: units as isolate's (seconds
// with fractions, KiB), every bad value refused naming its flag, and the exit status of each
// verdict. The runs themselves are in limits.int.test.ts.
import { describe, expect, it } from 'vitest';
import { givenLimitFlags, hasLimitFlags, limitsFromFlags, verdictExitCode, type LimitFlags } from '../src/commands/run-limits.js';

const parse = (flags: LimitFlags) => limitsFromFlags(flags, '/work');

describe('limitsFromFlags', () => {
  it('takes seconds with fractions, as isolate, in whole milliseconds', () => {
    expect(parse({ time: '1', wallTime: '2.5', extraTime: '0.25' })).toEqual({ cpuTimeMs: 1000, wallTimeMs: 2500, extraTimeMs: 250 });
    expect(parse({ time: '.1' })).toEqual({ cpuTimeMs: 100 });
    expect(parse({ time: '0.1' })).toEqual({ cpuTimeMs: 100 }); // not 100.00000000000001 rounded up
    expect(parse({ time: '0.0001' })).toEqual({ cpuTimeMs: 1 }); // a positive limit never becomes none
    expect(parse({ time: '1', extraTime: '0' })).toEqual({ cpuTimeMs: 1000, extraTimeMs: 0 });
  });

  it('takes sizes in KiB, as isolate, in bytes', () => {
    expect(parse({ mem: '262144', fsize: '100', stack: '8192', outputLimit: '4' })).toEqual({
      memoryBytes: 256 * 1024 * 1024,
      fileSizeBytes: 100 * 1024,
      stackBytes: 8 * 1024 * 1024,
      outputBytes: 4096,
    });
    expect(parse({ cgMem: '65536' })).toEqual({ memoryBytes: 64 * 1024 * 1024 });
    expect(parse({ fsize: '0', outputLimit: '0' })).toEqual({ fileSizeBytes: 0, outputBytes: 0 });
  });

  it('seconds in the exponent form, as isolate\'s strtod takes them (1e9 was "not a number", 99999999999 "at most 1e9")', () => {
    expect(parse({ time: '1e3', wallTime: '2.5E-1' })).toEqual({ cpuTimeMs: 1_000_000, wallTimeMs: 250 });
    expect(parse({ time: '1e9' })).toEqual({ cpuTimeMs: 1e12 });
  });

  it('counts: --processes N (alone: no limit), --open-files N', () => {
    expect(parse({ processes: '8', openFiles: '64' })).toEqual({ processes: 8, openFiles: 64 });
    expect(parse({ processes: true })).toEqual({});
  });

  it('--stdin FILE, relative to the working directory', () => {
    expect(parse({ stdin: 'in.txt' })).toEqual({ stdin: { file: '/work/in.txt' } });
    expect(parse({ stdin: '/data/in' })).toEqual({ stdin: { file: '/data/in' } });
    expect(() => limitsFromFlags({ stdin: 'in.txt' }, null)).toThrow(/--stdin in.txt: a relative path, but the working directory no longer exists/);
  });

  const bad: [string, LimitFlags, RegExp][] = [
    ['a word for seconds', { time: 'abc' }, /^--time "abc": expected seconds/],
    ['negative seconds', { wallTime: '-1' }, /^--wall-time "-1": expected seconds/],
    ['an exponent without digits', { time: '1e' }, /^--time "1e": expected seconds, a number such as 1, 0.5 or 1e3/],
    ['an exponent too large', { time: '1e10' }, /^--time 1e10: too large \(at most 1e9 seconds\)/],
    ['open files past the kernel\'s fs.nr_open', { openFiles: '99999999' }, /^--open-files 99999999: too large \(RLIMIT_NOFILE at most \d+/],
    ['processes past PID_MAX_LIMIT', { processes: '99999999999' }, /^--processes 99999999999: too large \(at most 4194303/],
    ['empty', { time: '' }, /^--time "": expected seconds/],
    ['zero time', { time: '0' }, /^--time 0: expected more than 0 seconds/],
    ['zero wall time', { wallTime: '0.0' }, /^--wall-time 0.0: expected more than 0 seconds/],
    ['absurd seconds', { wallTime: '99999999999' }, /^--wall-time 99999999999: too large/],
    ['extra time without --time', { extraTime: '1' }, /^--extra-time: only with --time/],
    ['fractional KiB', { mem: '1.5' }, /^--mem "1.5": expected KiB, a whole number/],
    ['less than 1 MiB of memory', { mem: '100' }, /^--mem 100: expected at least 1024 \(KiB\)/],
    ['--mem and --cg-mem', { mem: '2048', cgMem: '2048' }, /^--mem and --cg-mem are the same limit/],
    ['negative KiB', { fsize: '-5' }, /^--fsize "-5": expected KiB/],
    ['zero processes', { processes: '0' }, /^--processes 0: expected at least 1/],
    ['a word for processes', { processes: 'many' }, /^--processes "many": expected processes/],
    ['too few open files', { openFiles: '2' }, /^--open-files 2: expected at least 3/],
    ['a huge size', { outputLimit: '99999999999999999' }, /^--output-limit "99999999999999999": expected KiB/],
    ['an empty stdin', { stdin: '' }, /^--stdin: empty file name/],
  ];
  it.each(bad)('refuses %s, naming the flag (ERR_NS_CONFIG, exit 125)', (_what, flags, message) => {
    expect(() => parse(flags)).toThrow(message);
    expect(() => parse(flags)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
  });
});

describe('limit mode', () => {
  it('is on with any limit flag, --processes alone included; --stdout / --stderr alone are not limits', () => {
    expect(hasLimitFlags({})).toBe(false);
    expect(hasLimitFlags({ processes: true })).toBe(true);
    expect(hasLimitFlags({ meta: 'm' })).toBe(true);
    expect(hasLimitFlags({ stdout: 'x' } as LimitFlags)).toBe(false);
    expect(givenLimitFlags({ time: '1', meta: 'm', processes: true })).toBe('--time, --processes, --meta');
  });

  it('exits as isolate: 0 for OK, 1 for a verdict of the program, 125 (isolate: 2) when it could not run', () => {
    expect(verdictExitCode({ status: 'OK' })).toBe(0);
    for (const status of ['RE', 'SG', 'TO', 'OOM', 'OLE'] as const) expect(verdictExitCode({ status })).toBe(1);
    expect(verdictExitCode({ status: 'XX' })).toBe(125);
  });
});
