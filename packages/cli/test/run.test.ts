import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CAPABILITIES, DEFAULT_CAPABILITIES, parseCapability, toMask } from '@ns/capabilities';
import { DEFAULT_MOUNTS, applyCapabilities, changeCapabilities, defaultOciSpec, rootfsContainer } from '@ns/namespaces';
import { execProcess, parseAdditionalGids } from '../src/commands/exec.js';
import { buildContainer, selectSource, type RunOptions } from '../src/commands/run.js';
import { applyEnv, applyNetwork, parseVolume } from '../src/flags.js';

let dir: string;
let rootfs: string;
let bundle: string;

/** A bundle directory holding config.json (root.path "rootfs") and an empty rootfs. */
function makeBundle(at: string, spec: Record<string, unknown> = {}): void {
  mkdirSync(join(at, 'rootfs'), { recursive: true });
  const base = defaultOciSpec({ args: ['/bin/echo', 'from', at], terminal: false });
  writeFileSync(join(at, 'config.json'), JSON.stringify({ ...base, ...spec }));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ns-cli-run-'));
  rootfs = join(dir, 'rootfs-dir');
  mkdirSync(rootfs);
  bundle = join(dir, 'bundle');
  makeBundle(bundle);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const build = (options: RunOptions, cwd = dir, env: NodeJS.ProcessEnv = {}) => buildContainer(options, cwd, { env });

describe('buildContainer: sources', () => {
  it('uses the embedded default when nothing is given and cwd has no config.json', () => {
    const c = build({});
    expect(selectSource({}, dir)).toBe('default');
    expect(c.rootfs).toBeNull();
    expect(c.args).toEqual(['sh']);
    expect(c.bundle).toBeUndefined();
  });

  it('uses --rootfs (relative to cwd) with default settings', () => {
    const c = build({ rootfs: 'rootfs-dir' });
    expect(c.rootfs).toBe(rootfs);
    expect(c.args).toEqual(['sh']);
    expect(c.namespaces.map((n) => n.type)).toContain('pid');
  });

  it('reads --bundle DIR/config.json, root.path relative to the bundle', () => {
    const c = build({ bundle: 'bundle' });
    expect(c.rootfs).toBe(join(bundle, 'rootfs'));
    expect(c.bundle).toBe(bundle);
    expect(c.args).toEqual(['/bin/echo', 'from', bundle]);
  });

  it('uses ./config.json with cwd as the bundle when an id is given (as runc run ID)', () => {
    const c = build({ idArgument: 'box' }, bundle);
    expect(selectSource({ idArgument: 'box' }, bundle)).toBe('cwd-bundle');
    expect(selectSource({ id: 'box' }, bundle)).toBe('cwd-bundle');
    expect(c.bundle).toBe(bundle);
    expect(c.rootfs).toBe(join(bundle, 'rootfs'));
  });

  it('ignores an unrelated ./config.json without an id: the embedded default', () => {
    expect(selectSource({}, bundle)).toBe('default');
    const c = build({ command: ['echo', 'hi'] }, bundle);
    expect(c.rootfs).toBeNull();
    expect(c.bundle).toBeUndefined();
    expect(c.args).toEqual(['echo', 'hi']);
  });

  it('works without a working directory (deleted): never a bundle, relative paths refused', () => {
    expect(selectSource({ idArgument: 'box' }, null)).toBe('default');
    const c = buildContainer({ idArgument: 'box', command: ['echo', 'ok'] }, null, { env: {} });
    expect(c.rootfs).toBeNull();
    expect(c.args).toEqual(['echo', 'ok']);
    expect(buildContainer({ rootfs }, null, { env: {} }).rootfs).toBe(rootfs);
    expect(() => buildContainer({ rootfs: 'rootfs-dir' }, null, { env: {} })).toThrow(
      /--rootfs rootfs-dir: a relative path, but the working directory no longer exists/,
    );
    expect(() => buildContainer({ volume: ['x:/x'] }, null, { env: {} })).toThrow(/-v x: a relative path/);
  });

  it('prefers --bundle over --rootfs, and says so', () => {
    const warnings: string[] = [];
    const c = buildContainer({ bundle, rootfs }, dir, { env: {}, warnings });
    expect(selectSource({ bundle, rootfs }, dir)).toBe('bundle');
    expect(c.rootfs).toBe(join(bundle, 'rootfs'));
    expect(warnings.some((w) => w.includes('--rootfs is ignored'))).toBe(true);
  });

  it('prefers --rootfs over ./config.json', () => {
    const c = build({ rootfs }, bundle);
    expect(selectSource({ rootfs }, bundle)).toBe('rootfs');
    expect(c.rootfs).toBe(rootfs);
    expect(c.bundle).toBeUndefined();
  });

  it('prefers ./config.json over the embedded default (with an id)', () => {
    expect(build({ id: 'box' }, bundle).rootfs).not.toBeNull();
    expect(build({ id: 'box' }, dir).rootfs).toBeNull();
  });

  it('applies process.consoleSize, linux.resources and linux.seccomp, and refuses a profile that denies execve', () => {
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: Record<string, unknown>; linux?: Record<string, unknown> };
    config.process.terminal = true;
    config.process.consoleSize = { height: 25, width: 80 };
    config.linux = { ...config.linux, resources: { pids: { limit: 16 } } };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    const warnings: string[] = [];
    const c = buildContainer({ bundle }, dir, { warnings });
    expect(warnings.filter((w) => w.startsWith('process.consoleSize') || w.startsWith('linux.resources'))).toEqual([]);
    expect(c.consoleSize).toEqual({ height: 25, width: 80 });
    expect(c.resources).toEqual({ pids: { limit: 16 } });
    const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_ERRNO' }] };
    config.linux.seccomp = seccomp;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    expect(buildContainer({ bundle }, dir, { warnings }).seccomp).toEqual(seccomp);
    expect(buildContainer({ bundle, securityOpt: ['seccomp=unconfined'] }, dir, { warnings }).seccomp).toBeUndefined();
    config.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO' };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    expect(() => buildContainer({ bundle }, dir, { warnings })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'linux.seccomp', message: expect.stringMatching(/execve fails/) }));
  });

  it('fails for a bundle without config.json', () => {
    expect(() => build({ bundle: rootfs })).toThrow(/config\.json/);
  });

  it('a command after -- replaces process.args, for every source', () => {
    expect(build({ command: ['/bin/true', 'x'] }).args).toEqual(['/bin/true', 'x']);
    expect(build({ rootfs, command: ['ls'] }).args).toEqual(['ls']);
    expect(build({ bundle, command: ['ls', '-l'] }).args).toEqual(['ls', '-l']);
    expect(build({ bundle, command: [] }).args).toEqual(['/bin/echo', 'from', bundle]);
  });

  it('a bundle without process.args runs the command after --', () => {
    const noArgs = join(dir, 'no-args');
    const base = defaultOciSpec({ terminal: false });
    delete (base.process as { args?: string[] }).args;
    makeBundle(noArgs, { process: base.process });
    expect(() => build({ bundle: noArgs })).toThrow(/process\.args/);
    expect(build({ bundle: noArgs, command: ['/bin/echo', 'x'] }).args).toEqual(['/bin/echo', 'x']);
    expect(build({ idArgument: 'box', command: ['ls'] }, noArgs).args).toEqual(['ls']);
  });
});

describe('buildContainer: id', () => {
  it('takes the id from the first positional', () => {
    expect(build({ idArgument: 'box1', command: ['sh'] }).id).toBe('box1');
    expect(build({ bundle, idArgument: 'box1' }).id).toBe('box1');
  });

  it('refuses a bare word without a command where no bundle gives one (it would run sh under that name)', () => {
    expect(() => build({ idArgument: 'word' })).toThrow(/no config\.json in .*ns run -- CMD/);
    expect(() => build({ idArgument: 'ls', rootfs: bundle })).toThrow(/to run it, ns run --rootfs DIR -- ls/);
  });

  it('takes the id from --id', () => {
    expect(build({ id: 'box2' }).id).toBe('box2');
    expect(build({ bundle, id: 'box2' }).id).toBe('box2');
  });

  it('accepts both when they agree, refuses when they differ', () => {
    expect(build({ idArgument: 'same', id: 'same', command: ['sh'] }).id).toBe('same');
    expect(() => build({ idArgument: 'a', id: 'b' })).toThrow(/given twice/);
  });

  it('generates a fresh id when none is given', () => {
    const a = build({}).id;
    const b = build({}).id;
    expect(a).toMatch(/^ns-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });

  it('refuses an invalid id and hints at -- when it looks like a command', () => {
    expect(() => build({ idArgument: '/bin/sh' })).toThrow(/invalid container id "\/bin\/sh".*after --/);
    expect(() => build({ id: '-x' })).toThrow(/invalid container id/);
  });
});

describe('buildContainer: process options', () => {
  it('sets hostname, user, cwd, readonly and tty', () => {
    const c = build({ rootfs, hostname: 'box', user: 'alice:users', cwd: '/work', readonly: true, tty: true });
    expect(c).toMatchObject({ hostname: 'box', user: 'alice:users', cwd: '/work', readonly: true, terminal: true });
  });

  it('refuses an empty --hostname (instead of keeping the host name)', () => {
    expect(() => build({ hostname: '' })).toThrow(/^--hostname: empty$/);
  });

  it('-t sets TERM=xterm when the environment has none, and keeps one that is set', () => {
    expect(build({ tty: true }).env).toContain('TERM=xterm');
    expect(build({ tty: true, env: ['TERM=vt100'] }).env.filter((e) => e.startsWith('TERM='))).toEqual(['TERM=vt100']);
    expect(build({}).env.some((e) => e.startsWith('TERM='))).toBe(false);
    const tty = join(dir, 'tty-term');
    makeBundle(tty, { process: { ...defaultOciSpec().process, terminal: true, env: ['PATH=/bin'] } });
    expect(build({ bundle: tty }).env).toEqual(['PATH=/bin', 'TERM=xterm']);
  });

  it('ns exec -t sets TERM=xterm when the environment has none', () => {
    const config = rootfsContainer('/rootfs', { id: 'x' });
    const state = { config } as Parameters<typeof execProcess>[1];
    expect(execProcess({ id: 'x', command: ['sh'], tty: true }, state, {}).env).toEqual([...config.env, 'TERM=xterm']);
    expect(execProcess({ id: 'x', command: ['sh'], tty: true, env: ['TERM=dumb'] }, state, {}).env).toContain('TERM=dumb');
    expect(execProcess({ id: 'x', command: ['sh'] }, state, {}).env).toBeUndefined();
  });

  it('ns exec -e overrides a key the config has twice', () => {
    const config = rootfsContainer('/rootfs', { id: 'x', env: ['ONE=two', 'PATH=/bin', 'ONE=three'] });
    const state = { config } as Parameters<typeof execProcess>[1];
    expect(execProcess({ id: 'x', command: ['env'], env: ['ONE=four'] }, state, {}).env).toEqual(['PATH=/bin', 'ONE=four']);
  });

  it('ns exec -g: the container\'s additional gids, then those given, as runc exec; bad values name the flag', () => {
    const state = (additionalGids?: number[]) =>
      ({ config: rootfsContainer('/rootfs', { id: 'x', ...(additionalGids ? { additionalGids } : {}) }) }) as Parameters<typeof execProcess>[1];
    expect(execProcess({ id: 'x', command: ['id'], additionalGids: ['10', '20'] }, state(), {}).additionalGids).toEqual([10, 20]);
    expect(execProcess({ id: 'x', command: ['id'], additionalGids: ['0', '4294967294'] }, state([5]), {}).additionalGids).toEqual([5, 0, 4294967294]);
    expect(execProcess({ id: 'x', command: ['id'] }, state([5]), {}).additionalGids).toBeUndefined();
    expect(parseAdditionalGids(['007'])).toEqual([7]);
    for (const bad of ['abc', '-1', '1.5', '', ' 1', '1e3', '0x10', '4294967295', '99999999999999999999']) {
      expect(() => execProcess({ id: 'x', command: ['id'], additionalGids: [bad] }, state(), {})).toThrow(
        expect.objectContaining({ code: 'ERR_NS_CONFIG', message: `--additional-gids ${JSON.stringify(bad)}: expected a group id, an integer 0..4294967294` }),
      );
    }
  });

  it('keeps the defaults when the options are absent', () => {
    const c = build({ rootfs });
    expect(c).toMatchObject({ hostname: 'ns', user: '0:0', cwd: '/', readonly: false, terminal: false });
  });

  it('keeps process.terminal from the bundle, and -t forces it', () => {
    const tty = join(dir, 'tty-bundle');
    makeBundle(tty, { process: { ...defaultOciSpec().process, terminal: true } });
    expect(build({ bundle: tty }).terminal).toBe(true);
    expect(build({ bundle }).terminal).toBe(false);
    expect(build({ bundle, tty: true }).terminal).toBe(true);
  });

  it('adds -e K=V and K (from ns own environment) to the environment', () => {
    const c = build({ env: ['FOO=bar', 'HOME_DIR', 'UNSET', 'EMPTY=', 'X=a=b'] }, dir, { HOME_DIR: '/home/me' });
    expect(c.env).toContain('FOO=bar');
    expect(c.env).toContain('HOME_DIR=/home/me');
    expect(c.env).toContain('EMPTY=');
    expect(c.env).toContain('X=a=b');
    expect(c.env.some((e) => e.startsWith('UNSET'))).toBe(false);
    expect(c.env.some((e) => e.startsWith('PATH='))).toBe(true);
  });
});

describe('applyEnv', () => {
  it('sets a key of the base as runc exec --env: the entry comes last and every earlier one of that key goes', () => {
    expect(applyEnv(['PATH=/bin', 'A=1'], ['PATH=/usr/bin', 'B=2'], {})).toEqual(['A=1', 'PATH=/usr/bin', 'B=2']);
    // A key the base holds twice (the last one was the one in effect): -e still wins.
    expect(applyEnv(['ONE=two', 'X=1', 'ONE=three'], ['ONE=four'], {})).toEqual(['X=1', 'ONE=four']);
  });

  it('leaves the base with each key once, the last entry of a key winning', () => {
    expect(applyEnv(['ONE=two', 'ONE=three'], ['B=2'], {})).toEqual(['ONE=three', 'B=2']);
  });

  it('the last -e of a key wins', () => {
    expect(applyEnv([], ['A=1', 'A=2'], {})).toEqual(['A=2']);
  });

  it('does not confuse keys sharing a prefix', () => {
    expect(applyEnv(['AB=1'], ['A=2'], {})).toEqual(['AB=1', 'A=2']);
  });

  it('refuses an empty key', () => {
    expect(() => applyEnv([], ['=x'], {})).toThrow(/expected KEY=value or KEY/);
    expect(() => applyEnv([], [''], {})).toThrow(/expected KEY=value or KEY/);
  });
});

describe('-v / --volume', () => {
  it('parses HOST:CONTAINER as a read-write recursive bind mount', () => {
    expect(parseVolume(`${rootfs}:/data`, '/')).toEqual({ destination: '/data', type: 'bind', source: rootfs, options: ['rbind'] });
    expect(parseVolume(`${rootfs}:/data:rw`, '/').options).toEqual(['rbind']);
  });

  it('parses :ro', () => {
    expect(parseVolume(`${rootfs}:/data:ro`, '/')).toEqual({ destination: '/data', type: 'bind', source: rootfs, options: ['rbind', 'ro'] });
  });

  it('resolves a relative host path from cwd', () => {
    expect(parseVolume('rootfs-dir:/data', dir).source).toBe(rootfs);
    expect(parseVolume('./bundle/config.json:/etc/x.json:ro', dir).source).toBe(join(bundle, 'config.json'));
  });

  it('refuses a missing host path', () => {
    expect(() => parseVolume('no-such-dir:/data', dir)).toThrow(/no-such-dir: no such file or directory/);
  });

  it('refuses malformed volumes', () => {
    expect(() => parseVolume(rootfs, '/')).toThrow(/expected HOST:CONTAINER/);
    expect(() => parseVolume(`${rootfs}:`, '/')).toThrow(/expected HOST:CONTAINER/);
    expect(() => parseVolume(':/data', '/')).toThrow(/expected HOST:CONTAINER/);
    expect(() => parseVolume(`${rootfs}:/a:ro:x`, '/')).toThrow(/expected HOST:CONTAINER/);
    expect(() => parseVolume(`${rootfs}:/data:rx`, '/')).toThrow(/unknown mode "rx"/);
    expect(() => parseVolume(`${rootfs}:data`, '/')).toThrow(/must be absolute/);
  });

  it('refuses / as the destination', () => {
    expect(() => parseVolume(`${rootfs}:/`, '/')).toThrow(new RegExp(`^-v ${rootfs}:/: the destination cannot be /$`));
    expect(() => parseVolume(`${rootfs}:/..:ro`, '/')).toThrow(/the destination cannot be \//);
  });

  it('refuses the same destination twice (as docker)', () => {
    expect(() => build({ volume: [`${rootfs}:/mnt/x`, `${bundle}:/mnt/x`] })).toThrow(/^duplicate mount point \/mnt\/x$/);
    expect(() => build({ volume: [`${rootfs}:/mnt/x`, `${bundle}:/mnt/x/:ro`] })).toThrow(/^duplicate mount point \/mnt\/x$/);
    expect(build({ volume: [`${rootfs}:/mnt/x`, `${bundle}:/mnt/y`] }).mounts?.slice(-2).map((m) => m.destination)).toEqual(['/mnt/x', '/mnt/y']);
  });

  it('appends volumes after the source mounts (the defaults when the source has none)', () => {
    const c = build({ rootfs, volume: [`${rootfs}:/a`, `${rootfs}:/b:ro`] });
    const mounts = c.mounts ?? [];
    expect(mounts.slice(0, DEFAULT_MOUNTS.length).map((m) => m.destination)).toEqual(DEFAULT_MOUNTS.map((m) => m.destination));
    expect(mounts.slice(-2)).toEqual([
      { destination: '/a', type: 'bind', source: rootfs, options: ['rbind'] },
      { destination: '/b', type: 'bind', source: rootfs, options: ['rbind', 'ro'] },
    ]);
  });

  it('keeps the embedded default /tmp and the bundle mounts before the volumes', () => {
    const def = build({ volume: [`${rootfs}:/a`] }).mounts ?? [];
    expect(def.map((m) => m.destination)).toContain('/tmp');
    expect(def.at(-1)?.destination).toBe('/a');
    const fromBundle = build({ bundle, volume: [`${rootfs}:/a`] }).mounts ?? [];
    expect(fromBundle.map((m) => m.destination)).toContain('/sys/fs/cgroup');
    expect(fromBundle.at(-1)?.destination).toBe('/a');
  });
});

describe('--net', () => {
  const types = (c: { namespaces: { type: string; path?: string }[] }) => c.namespaces.filter((n) => n.type === 'network');

  it('defaults to a new network namespace', () => {
    expect(types(build({}))).toEqual([{ type: 'network' }]);
  });

  it('none: a new network namespace (added when the source has none)', () => {
    expect(types(build({ net: 'none' }))).toEqual([{ type: 'network' }]);
    expect(applyNetwork([{ type: 'mount' }], 'none', '/')).toEqual([{ type: 'mount' }, { type: 'network' }]);
  });

  it('host: no network namespace', () => {
    const c = build({ net: 'host' });
    expect(types(c)).toEqual([]);
    expect(c.namespaces.map((n) => n.type)).toEqual(['mount', 'pid', 'uts', 'ipc']);
  });

  it('PATH: joins that namespace (relative to cwd)', () => {
    expect(types(build({ net: '/proc/self/ns/net' }))).toEqual([{ type: 'network', path: '/proc/self/ns/net' }]);
    expect(applyNetwork([], './ns/net', '/proc/self')).toEqual([{ type: 'network', path: '/proc/self/ns/net' }]);
  });

  it('PATH: a symlink to a network namespace is one', () => {
    const link = join(dir, 'netns-link');
    // A symlink (not a magic /proc link) to /proc/self/ns/net.
    symlinkSync('/proc/self/ns/net', link);
    expect(readlinkSync(link)).toBe('/proc/self/ns/net');
    expect(types(build({ net: link }))).toEqual([{ type: 'network', path: link }]);
  });

  it('refuses a missing path and an unknown word', () => {
    expect(() => build({ net: '/var/run/netns/no-such-ns' })).toThrow(/no such network namespace/);
    expect(() => build({ net: 'bridged' })).toThrow(/expected none, host, bridge\[:NAME\] or the path/);
    expect(build({ net: 'bridge' }).bridge).toEqual({ name: 'ns0', subnet: '10.89.0.0/24' });
    expect(build({ net: 'bridge:br7' }).bridge).toMatchObject({ name: 'br7', subnet: expect.stringMatching(/^10\.89\.([1-9]\d?|1\d\d|2[0-4]\d|25[0-4])\.0\/24$/) });
    expect(build({ net: 'bridge:br7' }).namespaces).toContainEqual({ type: 'network' });
  });

  it('refuses a file that is not a network namespace', () => {
    expect(() => build({ net: '/etc/passwd' })).toThrow(/^--net \/etc\/passwd: not a network namespace$/);
    expect(() => build({ net: './bundle/config.json' })).toThrow(/^--net \.\/bundle\/config\.json: not a network namespace$/);
    expect(() => build({ net: '/proc/self/ns/pid' })).toThrow(/^--net \/proc\/self\/ns\/pid: not a network namespace \(a pid namespace\)$/);
    expect(() => build({ net: dir })).toThrow(/not a network namespace/);
  });
});

describe('--cap-add / --cap-drop', () => {
  it('leaves capabilities undefined (the library default) without options', () => {
    expect(build({}).capabilities).toBeUndefined();
  });

  it('adds to and drops from DEFAULT_CAPABILITIES, in every set', () => {
    const container = build({ capAdd: ['NET_ADMIN'], capDrop: ['cap_chown'] });
    expect(container.capabilities).toBeUndefined();
    expect(container.capabilitySets?.effective).toEqual(container.capabilitySets?.bounding);
    expect(container.capabilitySets?.permitted).toEqual(container.capabilitySets?.bounding);
    const caps = container.capabilitySets?.bounding ?? [];
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).not.toContain('CAP_CHOWN');
    expect(caps).toHaveLength(DEFAULT_CAPABILITIES.length);
    expect(caps).toContain('CAP_KILL');
  });

  it('starts from the bundle list when it has one', () => {
    const caps = build({ bundle, capAdd: ['SYS_ADMIN'] }).capabilitySets?.bounding ?? [];
    expect([...caps].sort()).toEqual(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN']);
  });

  it('drop ALL then add keeps only the added ones', () => {
    expect(applyCapabilities(DEFAULT_CAPABILITIES, ['NET_BIND_SERVICE'], ['ALL'])).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(applyCapabilities(DEFAULT_CAPABILITIES, [], ['all'])).toEqual([]);
  });

  it('add ALL keeps every known capability but the dropped ones', () => {
    const caps = applyCapabilities([], ['ALL'], ['SYS_ADMIN']);
    expect(caps).toHaveLength(CAPABILITIES.length - 1);
    expect(caps).not.toContain('CAP_SYS_ADMIN');
  });

  it('an explicit add wins over a drop of the same capability (as docker)', () => {
    expect(applyCapabilities([], ['KILL'], ['KILL'])).toEqual(['CAP_KILL']);
  });

  it('does not list a capability twice', () => {
    expect(applyCapabilities(['CAP_KILL'], ['kill', 'CAP_KILL'], [])).toEqual(['CAP_KILL']);
  });

  it('--cap-add ALL still loses the dropped ones; a named add wins over its drop (as docker)', () => {
    const all = build({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] }).capabilitySets?.bounding ?? [];
    expect(all).not.toContain('CAP_SYS_ADMIN');
    expect(all).toContain('CAP_NET_ADMIN');
    expect(build({ capAdd: ['KILL'], capDrop: ['KILL'] }).capabilitySets?.bounding).toContain('CAP_KILL');
  });

  describe('limited to the bounding set of ns (as root, no user namespace)', () => {
    const without = (...names: string[]) => {
      const all = toMask(CAPABILITIES.map((c) => c.name));
      return names.reduce((m, n) => m & ~(1n << BigInt(parseCapability(n))), all);
    };
    const base = () => rootfsContainer(rootfs, { id: 'caps' });

    it('--cap-add ALL adds only what ns has', () => {
      const sets = changeCapabilities(base(), ['ALL'], [], { bounding: without('CAP_SYS_RESOURCE', 'CAP_SYS_TIME') }).capabilitySets!;
      expect(sets.bounding).not.toContain('CAP_SYS_RESOURCE');
      expect(sets.bounding).not.toContain('CAP_SYS_TIME');
      expect(sets.effective).not.toContain('CAP_SYS_RESOURCE');
      expect(sets.bounding).toContain('CAP_SYS_ADMIN');
      // Without a limit (a user namespace, or not root): every capability the kernel knows.
      expect(changeCapabilities(base(), ['ALL'], [], { bounding: null }).capabilitySets!.bounding).toContain('CAP_SYS_RESOURCE');
    });

    it('--cap-add ALL still loses the dropped ones', () => {
      const sets = changeCapabilities(base(), ['ALL'], ['NET_ADMIN'], { bounding: without('CAP_SYS_RESOURCE') }).capabilitySets!;
      expect(sets.bounding).not.toContain('CAP_NET_ADMIN');
      expect(sets.bounding).not.toContain('CAP_SYS_RESOURCE');
      expect(sets.bounding).toContain('CAP_SYS_ADMIN');
    });

    it('a named capability outside it is an error', () => {
      expect(() => changeCapabilities(base(), ['sys_resource'], [], { bounding: without('CAP_SYS_RESOURCE') })).toThrow(
        /^--cap-add CAP_SYS_RESOURCE: not in the bounding set of this ns process$/,
      );
      expect(() => changeCapabilities(base(), ['ALL', 'SYS_RESOURCE'], [], { bounding: without('CAP_SYS_RESOURCE') })).toThrow(
        /CAP_SYS_RESOURCE: not in the bounding set/,
      );
      expect(changeCapabilities(base(), ['SYS_RESOURCE'], [], { bounding: null }).capabilitySets!.bounding).toContain('CAP_SYS_RESOURCE');
      // Dropping needs nothing from ns.
      expect(changeCapabilities(base(), [], ['KILL'], { bounding: 0n }).capabilitySets!.bounding).not.toContain('CAP_KILL');
    });

    it('buildContainer takes the limit from its context', () => {
      expect(() => buildContainer({ rootfs, capAdd: ['SYS_RESOURCE'] }, dir, { env: {}, bounding: without('CAP_SYS_RESOURCE') })).toThrow(
        /not in the bounding set/,
      );
    });
  });

  it('refuses an unknown capability, naming the option', () => {
    expect(() => build({ capAdd: ['CAP_FOO'] })).toThrow(/--cap-add: unknown capability "CAP_FOO"/);
    expect(() => build({ capDrop: ['BAR'] })).toThrow(/--cap-drop: unknown capability "BAR"/);
  });

  it('--cap-add of a capability the running kernel does not know: left out with a warning (as runc), checked before the bounding limit', () => {
    const warnings: string[] = [];
    const c = changeCapabilities(rootfsContainer(rootfs, { id: 'x' }), ['BPF', 'NET_ADMIN'], [], { bounding: toMask(['CAP_NET_ADMIN']), lastCap: 38, warnings });
    expect(warnings).toEqual(['--cap-add: CAP_BPF is not known to the running kernel (cap_last_cap is 38), ignored']);
    expect(c.capabilitySets!.bounding).toContain('CAP_NET_ADMIN');
    expect(c.capabilitySets!.bounding).not.toContain('CAP_BPF');
    // The same name on a kernel that knows it is added.
    expect(changeCapabilities(rootfsContainer(rootfs, { id: 'x' }), ['BPF'], [], { bounding: null, lastCap: 40 }).capabilitySets!.bounding).toContain('CAP_BPF');
  });

  it('a bundle whose config.json names unknown capabilities runs without them, with a warning naming each entry', () => {
    const caps = join(dir, 'caps');
    const spec = defaultOciSpec();
    makeBundle(caps, { process: { ...spec.process, capabilities: { ...spec.process!.capabilities, bounding: ['CAP_KILL', 'CAP_CHOWN', 'CAP_FOO'] } } });
    const warnings: string[] = [];
    const c = buildContainer({ bundle: caps }, dir, { env: {}, warnings });
    expect(c.capabilitySets!.bounding).toEqual(['CAP_KILL', 'CAP_CHOWN']);
    expect(warnings).toContain('process.capabilities.bounding[2]: unknown capability "CAP_FOO", ignored');
    // --cap-add / --cap-drop on top of it.
    expect(buildContainer({ bundle: caps, capDrop: ['KILL'] }, dir, { env: {} }).capabilitySets!.bounding).toEqual(['CAP_CHOWN']);
  });
});

describe('adjustCapabilities keeps names it does not know for validateContainer to leave out', () => {
  it('keeps them as given, after the known ones, and still drops and adds', async () => {
    const { adjustCapabilities } = await import('@ns/namespaces');
    const c = adjustCapabilities(rootfsContainer(rootfs, { id: 'x', capabilitySets: { bounding: ['CAP_FOO', 'kill', 'CAP_CHOWN'] } }), { add: ['NET_ADMIN'], drop: ['CHOWN'] });
    expect(c.capabilitySets!.bounding).toEqual(['CAP_KILL', 'CAP_NET_ADMIN', 'CAP_FOO']);
    // The seed drop list applies to names in any spelling.
    expect(adjustCapabilities(rootfsContainer(rootfs, { id: 'x', capabilities: ['kill', 'CAP_CHOWN'], dropCapabilities: ['CAP_KILL'] }), {}).capabilitySets!.bounding).toEqual(['CAP_CHOWN']);
    expect(() => adjustCapabilities(rootfsContainer(rootfs, { id: 'x' }), { add: ['CAP_FOO'] })).toThrow(/unknown capability "CAP_FOO"/);
  });
});
