import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MASKED_PATHS } from '../src/config/defaults.js';
import {
  containerFromBundle,
  defaultOciSpec,
  fromOciSpec,
  loadOciSpec,
  ociWarnings,
  parseOciSpec,
  type OciSpec,
} from '../src/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/runc-spec-config.json', import.meta.url));
const runcSpec = (): Record<string, unknown> => JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>;

/** A minimal valid spec to mutate. */
function minimal(): Record<string, any> {
  return {
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' },
    root: { path: 'rootfs' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  };
}

function thrown(fn: () => unknown): { code?: string; message: string; path?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; message: string; path?: string };
  }
  throw new Error('expected a throw');
}

const convert = (spec: unknown) => fromOciSpec(spec, { bundle: '/b', id: 'c1' });

describe('parseOciSpec', () => {
  it('accepts the runc spec fixture and keeps it as is', () => {
    const json = runcSpec();
    expect(parseOciSpec(json)).toEqual(json);
  });

  it('names the JSON path and the expected type', () => {
    const spec = minimal();
    spec.process.args = ['sh', 1];
    const error = thrown(() => parseOciSpec(spec));
    expect(error.code).toBe('ERR_NS_CONFIG');
    expect(error.message).toBe('config.json: process.args[1]: expected string, received number');
    expect(error.path).toBe('process.args[1]');
  });

  it('reports missing required fields', () => {
    const spec = minimal();
    spec.root = {};
    expect(thrown(() => parseOciSpec(spec)).message).toBe('config.json: root.path: missing, expected string');
    delete spec.ociVersion;
    spec.root = { path: 'rootfs' };
    expect(thrown(() => parseOciSpec(spec)).message).toBe('config.json: ociVersion: missing, expected string');
  });

  it('reports wrong types, ranges and enum values', () => {
    const cases: [(s: Record<string, any>) => void, string][] = [
      [(s) => (s.root.path = 7), 'root.path: expected string, received number'],
      [(s) => (s.root.path = ''), 'root.path: expected a non-empty string, received ""'],
      [(s) => (s.root.readonly = 'yes'), 'root.readonly: expected boolean, received string'],
      [(s) => (s.process.args = 'sh'), 'process.args: expected array, received string'],
      [(s) => (s.process.user.uid = -1), 'process.user.uid: expected number >= 0, received -1'],
      [(s) => (s.process.user.gid = 1.5), 'process.user.gid: expected integer, received 1.5'],
      [(s) => (s.process.user.uid = 2 ** 32), 'process.user.uid: expected number <= 4294967295, received 4294967296'],
      [(s) => (s.process.terminal = null), 'process.terminal: expected boolean, received null'],
      [
        (s) => (s.linux.namespaces[0].type = 'bogus'),
        'linux.namespaces[0].type: expected one of "mount", "pid", "uts", "ipc", "network", "user", "cgroup", "time", received "bogus"',
      ],
      [(s) => (s.linux.namespaces = {}), 'linux.namespaces: expected array, received object'],
      [(s) => (s.mounts = [{ type: 'proc' }]), 'mounts[0].destination: missing, expected string'],
      [(s) => (s.annotations = { 'org.example.key': 1 }), 'annotations["org.example.key"]: expected string, received number'],
      [(s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1.5, soft: 1 }]), 'process.rlimits[0].hard: expected integer, received 1.5'],
      [(s) => (s.linux.rootfsPropagation = 'sideways'), 'linux.rootfsPropagation: expected one of'],
      [(s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000 }]), 'linux.uidMappings[0].size: missing, expected number'],
    ];
    for (const [mutate, message] of cases) {
      const spec = minimal();
      mutate(spec);
      const error = thrown(() => parseOciSpec(spec));
      expect(error.code, message).toBe('ERR_NS_CONFIG');
      expect(error.message, message).toContain(`config.json: ${message}`);
    }
  });

  it('lists every problem, `; `-separated', () => {
    const spec = minimal();
    spec.process.args = ['sh', 1];
    spec.root.path = 5;
    spec.linux.namespaces[1].type = 'bogus';
    const error = thrown(() => parseOciSpec(spec));
    expect(error.message.startsWith('config.json: process.args[1]: expected string, received number; ')).toBe(true);
    expect(error.message.split('; ')).toHaveLength(3);
    expect(error.message).toContain('; root.path: expected string, received number');
    expect(error.message).toContain('; linux.namespaces[1].type: expected one of');
  });

  it('rejects a value that is not an object', () => {
    expect(thrown(() => parseOciSpec(null)).message).toBe('config.json: expected object, received null');
    expect(thrown(() => parseOciSpec([])).message).toBe('config.json: expected object, received array');
  });

  it('keeps unknown fields at every level', () => {
    const spec = minimal();
    spec.vendorExtension = { a: 1 };
    spec.process.futureField = [1, 2];
    spec.linux.namespaces[0].extra = true;
    const parsed = parseOciSpec(spec) as Record<string, any>;
    expect(parsed.vendorExtension).toEqual({ a: 1 });
    expect(parsed.process.futureField).toEqual([1, 2]);
    expect(parsed.linux.namespaces[0].extra).toBe(true);
  });

  it('accepts uint64 values beyond 2^53 (RLIM_INFINITY)', () => {
    const spec = JSON.parse(
      '{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","rlimits":[{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615}]}}',
    ) as unknown;
    expect(parseOciSpec(spec).process?.rlimits?.[0]?.hard).toBe(18446744073709551615);
  });
});

describe('fromOciSpec', () => {
  it('converts the runc spec fixture', () => {
    const c = fromOciSpec(runcSpec(), { bundle: '/srv/bundle', id: 'demo' });
    expect(c.id).toBe('demo');
    expect(c.bundle).toBe('/srv/bundle');
    expect(c.rootfs).toBe('/srv/bundle/rootfs');
    expect(c.readonly).toBe(true);
    expect(c.args).toEqual(['sh']);
    expect(c.terminal).toBe(true);
    expect(c.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm']);
    expect(c.cwd).toBe('/');
    expect(c.user).toBe('0:0');
    expect(c.hostname).toBe('runc');
    expect(c.capabilitySets).toEqual({
      bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      inheritable: [],
      ambient: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    });
    // runc 1.1.5 on this host (cgroup v1/hybrid) writes five namespaces, no cgroup one.
    expect(c.namespaces).toEqual([
      { type: 'pid' },
      { type: 'network' },
      { type: 'ipc' },
      { type: 'uts' },
      { type: 'mount' },
    ]);
    expect(c.mounts?.map((m) => m.destination)).toEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/sys',
      '/sys/fs/cgroup',
    ]);
    expect(c.mounts?.[2]).toEqual({
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    });
    expect(c.mounts?.[0]).toEqual({ destination: '/proc', type: 'proc', source: 'proc' });
    expect(c.maskedPaths).toHaveLength(10);
    expect(c.maskedPaths?.[0]).toBe('/proc/acpi');
    expect(c.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(c.rootfsPropagation).toBeUndefined();
    expect(c.additionalGids).toBeUndefined();
  });

  it('makes the bundle and a relative root absolute, keeps an absolute root', () => {
    const spec = minimal();
    expect(fromOciSpec(spec, { bundle: 'rel/bundle', id: 'x' }).rootfs).toBe(resolve('rel/bundle/rootfs'));
    expect(fromOciSpec(spec, { bundle: 'rel/bundle', id: 'x' }).bundle).toBe(resolve('rel/bundle'));
    spec.root.path = '../images/alpine/./';
    expect(convert(spec).rootfs).toBe('/images/alpine');
    spec.root.path = '/var/lib/rootfs';
    expect(convert(spec).rootfs).toBe('/var/lib/rootfs');
    expect(convert(spec).readonly).toBe(false);
  });

  it('requires process.args', () => {
    const spec = minimal();
    delete spec.process.args;
    const error = thrown(() => convert(spec));
    expect(error.code).toBe('ERR_NS_CONFIG');
    expect(error.path).toBe('process.args');
    expect(error.message).toMatch(/^config\.json: process\.args: expected a non-empty array/);
    spec.process.args = [];
    expect(thrown(() => convert(spec)).path).toBe('process.args');
    delete spec.process;
    expect(thrown(() => convert(spec)).path).toBe('process');
  });

  it('requires root and validates id, env and cwd', () => {
    const noRoot = minimal();
    delete noRoot.root;
    expect(thrown(() => convert(noRoot)).path).toBe('root');
    expect(thrown(() => fromOciSpec(minimal(), { bundle: '/b', id: '../x' })).code).toBe('ERR_NS_CONFIG');
    const env = minimal();
    env.process.env = ['A=1', 'NOVALUE'];
    expect(thrown(() => convert(env)).path).toBe('process.env[1]');
    const cwd = minimal();
    cwd.process.cwd = 'relative/dir';
    expect(thrown(() => convert(cwd)).path).toBe('process.cwd');
    delete cwd.process.cwd;
    expect(convert(cwd).cwd).toBe('/');
  });

  it('maps process.user, additionalGids and capabilities', () => {
    const spec = minimal();
    spec.process.user = { uid: 1000, gid: 100, additionalGids: [10, 20] };
    let c = convert(spec);
    expect(c.user).toBe('1000:100');
    expect(c.additionalGids).toEqual([10, 20]);
    expect(c.capabilities).toBeUndefined();
    expect(c.capabilitySets).toBeUndefined();
    spec.process.user = { username: 'alice' };
    expect(convert(spec).user).toBe('alice');
    spec.process.user = { username: 'alice', gid: 5 };
    expect(convert(spec).user).toBe('alice:5');
    delete spec.process.user;
    expect(convert(spec).user).toBe('0:0');
    spec.process.capabilities = { bounding: [], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: ['CAP_CHOWN'] };
    c = convert(spec);
    expect(c.capabilitySets).toEqual({ bounding: [], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: [], ambient: ['CAP_CHOWN'] });
    // A set left out is empty, as runc: podman's --cap-drop ALL is `"capabilities": {}` (it got Docker's defaults).
    spec.process.capabilities = {};
    expect(convert(spec).capabilitySets).toEqual({ bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] });
  });

  it('rejects capability sets that cannot be applied, naming the set and the capability', () => {
    const spec = minimal();
    spec.process.capabilities = { bounding: ['CAP_KILL'], effective: ['CAP_KILL', 'CAP_CHOWN'], permitted: ['CAP_KILL'] };
    expect(() => convert(spec)).toThrow('config.json: process.capabilities.effective: CAP_CHOWN must also be in process.capabilities.permitted');
    // A name not known is left out (as runc), not an error; the check runs on what is left.
    spec.process.capabilities = { bounding: ['CAP_KILL', 'CAP_BOGUS'], effective: ['CAP_BOGUS', 'CAP_KILL', 'CAP_CHOWN'], permitted: ['CAP_KILL'] };
    expect(() => convert(spec)).toThrow('config.json: process.capabilities.effective: CAP_CHOWN must also be in process.capabilities.permitted');
  });

  it('leaves out capabilities this ns or the kernel does not know, as runc; ociWarnings names each entry', () => {
    const spec = minimal();
    spec.process.capabilities = { bounding: ['CAP_KILL', 'CAP_CHOWN', 'CAP_FOO'], effective: ['CAP_KILL'], permitted: ['CAP_FOO', 'CAP_KILL'], ambient: ['CAP_BAR'] };
    expect(convert(spec).capabilitySets).toEqual({ bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: [], ambient: [] });
    expect(ociWarnings(parseOciSpec(spec))).toEqual([
      'process.capabilities.bounding[2]: unknown capability "CAP_FOO", ignored',
      'process.capabilities.permitted[0]: unknown capability "CAP_FOO", ignored',
      'process.capabilities.ambient[0]: unknown capability "CAP_BAR", ignored',
    ]);
    // Ambient ones that cannot be raised are still named, past an unknown one.
    spec.process.capabilities = { bounding: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: ['CAP_NOPE', 'CAP_KILL'] };
    expect(ociWarnings(parseOciSpec(spec))).toEqual([
      'process.capabilities.ambient[0]: unknown capability "CAP_NOPE", ignored',
      'process.capabilities.ambient: CAP_KILL ignored: not in both permitted and inheritable (as runc)',
    ]);
  });

  it('still refuses a capability entry that is not a string, naming it', () => {
    const spec = minimal();
    spec.process.capabilities = { bounding: ['CAP_KILL', 5] };
    expect(() => convert(spec)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'process.capabilities.bounding[1]' }));
  });

  it('maps every namespace type 1:1, with paths', () => {
    const spec = minimal();
    spec.linux.namespaces = ['mount', 'pid', 'uts', 'ipc', 'network', 'user', 'cgroup', 'time'].map((type) => ({ type }));
    spec.linux.namespaces[4].path = '/var/run/netns/blue';
    spec.linux.namespaces[7].path = '/proc/1/ns/time';
    const c = convert(spec);
    expect(c.namespaces.map((n) => n.type)).toEqual(['mount', 'pid', 'uts', 'ipc', 'network', 'user', 'cgroup', 'time']);
    expect(c.namespaces[4]).toEqual({ type: 'network', path: '/var/run/netns/blue' });
    expect(c.namespaces[0]).toEqual({ type: 'mount' });
  });

  it('warns of every unknown field, with the known one it resembles (a typo must not weaken a container unseen)', () => {
    const spec = minimal() as Record<string, any>;
    spec.process.noNewPrivilege = true;
    spec.root.readOnly = true;
    spec.linux.maskedPath = ['/proc/kcore'];
    spec.linux.somethingNew = { a: 1 };
    spec.annotations = { anyKey: 'fine' };
    spec.windows = {};
    expect(ociWarnings(parseOciSpec(spec)).filter((w) => w.includes('unknown field'))).toEqual([
      'process.noNewPrivilege: unknown field, ignored (did you mean process.noNewPrivileges?)',
      'root.readOnly: unknown field, ignored (did you mean root.readonly?)',
      'linux.maskedPath: unknown field, ignored (did you mean linux.maskedPaths?)',
      'linux.somethingNew: unknown field, ignored',
    ]);
  });

  it('names the JSON path of what the container check refuses (validateContainer in config.json terms)', () => {
    const cases: [(s: any) => void, string, RegExp][] = [
      [(s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } }), 'linux.timeOffsets', /offsets need a new time namespace/],
      [(s) => (s.linux.namespaces.push({ type: 'time' }), (s.linux.timeOffsets = { realtime: { secs: 1 } })), 'linux.timeOffsets.realtime', /unknown clock/],
      [(s) => (s.process.rlimits = [{ type: 'RLIMIT_FOO', hard: 1, soft: 1 }]), 'process.rlimits[0].type', /unknown resource/],
      [(s) => (s.process.user = { uid: 0, gid: 0, umask: 0o10000 }), 'process.user.umask', /0\.\.0o777/],
      [(s) => (s.process.oomScoreAdj = 5000), 'process.oomScoreAdj', /-1000\.\.1000/],
      [(s) => (s.linux.sysctl = { 'kernel.core_pattern': '|/x' }), 'linux.sysctl["kernel.core_pattern"]', /not a namespaced sysctl/],
      [(s) => (s.linux.maskedPaths = ['proc/kcore']), 'linux.maskedPaths[0]', /absolute/],
      [(s) => (s.process.user = { uid: 4294967295, gid: 0 }), 'process.user.uid', /\(uid_t\)-1/],
      [(s) => (s.linux.maskedPaths = Array.from({ length: 10_001 }, (_, i) => `/m${i}`)), 'linux.maskedPaths', /at most 10000/],
      [(s) => (s.process.args = ['/bin/true', 'a'.repeat(131072)]), 'process.args[1]', /MAX_ARG_STRLEN/],
      [(s) => (s.process.env = Array.from({ length: 3000 }, (_, i) => `K${i}=${'v'.repeat(1024)}`)), 'process.env', /execve\(2\) gives them/],
    ];
    for (const [edit, path, message] of cases) {
      const spec = minimal();
      edit(spec);
      const error = thrown(() => convert(spec));
      expect({ code: error.code, path: error.path }).toEqual({ code: 'ERR_NS_CONFIG', path });
      expect(error.message).toMatch(new RegExp(`^config\\.json: ${path.replace(/[.[\]"]/g, '\\$&')}: `));
      expect(error.message).toMatch(message);
    }
  });

  it('rejects a network namespace path together with a new network namespace', () => {
    for (const list of [
      [{ type: 'network', path: '/var/run/netns/blue' }, { type: 'network' }],
      [{ type: 'network' }, { type: 'network', path: '/var/run/netns/blue' }],
    ]) {
      const spec = minimal();
      spec.linux.namespaces = [{ type: 'mount' }, ...list];
      const error = thrown(() => convert(spec));
      expect(error.code).toBe('ERR_NS_CONFIG');
      expect(error.path).toBe('linux.namespaces[2]');
      expect(error.message).toContain('/var/run/netns/blue');
      expect(error.message).toContain('cannot be combined');
    }
  });

  it('rejects duplicate namespace types and relative namespace paths', () => {
    const spec = minimal();
    spec.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'pid' }];
    const dup = thrown(() => convert(spec));
    expect(dup.path).toBe('linux.namespaces[2].type');
    expect(dup.message).toContain('duplicate namespace type "pid" (also linux.namespaces[0])');
    spec.linux.namespaces = [{ type: 'network', path: 'netns/blue' }];
    expect(thrown(() => convert(spec)).path).toBe('linux.namespaces[0].path');
  });

  it('names linux.namespaces[i].type for an unknown type', () => {
    const spec = minimal();
    spec.linux.namespaces.push({ type: 'nett' });
    const error = thrown(() => convert(spec));
    expect(error.code).toBe('ERR_NS_CONFIG');
    expect(error.path).toBe('linux.namespaces[2].type');
    expect(error.message).toContain('received "nett"');
  });

  it('needs a new UTS namespace to set a hostname', () => {
    const spec = minimal();
    spec.hostname = 'box';
    expect(thrown(() => convert(spec)).path).toBe('hostname');
    spec.linux.namespaces.push({ type: 'uts' });
    expect(convert(spec).hostname).toBe('box');
  });

  it('copies mounts in order; relative bind sources are relative to the bundle', () => {
    const spec = minimal();
    spec.mounts = [
      { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
      { destination: 'tmp', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/opt', source: '/srv/opt', options: ['bind'] },
      { destination: '/x', type: 'none', source: 'rel', options: ['rbind'] },
    ];
    spec.linux.maskedPaths = ['/proc/kcore'];
    spec.linux.readonlyPaths = ['/proc/sys'];
    spec.linux.rootfsPropagation = 'rslave';
    const c = convert(spec);
    expect(c.mounts).toEqual([
      { destination: '/data', type: 'bind', source: '/b/data', options: ['rbind', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/opt', source: '/srv/opt', options: ['bind'] },
      { destination: '/x', type: 'none', source: '/b/rel', options: ['rbind'] },
    ]);
    expect(c.maskedPaths).toEqual(['/proc/kcore']);
    expect(c.readonlyPaths).toEqual(['/proc/sys']);
    expect(c.rootfsPropagation).toBe('rslave');
    expect(minimal().mounts).toBeUndefined();
    expect(convert(minimal()).mounts).toBeUndefined();
  });
});

describe('ociWarnings', () => {
  it('lists the fields of the runc fixture that are not applied', () => {
    const warnings = ociWarnings(parseOciSpec(runcSpec()));
    const paths = warnings.map((w) => w.split(':')[0]);
    // linux.resources is applied now (a cgroup of the container's own).
    expect(paths).toEqual(['process.capabilities.ambient']);
  });

  it('is empty for a spec with only applied fields', () => {
    expect(ociWarnings(parseOciSpec(minimal()))).toEqual([]);
  });

  it('flags what the spec lets a runtime log and go on with', () => {
    const spec = minimal();
    spec.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    spec.process.capabilities = { bounding: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: ['CAP_KILL'] };
    spec.process.user.umask = 18;
    spec.hooks = { poststop: [] };
    spec.mounts = [{ destination: 'rel' }];
    const paths = ociWarnings(parseOciSpec(spec)).map((w) => w.split(':')[0]);
    expect(paths).toEqual(['process.capabilities.ambient', 'mounts[0].destination']);
  });
});

describe('fromOciSpec: process settings', () => {
  it('applies noNewPrivileges, rlimits and umask', () => {
    const spec = minimal();
    spec.process.noNewPrivileges = true;
    spec.process.user.umask = 0o077;
    spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 64, hard: 128 }, { type: 'RLIMIT_CORE', soft: 18446744073709551615, hard: 18446744073709551615 }];
    const c = fromOciSpec(spec, { bundle: '/b', id: 'x' });
    expect(c.noNewPrivileges).toBe(true);
    expect(c.umask).toBe(0o077);
    expect(c.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 64, hard: 128 },
      { type: 'RLIMIT_CORE', soft: 18446744073709551615, hard: 18446744073709551615 },
    ]);
  });
});

describe('defaultOciSpec', () => {
  it('round-trips through JSON and parseOciSpec', () => {
    const spec = defaultOciSpec();
    expect(parseOciSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    expect(defaultOciSpec()).not.toBe(defaultOciSpec());
  });

  it('matches runc spec, with runc 1.2 additions', () => {
    const spec = defaultOciSpec();
    const runc = runcSpec() as Record<string, any>;
    expect(spec.ociVersion).toBe('1.2.0');
    expect(spec.hostname).toBe('ns');
    expect(spec.root).toEqual(runc.root);
    expect(spec.mounts).toEqual(runc.mounts);
    expect(spec.process?.env).toEqual(runc.process.env);
    expect(spec.process?.user).toEqual(runc.process.user);
    expect(spec.process?.rlimits).toEqual(runc.process.rlimits);
    expect(spec.process?.noNewPrivileges).toBe(true);
    expect(spec.process?.terminal).toBe(true);
    expect(spec.process?.args).toEqual(['sh']);
    expect(spec.process?.capabilities).toEqual({
      bounding: runc.process.capabilities.bounding,
      effective: runc.process.capabilities.effective,
      permitted: runc.process.capabilities.permitted,
    });
    expect(spec.linux?.resources).toEqual(runc.linux.resources);
    expect(spec.linux?.namespaces).toEqual([...runc.linux.namespaces, { type: 'cgroup' }]);
    expect(spec.linux?.maskedPaths).toEqual([...runc.linux.maskedPaths, '/sys/devices/virtual/powercap']);
    expect(spec.linux?.maskedPaths).toEqual(DEFAULT_MASKED_PATHS);
    expect(spec.linux?.readonlyPaths).toEqual(runc.linux.readonlyPaths);
  });

  it('applies options and converts', () => {
    const spec: OciSpec = defaultOciSpec({ args: ['/bin/echo', 'hi'], terminal: false, rootfs: '/r', hostname: 'h' });
    const c = fromOciSpec(spec, { bundle: '/b', id: 'c' });
    expect(c.args).toEqual(['/bin/echo', 'hi']);
    expect(c.terminal).toBe(false);
    expect(c.rootfs).toBe('/r');
    expect(c.hostname).toBe('h');
    expect(c.namespaces).toHaveLength(6);
    expect(c.namespaces.map((n) => n.type)).toContain('cgroup');
  });
});

describe('loadOciSpec', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ns-oci-test-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reads <bundle>/config.json', () => {
    const bundle = join(tmp, 'ok');
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'config.json'), readFileSync(FIXTURE));
    expect(loadOciSpec(bundle)).toEqual(runcSpec());
  });

  it('reports a missing config.json as ERR_NS_NOT_FOUND', () => {
    const error = thrown(() => loadOciSpec(join(tmp, 'missing')));
    expect(error.code).toBe('ERR_NS_NOT_FOUND');
    expect(error.path).toBe(join(tmp, 'missing', 'config.json'));
    expect(error.message).toContain(join(tmp, 'missing', 'config.json'));
  });

  it('reports bad JSON and schema errors with the file name', () => {
    const bundle = join(tmp, 'bad');
    mkdirSync(bundle);
    const file = join(bundle, 'config.json');
    writeFileSync(file, '{"ociVersion": "1.2.0",');
    const json = thrown(() => loadOciSpec(bundle));
    expect(json.code).toBe('ERR_NS_CONFIG');
    expect(json.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON: `));
    writeFileSync(file, JSON.stringify({ ociVersion: '1.2.0', process: { args: [1] } }));
    const schema = thrown(() => loadOciSpec(bundle));
    expect(schema.code).toBe('ERR_NS_CONFIG');
    expect(schema.message).toBe(`${file}: process.args[0]: expected string, received number`);
  });

  it('containerFromBundle(): the errors of the conversion name the file too, as the schema\'s (they said `config.json: `)', () => {
    const bundle = join(tmp, 'semantic');
    mkdirSync(bundle);
    const file = join(bundle, 'config.json');
    const cases: [Record<string, any>, string, string][] = [
      [{ ...minimal(), process: { ...minimal().process, env: ['BAD'] } }, 'process.env[0]', 'process.env[0]: expected KEY=value, received "BAD"'],
      [{ ...minimal(), linux: { ...minimal().linux, intelRdt: { closID: 'x' } } }, 'linux.intelRdt', 'linux.intelRdt: Intel RDT'],
    ];
    for (const [spec, path, says] of cases) {
      writeFileSync(file, JSON.stringify(spec));
      const error = thrown(() => containerFromBundle(bundle, { id: 'c1' }));
      expect(error).toMatchObject({ code: 'ERR_NS_CONFIG', path });
      expect(error.message.startsWith(`${file}: ${says}`), error.message).toBe(true);
    }
  });
});
