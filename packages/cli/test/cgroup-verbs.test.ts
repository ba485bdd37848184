/**
 * `ns pause`, `resume`, `update` and `events` without root: how runc's flag values are read,
 * what `update` asks the library for, the runc events JSON made from CgroupStats, and the
 * errors for containers that cannot be acted on (hand-written state files; a "running"
 * container is this test process itself, with no cgroup of its own).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OCI_VERSION, processStartTime, rootfsContainer, type CgroupStats, type ContainerState } from '@ns/namespaces';
import { UINT64_MAX, eventLine, main, parseBytes, parseDuration, parseInteger, runcStats, updateResources } from '../src/index.js';

const MiB = 1024 * 1024;

describe('parseBytes (runc --memory: go-units RAMInBytes)', () => {
  it.each([
    ['0', 0],
    ['1048576', MiB],
    ['512m', 512 * MiB],
    ['512M', 512 * MiB],
    ['512MiB', 512 * MiB],
    ['512mb', 512 * MiB],
    ['512 MB', 512 * MiB],
    ['64k', 64 * 1024],
    ['1.5g', 1.5 * 1024 * MiB],
    ['2t', 2 * 2 ** 40],
    ['10b', 10],
    ['1.5', 1],
    ['-1', -1],
  ])('%j is %d bytes', (text, bytes) => {
    expect(parseBytes(text, '--memory')).toBe(bytes);
  });

  it.each(['', 'abc', '-5', '-1m', '12q', '1.2.3', 'm', '5 5', '1e6', '100000000000p'])('refuses %j naming the flag', (text) => {
    expect(() => parseBytes(text, '--memory-swap')).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/^--memory-swap /) }));
  });
});

describe('parseDuration (runc --interval: Go time.ParseDuration)', () => {
  it.each([
    ['5s', 5000],
    ['1s', 1000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['100us', 0.1],
    ['0', 0],
    ['-1s', -1000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text, '--interval')).toBeCloseTo(ms);
  });

  it.each(['', '5', '5 s', 's', '5x', '1m 30s', 'abc'])('refuses %j naming the flag', (text) => {
    expect(() => parseDuration(text, '--interval')).toThrow(/^--interval .*expected a duration such as 5s/);
  });
});

describe('parseInteger', () => {
  it('reads decimal integers, refusing other forms and values below the minimum', () => {
    expect(parseInteger('50000', '--cpu-quota', -1)).toBe(50000);
    expect(parseInteger('-1', '--cpu-quota', -1)).toBe(-1);
    expect(parseInteger('+7', '--cpu-period', 0)).toBe(7);
    expect(() => parseInteger('-2', '--cpu-quota', -1, '-1 for unlimited')).toThrow('--cpu-quota "-2": expected an integer (-1 for unlimited)');
    expect(() => parseInteger('-1', '--cpu-period', 0, 'microseconds')).toThrow('--cpu-period "-1": expected a non-negative integer (microseconds)');
    expect(() => parseInteger('1.5', '--pids-limit', -1)).toThrow(/^--pids-limit "1.5"/);
    expect(() => parseInteger('0x10', '--pids-limit', -1)).toThrow(/^--pids-limit "0x10"/);
    expect(() => parseInteger('99999999999999999999', '--pids-limit', -1)).toThrow('--pids-limit "99999999999999999999": too large');
  });
});

describe('updateResources: the linux.resources of ns update', () => {
  it('maps each of runc update\'s flags onto its OCI field', () => {
    const { resources, flags } = updateResources({
      memory: '512m',
      memoryReservation: '256m',
      memorySwap: '1g',
      cpuShares: '512',
      cpuPeriod: '100000',
      cpuQuota: '50000',
      cpuBurst: '10000',
      cpuRtPeriod: '1000000',
      cpuRtRuntime: '-1',
      cpuIdle: '0',
      cpusetCpus: '0-1',
      cpusetMems: '0',
      blkioWeight: '500',
      pidsLimit: '64',
    });
    expect(resources).toEqual({
      memory: { limit: 512 * MiB, reservation: 256 * MiB, swap: 1024 * MiB },
      cpu: { shares: 512, period: 100000, quota: 50000, burst: 10000, realtimePeriod: 1000000, realtimeRuntime: -1, idle: 0, cpus: '0-1', mems: '0' },
      blockIO: { weight: 500 },
      pids: { limit: 64 },
    });
    expect(flags.get('linux.resources.memory.limit')).toBe('--memory');
    expect(flags.get('linux.resources.pids.limit')).toBe('--pids-limit');
  });

  it('sets only what is given; --cpu-share is runc\'s spelling of --cpu-shares; -1 is unlimited', () => {
    expect(updateResources({ pidsLimit: '8' }).resources).toEqual({ pids: { limit: 8 } });
    expect(updateResources({ cpuShare: '1024' }).resources).toEqual({ cpu: { shares: 1024 } });
    expect(updateResources({ memory: '-1', pidsLimit: '-1' }).resources).toEqual({ memory: { limit: -1 }, pids: { limit: -1 } });
  });

  it('takes -r FILE as a linux.resources object, each flag winning over its field', () => {
    const text = JSON.stringify({ memory: { limit: 1024, swap: 4096 }, pids: { limit: 16 }, cpu: { cpus: '0' }, unified: { 'memory.high': '1000000' } });
    const r = updateResources({ resources: 'res.json', memory: '2048', pidsLimit: '12' }, text);
    expect(r.resources).toEqual({ memory: { limit: 2048, swap: 4096 }, pids: { limit: 12 }, cpu: { cpus: '0' }, unified: { 'memory.high': '1000000' } });
    expect(r.file).toBe('res.json');
    expect([...r.flags.keys()]).toEqual(['linux.resources.memory.limit', 'linux.resources.pids.limit']);
    // An empty object is a valid (empty) update.
    expect(updateResources({ resources: '-' }, '{}').resources).toEqual({});
  });

  it('refuses a file that is not a JSON object, naming it', () => {
    expect(() => updateResources({ resources: 'r.json' }, '{"memory": ')).toThrow(/^-r r\.json: not JSON: /);
    expect(() => updateResources({ resources: '-' }, '[1]')).toThrow(/^-r standard input: expected a JSON object of linux\.resources/);
    expect(() => updateResources({ resources: 'r.json' }, 'null')).toThrow(/^-r r\.json: expected a JSON object/);
  });

  it('refuses --kernel-memory (no kernel memory limits on cgroup v2 or Linux >= 5.16), a bad value naming its flag, and an empty update', () => {
    expect(() => updateResources({ kernelMemory: '1g' })).toThrow(/^--kernel-memory: kernel memory limits are not supported: cgroup v2 has none .*Linux 5\.16/);
    expect(() => updateResources({ memory: 'lots' })).toThrow(/^--memory "lots": expected a size in bytes/);
    expect(() => updateResources({ cpuQuota: '1.5' })).toThrow(/^--cpu-quota "1\.5": expected an integer/);
    expect(() => updateResources({ blkioWeight: 'heavy' })).toThrow(/^--blkio-weight "heavy"/);
    expect(() => updateResources({})).toThrow(/^nothing to update: give -r FILE or at least one limit flag/);
  });
});

/** v1-style stats, as @ns/cgroups reads them on this kind of host. */
const V1: CgroupStats = {
  memory: {
    usage: 958464,
    maxUsage: 1036288,
    limit: 33554432,
    swapUsage: 4096,
    failcnt: 3,
    oomKills: 1,
    underOom: false,
    stat: { cache: 438272, rss: 102400, hierarchical_memory_limit: 9223372036854771712 },
  },
  cpu: { usageNs: 25578953, userNs: 10_000_000, systemNs: 20_000_000, periods: 10, throttledPeriods: 2, throttledNs: 123456 },
  pids: { current: 2, limit: 8 },
};

describe('runcStats and eventLine: runc events JSON (types/events.go)', () => {
  it('maps CgroupStats onto runc\'s Stats: cpu.usage/throttling, memory.usage/swap/cache/raw, pids', () => {
    expect(runcStats(V1)).toEqual({
      cpu: {
        usage: { total: 25578953, kernel: 20_000_000, user: 10_000_000 },
        throttling: { periods: 10, throttledPeriods: 2, throttledTime: 123456 },
      },
      memory: {
        cache: 438272,
        usage: { limit: 33554432, usage: 958464, max: 1036288, failcnt: 3 },
        swap: { usage: 958464 + 4096 },
        raw: { cache: 438272, rss: 102400, hierarchical_memory_limit: 9223372036854771712 },
      },
      pids: { current: 2, limit: 8 },
    });
  });

  it('v2-style stats: unlimited is 2^64-1, the page cache is memory.stat file, an unlimited pids.max is left out', () => {
    const data = runcStats({
      memory: { usage: 100, limit: -1, oomKills: 0, stat: { file: 40, anon: 60 } },
      cpu: { usageNs: 5000 },
      pids: { current: 1, limit: -1 },
    });
    expect(data).toEqual({
      cpu: { usage: { total: 5000 } },
      memory: { cache: 40, usage: { limit: UINT64_MAX, usage: 100, failcnt: 0 }, raw: { file: 40, anon: 60 } },
      pids: { current: 1 },
    });
    expect(eventLine({ type: 'stats', id: 'web1', data })).toBe(
      '{"type":"stats","id":"web1","data":{"cpu":{"usage":{"total":5000}},"memory":{"cache":40,"usage":{"limit":18446744073709551615,"usage":100,"failcnt":0},"raw":{"file":40,"anon":60}},"pids":{"current":1}}}\n',
    );
  });

  it('leaves out the sections of controllers the cgroup does not have', () => {
    expect(runcStats({})).toEqual({});
    expect(runcStats({ pids: { current: 3 } })).toEqual({ pids: { current: 3 } });
  });

  it('writes one line per event, with integers beyond 2^53 in all their digits, and an oom event without data', () => {
    expect(eventLine({ type: 'oom', id: 'web1' })).toBe('{"type":"oom","id":"web1"}\n');
    const line = eventLine({ type: 'stats', id: 'a', data: runcStats(V1) });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(line).toContain('"hierarchical_memory_limit":9223372036854771712');
    expect(JSON.parse(line)).toMatchObject({ type: 'stats', id: 'a', data: { pids: { current: 2, limit: 8 } } });
  });
});

describe('ns pause / resume / update / events through main()', () => {
  let dir: string;
  let root: string;
  let out: string;
  let err: string;
  const io = () => ({ cwd: dir, env: {}, stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s) });
  const ns = (...args: string[]) => main(['--root', root, ...args], io());

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-cli-cgroup-verbs-'));
    root = join(dir, 'state');
    out = '';
    err = '';
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A container recorded as running as this process (no cgroup of its own), or stopped. */
  function writeState(id: string, running: boolean): void {
    const config = { ...rootfsContainer('/rootfs', { id }), namespaces: [{ type: 'mount' as const }] };
    const state: ContainerState = {
      ociVersion: OCI_VERSION,
      id,
      status: 'running',
      pid: process.pid,
      bundle: '/bundle',
      annotations: {},
      created: '2024-01-02T03:04:05.678Z',
      startTime: running ? processStartTime(process.pid)! : 'never',
      config,
      detached: true,
    };
    mkdirSync(join(root, id), { recursive: true });
    writeFileSync(join(root, id, 'state.json'), JSON.stringify(state));
  }

  it('--help lists pause, resume, update and events', async () => {
    expect(await main(['--help'], io())).toBe(0);
    for (const verb of ['pause <ID>', 'resume <ID>', 'update [options] <ID>', 'events [options] <ID>']) expect(out).toContain(verb);
    out = '';
    expect(await main(['update', '--help'], io())).toBe(0);
    for (const flag of ['--memory <bytes>', '--memory-reservation', '--memory-swap', '--cpu-quota', '--cpu-period', '--cpu-shares', '--cpu-rt-period', '--cpu-rt-runtime', '--cpuset-cpus', '--cpuset-mems', '--blkio-weight', '--pids-limit', '-r, --resources <file>']) {
      expect(out).toContain(flag);
    }
  });

  it('unknown containers: 125 naming the id', async () => {
    for (const args of [['pause', 'ghost'], ['resume', 'ghost'], ['update', '--pids-limit', '8', 'ghost'], ['events', '--stats', 'ghost'], ['events', 'ghost']]) {
      err = '';
      expect(await ns(...args), args.join(' ')).toBe(125);
      expect(err, args.join(' ')).toBe('ns: container ghost does not exist\n');
    }
  });

  it('a container without a cgroup of its own: pause, resume, update and events say so (125)', async () => {
    writeState('plain', true);
    for (const args of [['pause', 'plain'], ['resume', 'plain'], ['update', '--pids-limit', '8', 'plain'], ['events', '--stats', 'plain'], ['events', 'plain']]) {
      err = '';
      expect(await ns(...args), args.join(' ')).toBe(125);
      expect(err, args.join(' ')).toMatch(/^ns: cannot .* container plain: it has no cgroup of its own \(its config has no linux\.resources\)\n$/);
    }
  });

  it('a stopped container: runc\'s "not running" errors (125)', async () => {
    writeState('gone', false);
    expect(await ns('events', '--stats', 'gone')).toBe(125);
    expect(err).toBe('ns: container with id gone is not running\n');
    err = '';
    expect(await ns('pause', 'gone')).toBe(125);
    expect(err).toBe('ns: container not running: gone\n');
  });

  it('bad flag values fail before the container is looked up, naming the flag', async () => {
    expect(await ns('update', '--memory', '12q', 'ghost')).toBe(125);
    expect(err).toMatch(/^ns: --memory "12q": expected a size in bytes/);
    err = '';
    expect(await ns('update', '--kernel-memory', '64m', 'ghost')).toBe(125);
    expect(err).toMatch(/^ns: --kernel-memory: kernel memory limits are not supported/);
    err = '';
    expect(await ns('update', 'ghost')).toBe(125);
    expect(err).toMatch(/^ns: nothing to update/);
    err = '';
    expect(await ns('update', '-r', join(dir, 'missing.json'), 'ghost')).toBe(125);
    expect(err).toMatch(/^ns: -r .*missing\.json: cannot read: ENOENT\n$/);
    err = '';
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(await ns('update', '-r', 'bad.json', 'ghost')).toBe(125); // relative to the working directory
    expect(err).toMatch(/^ns: -r bad\.json: not JSON: /);
    for (const interval of ['0s', '-1s', '5', 'soon']) {
      err = '';
      expect(await ns('events', '--interval', interval, 'ghost'), interval).toBe(125);
      expect(err, interval).toMatch(/^ns: --interval /);
    }
  });
});
