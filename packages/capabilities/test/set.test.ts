import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES,
  CapabilityError,
  formatHexMask,
  fromMask,
  fullMask,
  parseHexMask,
  parseStatusCapabilities,
  readLastCap,
  readProcessCapabilities,
  toMask,
} from '../src/index.js';

// `cat /proc/self/status` as root in a container whose bounding set lacks CAP_SYS_RESOURCE.
const REAL_STATUS = `Name:\tcat
Umask:\t0022
State:\tR (running)
Tgid:\t3889
Ngid:\t0
Pid:\t3889
PPid:\t3882
TracerPid:\t0
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
FDSize:\t256
Groups:\t 
NStgid:\t3889
NSpid:\t3889
NSpgid:\t3882
NSsid:\t2913
Kthread:\t0
VmPeak:\t    3060 kB
VmSize:\t    3060 kB
VmRSS:\t    1632 kB
Threads:\t1
SigQ:\t0/96365
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\t0000000000000000
SigIgn:\t0000000000000000
SigCgt:\t0000000000000000
CapInh:\t0000000000000000
CapPrm:\t000001fffeffffff
CapEff:\t000001fffeffffff
CapBnd:\t000001fffeffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t0
Seccomp_filters:\t0
Speculation_Store_Bypass:\tvulnerable
Cpus_allowed:\t3
Cpus_allowed_list:\t0-1
voluntary_ctxt_switches:\t0
nonvoluntary_ctxt_switches:\t0
`;

describe('toMask / fromMask', () => {
  it('sets one bit per capability', () => {
    expect(toMask([])).toBe(0n);
    expect(toMask(['CAP_CHOWN'])).toBe(1n);
    expect(toMask(['net_admin'])).toBe(1n << 12n);
    expect(toMask(['CAP_CHECKPOINT_RESTORE'])).toBe(1n << 40n);
    expect(toMask(['CAP_CHOWN', 'dac_override', 5, 'CAP_CHOWN'])).toBe(0b100011n);
    expect(toMask([63])).toBe(1n << 63n);
    expect(toMask(new Set(['SYS_ADMIN']))).toBe(1n << 21n);
  });

  it('round-trips every capability and the full table', () => {
    for (const { name, value } of CAPABILITIES) {
      expect(fromMask(toMask([name]))).toEqual([name]);
      expect(toMask([value])).toBe(1n << BigInt(value));
    }
    const all = CAPABILITIES.map((c) => c.name);
    expect(toMask(all)).toBe(0x1ffffffffffn);
    expect(fromMask(0x1ffffffffffn)).toEqual(all);
  });

  it('sorts by number whatever the input order', () => {
    expect(fromMask(toMask(['CAP_SYS_ADMIN', 'CAP_KILL', 'CAP_CHOWN']))).toEqual(['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN']);
  });

  it('names unknown high bits CAP_<n>', () => {
    expect(fromMask((1n << 41n) | (1n << 63n) | 1n)).toEqual(['CAP_CHOWN', 'CAP_41', 'CAP_63']);
  });

  it('rejects unknown names, bad numbers and bad masks', () => {
    expect(() => toMask(['CAP_CHOWN', 'CAP_FOO'])).toThrow('unknown capability "CAP_FOO"');
    expect(() => toMask([64])).toThrow(CapabilityError);
    expect(() => toMask([-1])).toThrow(CapabilityError);
    expect(() => fromMask(-1n)).toThrow(CapabilityError);
    expect(() => fromMask(1n << 64n)).toThrow(CapabilityError);
  });
});

describe('fullMask', () => {
  it('sets bits 0..lastCap', () => {
    expect(fullMask(0)).toBe(1n);
    expect(fullMask(40)).toBe(0x1ffffffffffn);
    expect(fullMask(37)).toBe(0x3fffffffffn);
    expect(fullMask(63)).toBe(0xffffffffffffffffn);
    expect(() => fullMask(64)).toThrow(CapabilityError);
    expect(() => fullMask(-1)).toThrow(CapabilityError);
  });
});

describe('hex masks', () => {
  it('parses /proc/PID/status masks', () => {
    expect(parseHexMask('000001ffffffffff')).toBe(0x1ffffffffffn);
    expect(parseHexMask('00000000a80425fb')).toBe(0xa80425fbn);
    expect(parseHexMask('0x1F')).toBe(31n);
    expect(parseHexMask('ffffffffffffffff')).toBe((1n << 64n) - 1n);
  });

  it('formats 16 zero-padded lower-case digits', () => {
    expect(formatHexMask(0n)).toBe('0000000000000000');
    expect(formatHexMask(0x1ffffffffffn)).toBe('000001ffffffffff');
    expect(formatHexMask((1n << 64n) - 1n)).toBe('ffffffffffffffff');
    for (const text of ['000001fffeffffff', '00000000a80425fb', '8000000000000001']) {
      expect(formatHexMask(parseHexMask(text))).toBe(text);
    }
  });

  it('rejects malformed text and out-of-range masks', () => {
    for (const bad of ['', 'xyz', '0x', '12345678901234567', '-1', ' 1f', '1g']) {
      const error = (() => {
        try {
          parseHexMask(bad);
        } catch (e) {
          return e as CapabilityError;
        }
        return undefined;
      })();
      expect(error, bad).toBeInstanceOf(CapabilityError);
      expect(error?.code).toBe('ERR_NS_CONFIG');
    }
    expect(() => formatHexMask(-1n)).toThrow(CapabilityError);
    expect(() => formatHexMask(1n << 64n)).toThrow(CapabilityError);
  });
});

describe('parseStatusCapabilities', () => {
  it('reads the five sets of a real status file', () => {
    const caps = parseStatusCapabilities(REAL_STATUS);
    expect(caps).toEqual({
      inheritable: 0n,
      permitted: 0x1fffeffffffn,
      effective: 0x1fffeffffffn,
      bounding: 0x1fffeffffffn,
      ambient: 0n,
    });
    expect(fromMask(caps.bounding)).not.toContain('CAP_SYS_RESOURCE');
    expect(fromMask(caps.bounding)).toHaveLength(40);
  });

  it('keeps each set apart', () => {
    const text = 'CapInh:\t0000000000000001\nCapPrm:\t0000000000000002\nCapEff:\t0000000000000004\nCapBnd:\t0000000000000008\nCapAmb:\t0000000000000010\n';
    expect(parseStatusCapabilities(text)).toEqual({ inheritable: 1n, permitted: 2n, effective: 4n, bounding: 8n, ambient: 16n });
  });

  it('defaults ambient to 0 on kernels without CapAmb', () => {
    const text = 'CapInh:\t0000000000000000\nCapPrm:\t0000003fffffffff\nCapEff:\t0000003fffffffff\nCapBnd:\t0000003fffffffff\n';
    expect(parseStatusCapabilities(text).ambient).toBe(0n);
    expect(parseStatusCapabilities(text).bounding).toBe(fullMask(37));
  });

  it('rejects a text without capability lines or with a bad value', () => {
    expect(() => parseStatusCapabilities('Name:\tcat\n')).toThrow(/CapInh, CapPrm, CapEff, CapBnd/);
    expect(() => parseStatusCapabilities(REAL_STATUS.replace('CapEff:\t000001fffeffffff', 'CapEff:\tzz'))).toThrow(CapabilityError);
  });
});

describe.runIf(process.platform === 'linux')('reading /proc', () => {
  it('readLastCap matches /proc/sys/kernel/cap_last_cap', () => {
    const expected = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
    expect(readLastCap()).toBe(expected);
  });

  it('readProcessCapabilities reads this process', () => {
    const caps = readProcessCapabilities();
    expect(caps).toEqual(readProcessCapabilities(process.pid));
    expect(caps).toEqual(parseStatusCapabilities(readFileSync('/proc/self/status', 'utf8')));
    expect(caps.permitted & ~caps.bounding & ~caps.inheritable).toBe(0n);
    expect(caps.bounding & ~fullMask(readLastCap())).toBe(0n);
  });

  it('readProcessCapabilities reports a missing process with its errno code', () => {
    expect(() => readProcessCapabilities(2 ** 30)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => readProcessCapabilities(0)).toThrow(CapabilityError);
  });
});
