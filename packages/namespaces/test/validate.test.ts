import { describe, expect, it, vi } from 'vitest';
import {
  UNKNOWN_CAPABILITY_WARNING,
  capabilityProblem,
  execIn,
  execInAsync,
  rlimitValue,
  rootfsContainer,
  validateContainer,
  type Container,
  type ContainerState,
} from '../src/index.js';

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
  it('rejects a value past uint64 (1e20 was taken as unlimited)', () => rejects(rl(1e20, 1e20), 'rlimits[0].soft'));
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

describe('validateContainer names the field of a malformed value (ERR_NS_CONFIG, not a TypeError)', () => {
  const base = (): Container => rootfsContainer('/tmp', { id: 'v1', args: ['/bin/true'] });
  const withUts = (): Container => ({ ...base(), namespaces: [{ type: 'mount' }, { type: 'uts' }] });
  const cases: [string, () => unknown, string][] = [
    // the config itself
    ['a null config', () => null, 'config'],
    ['a string config', () => 'x', 'config'],
    ['an array config', () => [], 'config'],
    // sparse and malformed lists of strings
    ['a hole in args', () => ({ ...base(), args: ['/bin/echo', , 'x'] }), 'args[1]'],
    ['a number in args', () => ({ ...base(), args: ['/bin/echo', 5] }), 'args[1]'],
    ['a hole in env', () => ({ ...base(), env: ['A=1', , 'B=2'] }), 'env[1]'],
    // mounts
    ['mounts: {}', () => ({ ...base(), mounts: {} }), 'mounts'],
    ["mounts: '/x'", () => ({ ...base(), mounts: '/x' }), 'mounts'],
    ['mounts: [null]', () => ({ ...base(), mounts: [null] }), 'mounts[0]'],
    ['a hole in mounts', () => ({ ...base(), mounts: [{ destination: '/a', type: 'tmpfs' }, , { destination: '/b', type: 'tmpfs' }] }), 'mounts[1]'],
    ['mount source: 5', () => ({ ...base(), mounts: [{ destination: '/x', source: 5 }] }), 'mounts[0].source'],
    ['mount type: 5', () => ({ ...base(), mounts: [{ destination: '/x', type: 5 }] }), 'mounts[0].type'],
    ['mount type: {}', () => ({ ...base(), mounts: [{ destination: '/x', type: {} }] }), 'mounts[0].type'],
    ["mount options: 'ro'", () => ({ ...base(), mounts: [{ destination: '/x', type: 'tmpfs', options: 'ro' }] }), 'mounts[0].options'],
    ['mount options: [5]', () => ({ ...base(), mounts: [{ destination: '/x', type: 'tmpfs', options: [5] }] }), 'mounts[0].options[0]'],
    ['mount options: null', () => ({ ...base(), mounts: [{ destination: '/x', type: 'tmpfs', options: null }] }), 'mounts[0].options'],
    ['a mount with neither type nor source', () => ({ ...base(), mounts: [{ destination: '/x', options: ['ro'] }] }), 'mounts[0]'],
    // masked and read-only paths
    ['maskedPaths: {}', () => ({ ...base(), maskedPaths: {} }), 'maskedPaths'],
    ["maskedPaths: '/proc/kcore'", () => ({ ...base(), maskedPaths: '/proc/kcore' }), 'maskedPaths'],
    ['maskedPaths: [5]', () => ({ ...base(), maskedPaths: [5] }), 'maskedPaths[0]'],
    ['maskedPaths: [null]', () => ({ ...base(), maskedPaths: [null] }), 'maskedPaths[0]'],
    ['readonlyPaths: [{}]', () => ({ ...base(), readonlyPaths: [{}] }), 'readonlyPaths[0]'],
    ['readonlyPaths: 5', () => ({ ...base(), readonlyPaths: 5 }), 'readonlyPaths'],
    // capabilities
    ['capabilities: {}', () => ({ ...base(), capabilities: {} }), 'capabilities'],
    ["capabilities: 'CAP_KILL'", () => ({ ...base(), capabilities: 'CAP_KILL' }), 'capabilities'],
    ['a capability that is not a string', () => ({ ...base(), capabilities: ['CAP_KILL', 'CAP_CHOWN', 5] }), 'capabilities[2]'],
    ["dropCapabilities: 'CAP_KILL'", () => ({ ...base(), dropCapabilities: 'CAP_KILL' }), 'dropCapabilities'],
    ['dropCapabilities: {}', () => ({ ...base(), dropCapabilities: {} }), 'dropCapabilities'],
    ['a capability to drop that is not a string', () => ({ ...base(), dropCapabilities: [null] }), 'dropCapabilities[0]'],
    ["capabilitySets: 'x'", () => ({ ...base(), capabilitySets: 'x' }), 'capabilitySets'],
    ['capabilitySets: []', () => ({ ...base(), capabilitySets: [] }), 'capabilitySets'],
    ['capabilitySets: { bounding: 5 }', () => ({ ...base(), capabilitySets: { bounding: 5 } }), 'capabilitySets.bounding'],
    ['capabilitySets with an unknown set', () => ({ ...base(), capabilitySets: { bounding: [], extra: [] } }), 'capabilitySets.extra'],
    ['capabilitySets with a capability that is not a string', () => ({ ...base(), capabilitySets: { ambient: [{}] } }), 'capabilitySets.ambient[0]'],
    ['a hole in a capability set', () => ({ ...base(), capabilitySets: { bounding: ['CAP_KILL', , 'CAP_CHOWN'] } }), 'capabilitySets.bounding[1]'],
    ['an effective capability not permitted', () => ({ ...base(), capabilitySets: { bounding: ['CAP_KILL'], effective: ['CAP_CHOWN'] } }), 'capabilitySets.effective'],
    // rlimits
    ['rlimits: {}', () => ({ ...base(), rlimits: {} }), 'rlimits'],
    ['rlimits: [null]', () => ({ ...base(), rlimits: [null] }), 'rlimits[0]'],
    // hostname
    ['hostname: 5', () => ({ ...withUts(), hostname: 5 }), 'hostname'],
    ['hostname: null', () => ({ ...withUts(), hostname: null }), 'hostname'],
    // id mappings
    ["uidMappings: 'x'", () => ({ ...base(), uidMappings: 'x' }), 'uidMappings'],
    ['gidMappings: {}', () => ({ ...base(), gidMappings: {} }), 'gidMappings'],
    ['uidMappings: [null]', () => ({ ...base(), uidMappings: [null] }), 'uidMappings[0]'],
    ['a mapping of size 0', () => ({ ...base(), uidMappings: [{ containerID: 0, hostID: 1000, size: 0 }] }), 'uidMappings[0]'],
    ['a negative hostID', () => ({ ...base(), gidMappings: [{ containerID: 0, hostID: -1, size: 1 }] }), 'gidMappings[0]'],
    ['a string containerID', () => ({ ...base(), uidMappings: [{ containerID: '0', hostID: 0, size: 1 }] }), 'uidMappings[0]'],
    // namespaces, gids
    ['namespaces path: 5', () => ({ ...base(), namespaces: [{ type: 'mount' }, { type: 'network', path: 5 }] }), 'namespaces[1].path'],
    ['a hole in namespaces', () => ({ ...base(), namespaces: [{ type: 'mount' }, , { type: 'pid' }] }), 'namespaces[1]'],
    ['additionalGids: {}', () => ({ ...base(), additionalGids: {} }), 'additionalGids'],
    ['additionalGids: [-1]', () => ({ ...base(), additionalGids: [-1] }), 'additionalGids[0]'],
    ["additionalGids: ['5']", () => ({ ...base(), additionalGids: ['5'] }), 'additionalGids[0]'],
    ['a hole in additionalGids', () => ({ ...base(), additionalGids: [1, , 2] }), 'additionalGids[1]'],
    // flags: a string is not true
    ["readonly: 'no'", () => ({ ...base(), readonly: 'no' }), 'readonly'],
    ["noNewPrivileges: 'no'", () => ({ ...base(), noNewPrivileges: 'no' }), 'noNewPrivileges'],
    ["terminal: 'yes'", () => ({ ...base(), terminal: 'yes' }), 'terminal'],
    ['init: 1', () => ({ ...base(), init: 1 }), 'init'],
    // the rest of the fields
    ["sysctl: 'x'", () => ({ ...base(), sysctl: 'x' }), 'sysctl'],
    ['rootfsPropagation: 5', () => ({ ...base(), rootfsPropagation: 5 }), 'rootfsPropagation'],
    ["rootfsPropagation: 'constructor'", () => ({ ...base(), rootfsPropagation: 'constructor' }), 'rootfsPropagation'],
    ['bundle: 5', () => ({ ...base(), bundle: 5 }), 'bundle'],
    ['id: 5n (no TypeError from JSON.stringify)', () => ({ ...base(), id: 5n }), 'id'],
    ['oomScoreAdj: 5n', () => ({ ...base(), oomScoreAdj: 5n }), 'oomScoreAdj'],
  ];
  it.each(cases)('%s', (_name, config, path) => rejects(config(), path));

  it('leaves out a capability it does not know, as runc, with a process warning naming the entry', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const c = validateContainer({
        ...base(),
        capabilities: ['CAP_KILL', 'CAP_CHOWN', 'CAP_FOO'],
        dropCapabilities: ['nope'],
        capabilitySets: { bounding: ['CAP_KILL', 'CAP_BOGUS', 'CAP_CHOWN'], effective: ['CAP_KILL', 'CAP_BOGUS'], permitted: ['CAP_KILL'] },
      });
      expect(c.capabilities).toEqual(['CAP_KILL', 'CAP_CHOWN']);
      expect(c.dropCapabilities).toEqual([]);
      expect(c.capabilitySets).toEqual({ bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] });
      expect(warn.mock.calls).toEqual([
        ['capabilities[2]: unknown capability "CAP_FOO", ignored', { code: UNKNOWN_CAPABILITY_WARNING }],
        ['dropCapabilities[0]: unknown capability "nope", ignored', { code: 'NS_UNKNOWN_CAPABILITY' }],
        ['capabilitySets.bounding[1]: unknown capability "CAP_BOGUS", ignored', { code: 'NS_UNKNOWN_CAPABILITY' }],
        ['capabilitySets.effective[1]: unknown capability "CAP_BOGUS", ignored', { code: 'NS_UNKNOWN_CAPABILITY' }],
      ]);
      // The copy it returns has none left: validating it again warns no more.
      warn.mockClear();
      validateContainer(c);
      expect(warn).not.toHaveBeenCalled();
      // No warning when the config is refused for something else.
      expect(() => validateContainer({ ...base(), capabilities: ['CAP_FOO'], cwd: 'relative' })).toThrow(/cwd/);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('reaches process.on("warning") listeners as a Warning with the code', async () => {
    const seen = new Promise<Error & { code?: string }>((resolve) => process.once('warning', resolve));
    validateContainer({ ...base(), capabilitySets: { bounding: ['CAP_KILL', 'CAP_FOO'] } });
    const warning = await seen;
    expect(warning).toMatchObject({ name: 'Warning', code: 'NS_UNKNOWN_CAPABILITY', message: 'capabilitySets.bounding[1]: unknown capability "CAP_FOO", ignored' });
  });

  it('names a capability the running kernel does not know (cap_last_cap), and lets one it knows pass', () => {
    expect(capabilityProblem('CAP_CHECKPOINT_RESTORE', 39)).toBe('CAP_CHECKPOINT_RESTORE is not known to the running kernel (cap_last_cap is 39)');
    expect(capabilityProblem('bpf', 38)).toBe('CAP_BPF is not known to the running kernel (cap_last_cap is 38)');
    expect(capabilityProblem('CAP_BPF', 40)).toBeUndefined();
    expect(capabilityProblem('net_admin', 40)).toBeUndefined();
    expect(capabilityProblem('CAP_41', 63)).toBe('unknown capability "CAP_41"');
    // Outside the caller's bounding set: no process it starts can hold it (capset EPERM).
    const withoutSysResource = ((1n << 41n) - 1n) & ~(1n << 24n);
    expect(capabilityProblem('CAP_SYS_RESOURCE', 40, withoutSysResource)).toBe('CAP_SYS_RESOURCE is not in the bounding set of the ns process, so no process it starts can hold it');
    expect(capabilityProblem('CAP_KILL', 40, withoutSysResource)).toBeUndefined();
  });

  it('still accepts a full valid config, any capability spelling parseCapability takes', () => {
    const c: Container = {
      ...withUts(),
      readonly: true,
      terminal: false,
      noNewPrivileges: true,
      hostname: 'box',
      env: ['PATH=/bin', 'A=1'],
      additionalGids: [10, 20],
      capabilities: ['CAP_KILL', 'chown', 'NET_BIND_SERVICE'],
      dropCapabilities: ['CAP_KILL'],
      capabilitySets: { bounding: ['CAP_KILL', 'CAP_CHOWN'], permitted: ['CAP_KILL'], effective: ['CAP_KILL'], inheritable: [], ambient: ['CAP_KILL'] },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid'] },
        { destination: '/tmp', type: 'tmpfs' },
        { destination: '/data', source: '/tmp', options: ['rbind', 'ro'] },
      ],
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      rootfsPropagation: 'rslave',
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 64, hard: 128 }],
      sysctl: { 'kernel.hostname': 'box' },
      umask: 0o22,
      oomScoreAdj: 10,
      bundle: '/tmp',
    };
    expect(validateContainer(c)).toMatchObject({ ...c, rootfs: expect.any(String) });
    const userns: Container = {
      ...base(),
      namespaces: [{ type: 'mount' }, { type: 'user' }],
      hostname: undefined,
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    };
    expect(() => validateContainer(userns)).not.toThrow();
  });
});

describe('execIn()/execInAsync() check their arguments before opening anything', () => {
  const state = (): ContainerState =>
    ({ id: 'v1', pid: 1, startTime: 'x', config: rootfsContainer('/tmp', { id: 'v1', args: ['/bin/true'] }) }) as unknown as ContainerState;
  const cases: [string, () => [unknown, unknown], string][] = [
    ['no process', () => [state(), undefined], 'process'],
    ['a null process', () => [state(), null], 'process'],
    ['no state', () => [undefined, { args: ['true'] }], 'state'],
    ['a state without config', () => [{ ...state(), config: undefined }, { args: ['true'] }], 'state.config'],
    ['a state without pid', () => [{ ...state(), pid: '1' }, { args: ['true'] }], 'state.pid'],
    ['a state without id', () => [{ ...state(), id: 5 }, { args: ['true'] }], 'state.id'],
    ['a process field of the wrong kind', () => [state(), { args: ['true'], terminal: 'yes' }], 'terminal'],
  ];
  it.each(cases)('execIn throws for %s', (_name, args, path) => {
    const [s, p] = args();
    expect(() => execIn(s as ContainerState, p as never)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path }));
  });
  it.each(cases)('execInAsync rejects for %s', async (_name, args, path) => {
    const [s, p] = args();
    await expect(execInAsync(s as ContainerState, p as never)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path });
  });
});

describe('mount options', () => {
  it('takes only its own option names: `constructor` or `toString` are filesystem data, not flags (regression)', async () => {
    const { parseMountOptions, parsePropagation } = await import('../src/index.js');
    expect(parseMountOptions(['constructor', 'toString', 'ro'])).toMatchObject({ propagation: 0, data: 'constructor,toString' });
    expect(() => parsePropagation('constructor', 'rootfsPropagation')).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'rootfsPropagation' }));
  });
});

describe('exec() and execAsync() with no config at all', () => {
  it('throw / reject ERR_NS_CONFIG naming `config`, not a TypeError (regression)', async () => {
    const { exec, execAsync } = await import('../src/index.js');
    for (const bad of [null, undefined]) {
      expect(() => exec(bad as unknown as Container)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'config' }));
      await expect(execAsync(bad as unknown as Container)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'config' });
    }
  });
});

