import { describe, expect, it } from 'vitest';
import { CAPABILITIES, CapabilityError, formatCapability, isCapabilityName, parseCapability } from '../src/index.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseCapability / formatCapability', () => {
  it('round-trips all 41 capabilities', () => {
    for (const { name, value } of CAPABILITIES) {
      expect(parseCapability(name)).toBe(value);
      expect(formatCapability(value)).toBe(name);
      expect(formatCapability(parseCapability(name))).toBe(name);
      expect(parseCapability(formatCapability(value))).toBe(value);
    }
  });

  it('accepts any case, with or without the CAP_ prefix', () => {
    for (const alias of ['CAP_NET_ADMIN', 'net_admin', 'NET_ADMIN', 'cap_net_admin', 'Cap_Net_Admin']) {
      expect(parseCapability(alias)).toBe(12);
    }
    for (const { name, value } of CAPABILITIES) {
      const short = name.slice(4);
      expect(parseCapability(short)).toBe(value);
      expect(parseCapability(short.toLowerCase())).toBe(value);
      expect(parseCapability(name.toLowerCase())).toBe(value);
    }
  });

  it('rejects unknown names with ERR_NS_CONFIG and names them', () => {
    const error = thrown(() => parseCapability('CAP_FOO'));
    expect(error).toBeInstanceOf(CapabilityError);
    expect(error).toBeInstanceOf(Error);
    expect((error as CapabilityError).code).toBe('ERR_NS_CONFIG');
    expect((error as CapabilityError).message).toBe('unknown capability "CAP_FOO"');
    expect((error as CapabilityError).capability).toBe('CAP_FOO');
    expect(() => parseCapability('foo')).toThrow('unknown capability "foo"');
  });

  it('rejects near misses', () => {
    for (const bad of ['', 'CAP_', 'CAP_CAP_CHOWN', ' CAP_CHOWN', 'CAP_CHOWN ', 'CAP-CHOWN', 'CAP_41', '12', 'ALL']) {
      expect(() => parseCapability(bad), bad).toThrow(CapabilityError);
      expect(isCapabilityName(bad)).toBe(false);
    }
    expect(isCapabilityName('sys_admin')).toBe(true);
  });

  it('formats numbers above the table as CAP_<n> and rejects out-of-range ones', () => {
    expect(formatCapability(41)).toBe('CAP_41');
    expect(formatCapability(63)).toBe('CAP_63');
    for (const bad of [-1, 64, 1.5, Number.NaN]) {
      const error = thrown(() => formatCapability(bad));
      expect(error).toBeInstanceOf(CapabilityError);
      expect((error as CapabilityError).code).toBe('ERR_NS_CONFIG');
    }
  });
});
