import { describe, expect, it } from 'vitest';
import {
  CapabilityError,
  DEFAULT_CAPABILITIES,
  PR_SET_KEEPCAPS,
  SEED_DROP_CAPABILITIES,
  dropCapabilitiesSteps,
  fromMask,
  keepCapsStep,
  resolveKeptCapabilities,
  toMask,
  type CapbsetDropStep,
  type CapsetStep,
} from '../src/index.js';

const DOCKER_DEFAULT_MASK = 0xa80425fbn; // CapEff of a default `docker run` container

describe('DEFAULT_CAPABILITIES', () => {
  it('is the 14-name Docker/containerd allow-list', () => {
    expect([...DEFAULT_CAPABILITIES].sort()).toEqual(
      [
        'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
        'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
      ],
    );
    expect(toMask(DEFAULT_CAPABILITIES)).toBe(DOCKER_DEFAULT_MASK);
    expect(Object.isFrozen(DEFAULT_CAPABILITIES)).toBe(true);
  });
});

describe('SEED_DROP_CAPABILITIES', () => {
  it('is the nsinit seed drop list plus CAP_NET_ADMIN', () => {
    expect(SEED_DROP_CAPABILITIES).toEqual([
      'CAP_SETPCAP', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_NICE',
      'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_AUDIT_WRITE',
      'CAP_AUDIT_CONTROL', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_NET_ADMIN',
    ]);
    // bits 8, 12, 16, 17, 20, 21, 23..27, 29, 30, 32, 33
    expect(toMask(SEED_DROP_CAPABILITIES)).toBe(0x36fb31100n);
  });
});

describe('resolveKeptCapabilities', () => {
  it('defaults to the Docker allow-list', () => {
    expect(resolveKeptCapabilities()).toBe(DOCKER_DEFAULT_MASK);
    expect(resolveKeptCapabilities({})).toBe(DOCKER_DEFAULT_MASK);
  });

  it('removes the drop list from the defaults', () => {
    const kept = resolveKeptCapabilities({ drop: ['CAP_NET_RAW', 'mknod', 'CAP_SYS_ADMIN'] });
    expect(kept).toBe(DOCKER_DEFAULT_MASK & ~((1n << 13n) | (1n << 27n)));
    expect(fromMask(kept)).not.toContain('CAP_NET_RAW');
    expect(fromMask(kept)).not.toContain('CAP_MKNOD');
    expect(fromMask(kept)).toContain('CAP_CHOWN');
  });

  it('keeps an explicit list minus drop', () => {
    expect(resolveKeptCapabilities({ keep: ['CAP_SYS_ADMIN', 'net_admin', 'KILL'], drop: ['cap_kill'] })).toBe(
      (1n << 21n) | (1n << 12n),
    );
    expect(resolveKeptCapabilities({ keep: [] })).toBe(0n);
    expect(resolveKeptCapabilities({ keep: ['CAP_CHOWN'], drop: ['CAP_CHOWN'] })).toBe(0n);
  });

  it('throws ERR_NS_CONFIG naming unknown names in keep or drop', () => {
    expect(() => resolveKeptCapabilities({ keep: ['CAP_CHOWN', 'CAP_FOO'] })).toThrow('unknown capability "CAP_FOO"');
    expect(() => resolveKeptCapabilities({ drop: ['CAP_BAR'] })).toThrow('unknown capability "CAP_BAR"');
    expect(() => resolveKeptCapabilities({ keep: ['CAP_FOO'], drop: ['bar', 'CAP_FOO'] })).toThrow(
      'unknown capabilities "CAP_FOO", "bar"',
    );
    expect(() => resolveKeptCapabilities({ drop: ['nope'] })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
  });
});

describe('dropCapabilitiesSteps', () => {
  it('drops the bounding set first, then capsets the kept mask', () => {
    const kept = DOCKER_DEFAULT_MASK;
    const steps = dropCapabilitiesSteps(kept);
    expect(steps).toEqual([
      { op: 'capbsetDrop', mask: 0xffffffff57fbda04n },
      { op: 'capset', effective: kept, permitted: kept, inheritable: 0n },
    ]);
  });

  it('drops every bit not kept over all 64 bits, including 41..63', () => {
    const kept = toMask(['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']);
    const [bset] = dropCapabilitiesSteps(kept) as [CapbsetDropStep];
    expect(bset.op).toBe('capbsetDrop');
    for (let bit = 0n; bit < 64n; bit++) {
      const dropped = (bset.mask >> bit) & 1n;
      expect(dropped, `bit ${bit}`).toBe(bit === 0n || bit === 10n ? 0n : 1n);
    }
    expect(bset.mask >> 64n).toBe(0n);
    expect(bset.mask & kept).toBe(0n);
    expect(dropCapabilitiesSteps(0n)[0]).toEqual({ op: 'capbsetDrop', mask: 0xffffffffffffffffn });
  });

  it('limits inheritable to kept capabilities', () => {
    const kept = toMask(['CAP_CHOWN', 'CAP_KILL']);
    const [, capset] = dropCapabilitiesSteps(kept, { inheritable: toMask(['CAP_KILL', 'CAP_SYS_ADMIN']) }) as [
      CapbsetDropStep,
      CapsetStep,
    ];
    expect(capset).toEqual({ op: 'capset', effective: kept, permitted: kept, inheritable: 1n << 5n });
  });

  it('rejects masks that are not 64-bit sets', () => {
    expect(() => dropCapabilitiesSteps(-1n)).toThrow(CapabilityError);
    expect(() => dropCapabilitiesSteps(1n << 64n)).toThrow(CapabilityError);
    expect(() => dropCapabilitiesSteps(1n, { inheritable: -2n })).toThrow(CapabilityError);
  });

  it('keepCapsStep is prctl(PR_SET_KEEPCAPS)', () => {
    expect(PR_SET_KEEPCAPS).toBe(8);
    expect(keepCapsStep(true)).toEqual({ op: 'prctl', option: 8, arg2: 1, arg3: 0, arg4: 0, arg5: 0 });
    expect(keepCapsStep(false).arg2).toBe(0);
  });
});

describe('resolveCapabilitySets / capabilitySetSteps', () => {
  it('defaults effective and permitted to bounding, inheritable and ambient to none', async () => {
    const { resolveCapabilitySets, toMask } = await import('../src/index.js');
    const sets = resolveCapabilitySets({ bounding: ['CAP_KILL', 'CAP_CHOWN'] });
    expect(sets).toEqual({ bounding: toMask(['CAP_KILL', 'CAP_CHOWN']), effective: toMask(['CAP_KILL', 'CAP_CHOWN']), permitted: toMask(['CAP_KILL', 'CAP_CHOWN']), inheritable: 0n, ambient: 0n });
  });
  it('names the set of an unknown capability and one the kernel does not know', async () => {
    const { resolveCapabilitySets } = await import('../src/index.js');
    expect(() => resolveCapabilitySets({ ambient: ['CAP_NOPE'] })).toThrow('process.capabilities.ambient: unknown capability "CAP_NOPE"');
    expect(() => resolveCapabilitySets({ bounding: ['CAP_BPF'] }, { lastCap: 38 })).toThrow('process.capabilities.bounding: CAP_BPF is not known to the running kernel (cap_last_cap is 38)');
  });
  it('refuses effective outside permitted; leaves out ambient outside permitted and inheritable, as runc', async () => {
    const { resolveCapabilitySets, ignoredAmbient } = await import('../src/index.js');
    expect(() => resolveCapabilitySets({ effective: ['CAP_KILL'], permitted: [] })).toThrow(/effective: CAP_KILL must also be in process.capabilities.permitted/);
    const names = { bounding: ['CAP_KILL'], ambient: ['CAP_KILL'] };
    expect(resolveCapabilitySets(names).ambient).toBe(0n);
    expect(ignoredAmbient(names)).toEqual(['CAP_KILL']);
  });
  it('orders the steps around the user switch and raises the ambient set last', async () => {
    const { capabilitySetSteps, toMask } = await import('../src/index.js');
    const kill = toMask(['CAP_KILL']);
    const steps = capabilitySetSteps({ bounding: kill, effective: kill, permitted: kill, inheritable: kill, ambient: kill }, { lastCap: 40 });
    expect(steps.before.map((s) => s.op)).toEqual(['capbsetDrop', 'prctl']);
    expect(steps.after.map((s) => s.op)).toEqual(['capset', 'ambientRaise', 'prctl']);
    // Every capability up to the kernel's cap_last_cap but the kept one: a newer kernel's
    // extra ones are below its own, larger, cap_last_cap.
    expect(steps.before[0]).toEqual({ op: 'capbsetDrop', mask: ~kill & ((1n << 41n) - 1n) });
    const newer = capabilitySetSteps({ bounding: kill, effective: kill, permitted: kill, inheritable: 0n, ambient: 0n }, { lastCap: 45 });
    expect((newer.before[0] as { mask: bigint }).mask & (1n << 45n)).toBe(1n << 45n);
  });
});
