// Plans stay byte-identical for the same config: the encoded plans (encodePlan, the buffer the
// native child walks) of a set of representative configs are kept in fixtures/plans.json, and
// the planner must produce the same bytes. A refactoring of the planner that changes a single
// step, flag or string shows up here.
//
// Deterministic on any machine: the root filesystem is made here with the layout of the busybox
// test rootfs (scripts/build-test-rootfs.sh) and its path (and that of the volume sources) is
// written as /ROOTFS (/HOST) in the fixture; what planning reads of the host itself is answered
// by a fake host below: the caller's inheritable capabilities (/proc/self/status), its
// RLIMIT_NOFILE (/proc/self/limits), the kernel's cap_last_cap, the kinds of /proc and /sys
// files (masked and read-only paths), the host directories of the embedded default and the
// host's /etc/passwd and /etc/group. Everything else is the real file system.
//
// After a deliberate change of plans, regenerate with NS_UPDATE_PLAN_FIXTURES=1 and review the
// diff of fixtures/plans.json (each entry also holds the steps as JSON for that purpose).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodePlan, type Plan, type Step } from '@ns/syscalls';
import {
  DEFAULT_MOUNTS,
  DEFAULT_NAMESPACES,
  embeddedDefault as embeddedDefaultContainer,
  planContainer,
  processSteps,
  rootfsContainer,
  stdioSteps,
  type Container,
  type PlanIo,
} from '../src/index.js';

// ---- the fake host ---------------------------------------------------------------------------

const fake = vi.hoisted(() => {
  type Entry = { kind: 'dir' | 'file' } | { kind: 'symlink'; target: string };
  const dir = { kind: 'dir' } as const;
  const file = { kind: 'file' } as const;
  /** Host paths whose kind planning asks (null: missing). */
  const paths = new Map<string, Entry | null>([
    // runc's default masked paths and read-only paths, as a typical kernel has them.
    ['/proc/acpi', dir],
    ['/proc/asound', null],
    ['/proc/kcore', file],
    ['/proc/keys', file],
    ['/proc/latency_stats', null],
    ['/proc/timer_list', file],
    ['/proc/timer_stats', null],
    ['/proc/sched_debug', file],
    ['/proc/scsi', dir],
    ['/sys/firmware', dir],
    ['/sys/devices/virtual/powercap', dir],
    ['/proc/bus', dir],
    ['/proc/fs', dir],
    ['/proc/irq', dir],
    ['/proc/sys', dir],
    ['/proc/sysrq-trigger', file],
    // The embedded default's host directories (a merged-/usr system) and masked files.
    ['/usr', dir],
    ['/bin', { kind: 'symlink', target: 'usr/bin' }],
    ['/sbin', { kind: 'symlink', target: 'usr/sbin' }],
    ['/lib', { kind: 'symlink', target: 'usr/lib' }],
    ['/lib32', null],
    ['/lib64', { kind: 'symlink', target: 'usr/lib64' }],
    ['/libx32', null],
    ['/etc', dir],
    ['/etc/passwd', file],
    ['/etc/group', file],
    ['/etc/shadow', file],
    ['/etc/shadow-', file],
    ['/etc/gshadow', file],
    ['/etc/gshadow-', null],
  ]);
  const files = new Map<string, string>([
    ['/proc/sys/kernel/cap_last_cap', '40\n'],
    ['/proc/self/limits', 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1048576              1048576              files     \n'],
    // A cgroup v1/v2 hybrid host (as systemd's hybrid mode), cpu and cpuacct co-mounted: what a
    // `cgroup` mount shows depends on it (plan/cgroupfs.ts).
    [
      '/proc/self/mountinfo',
      [
        '22 1 0:20 / / rw,relatime - ext4 /dev/vda1 rw',
        '31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
        '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
        '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
        '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
        '36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices',
        '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
        '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
        '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
        '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
        '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
        '',
      ].join('\n'),
    ],
    ['/sys/fs/cgroup/unified/cgroup.controllers', '\n'],
    ['/proc/self/cgroup', '8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/\n3:cpuset:/\n2:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n'],
    ['/proc/self/status', 'Name:\tnode\nCapInh:\t0000000000000400\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n'],
  ]);
  /** The host's /etc/passwd and /etc/group, opened instead of the real ones (set in beforeAll). */
  const redirect = new Map<string, string>();
  return { paths, files, redirect };
});

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const S_IFMT = { dir: fs.constants.S_IFDIR, file: fs.constants.S_IFREG, symlink: fs.constants.S_IFLNK };
  const stats = (kind: 'dir' | 'file' | 'symlink') => Object.assign(Object.create(fs.Stats.prototype) as import('node:fs').Stats, { mode: S_IFMT[kind] | 0o755, ino: 1, dev: 1, size: 0 });
  const enoent = (syscall: string, path: string) => Object.assign(new Error(`ENOENT: no such file or directory, ${syscall} '${path}'`), { code: 'ENOENT', errno: -2, syscall, path });
  const lookup = (path: unknown, follow: boolean) => {
    if (typeof path !== 'string' || !fake.paths.has(path)) return undefined;
    let entry = fake.paths.get(path) ?? null;
    if (entry?.kind === 'symlink' && follow) entry = fake.paths.get(`/${entry.target}`) ?? { kind: 'dir' };
    return { entry };
  };
  const statLike = (real: (...args: never[]) => unknown, follow: boolean, syscall: string) =>
    ((path: unknown, options?: { throwIfNoEntry?: boolean }) => {
      const hit = lookup(path, follow);
      if (!hit) return (real as (p: unknown, o?: unknown) => unknown)(path, options);
      if (hit.entry === null) {
        if (options?.throwIfNoEntry === false) return undefined;
        throw enoent(syscall, path as string);
      }
      return stats(hit.entry.kind);
    }) as never;
  const lstatSync = statLike(fs.lstatSync, false, 'lstat');
  const statSync = statLike(fs.statSync, true, 'stat');
  const readlinkSync = ((path: unknown, options?: unknown) => {
    const hit = lookup(path, false);
    if (!hit) return (fs.readlinkSync as (p: unknown, o?: unknown) => unknown)(path, options);
    if (hit.entry?.kind !== 'symlink') throw Object.assign(new Error(`EINVAL: readlink '${String(path)}'`), { code: 'EINVAL' });
    return hit.entry.target;
  }) as never;
  const readFileSync = ((path: unknown, options?: unknown) => {
    const text = typeof path === 'string' ? fake.files.get(path) : undefined;
    if (text === undefined) return (fs.readFileSync as (p: unknown, o?: unknown) => unknown)(path, options);
    return options === undefined ? Buffer.from(text) : text;
  }) as never;
  const openSync = ((path: unknown, ...rest: unknown[]) =>
    (fs.openSync as (...a: unknown[]) => number)(typeof path === 'string' ? (fake.redirect.get(path) ?? path) : path, ...rest)) as never;
  const patched = { lstatSync, statSync, readlinkSync, readFileSync, openSync };
  return { ...fs, ...patched, default: { ...fs, ...patched } };
});

// ---- the configs -----------------------------------------------------------------------------

/** runc spec's /sys/fs/cgroup mount. */
const CGROUP_RO = { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] };

let tmp: string;
let rootfs: string;
let host: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ns-plan-bytes-'));
  rootfs = join(tmp, 'rootfs');
  host = join(tmp, 'host');
  // The layout of the busybox test rootfs (scripts/build-test-rootfs.sh), plus a /var/run link.
  for (const d of ['bin', 'dev', 'etc', 'home/alice', 'home/bob', 'proc', 'root', 'run', 'sbin', 'sys', 'tmp', 'usr/bin', 'usr/sbin', 'var']) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nbob:x:1001:1001:Bob:/home/bob:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\ntty:x:5:\nwheel:x:10:alice\nusers:x:100:alice,bob\nalice:x:1000:\nbob:x:1001:\nnogroup:x:65534:\n');
  writeFileSync(join(rootfs, 'etc/hostname'), 'busybox\n');
  writeFileSync(join(rootfs, 'bin/busybox'), '');
  symlinkSync('busybox', join(rootfs, 'bin/sh'));
  symlinkSync('../run', join(rootfs, 'var/run'));
  // Host files: volume sources, and the host's /etc/passwd and /etc/group of the embedded default.
  mkdirSync(join(host, 'data'), { recursive: true });
  writeFileSync(join(host, 'app.conf'), 'x=1\n');
  writeFileSync(join(host, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n');
  writeFileSync(join(host, 'group'), 'root:x:0:\ndaemon:x:1:\n');
  fake.redirect.set('/etc/passwd', join(host, 'passwd'));
  fake.redirect.set('/etc/group', join(host, 'group'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PIPES: PlanIo = { stdio: [11, 12, 13] };
const TERMINAL: PlanIo = { stdio: [], console: { fd: 14, path: '/dev/pts/7' } };
const CREATE: PlanIo = { stdio: [15, 16, 17], parentDeathSignal: 0, startFifoFd: 18 };
const USERNS_MAPS = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] };

/** A plan to make; `euid` (and egid) the process has meanwhile, default 0. */
type Case = { name: string; plan: () => Plan; euid?: number };

function cases(): Case[] {
  // Without the default seccomp profile (its ~2000-instruction filter, compiled by
  // @ns/seccomp and tested there and in seccomp.test.ts, would be most of each fixture); the
  // cases with `seccomp` below give small profiles of their own.
  const rc = (overrides: Partial<Container> = {}) => rootfsContainer(rootfs, { id: 'fixture', args: ['/bin/true'], seccomp: undefined, ...overrides });
  const embeddedDefault = (overrides: Partial<Container> = {}) => embeddedDefaultContainer({ seccomp: undefined, ...overrides });
  const tiny = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['keyctl', 'add_key'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }, { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_NE' }] }] };
  // Configs are made when a case runs (the rootfs exists by then), each time afresh.
  const plan = (c: () => Container, io: PlanIo = PIPES) => () => planContainer(c(), io).plan;
  const execIn = (c: () => Container, io: PlanIo, idMaps?: typeof USERNS_MAPS): (() => Plan) => () => ({
    cloneFlags: 0,
    steps: [
      { op: 'setns', fd: 20, nstype: 0x10000000, path: '/proc/4242/ns/user' },
      { op: 'setns', fd: 21, nstype: 0x20000000, path: '/proc/4242/ns/pid' },
      { op: 'cloneParent' },
      ...stdioSteps(io),
      ...processSteps(c(), io, idMaps).steps,
    ] as Step[],
  });
  return [
    { name: 'embedded default', plan: plan(() => embeddedDefault({ id: 'fixture', args: ['/bin/sh', '-c', 'echo hi'] })) },
    { name: 'embedded default, terminal, inherited stdio', plan: plan(() => embeddedDefault({ id: 'fixture', terminal: true }), TERMINAL) },
    { name: 'busybox rootfs', plan: plan(() => rc()) },
    { name: 'rootfs, a seccomp profile (installed before the capabilities are dropped)', plan: plan(() => rc({ seccomp: tiny })) },
    { name: 'rootfs, a seccomp profile with no_new_privs (installed right before execve)', plan: plan(() => rc({ seccomp: tiny, noNewPrivileges: true, user: 'alice' })) },
    { name: 'busybox rootfs, stdio 0 1 2 (dry run)', plan: () => planContainer(rc()).plan },
    { name: 'rootfs, terminal', plan: plan(() => rc({ terminal: true, args: ['sh'] }), TERMINAL) },
    { name: 'rootfs, init (forked right before execve)', plan: plan(() => rc({ init: true })) },
    {
      name: 'rootfs, scheduler, I/O priority, personality (before the capabilities go), a time namespace with offsets (unshared, offsets, fork)',
      plan: plan(() => rc({
        scheduler: { policy: 'SCHED_DEADLINE', runtime: 1_000_000, deadline: 2_000_000, period: 3_000_000, flags: ['SCHED_FLAG_RESET_ON_FORK'] },
        ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 5 },
        personality: { domain: 'LINUX32' },
        namespaces: [...DEFAULT_NAMESPACES, { type: 'time' }],
        timeOffsets: { monotonic: { secs: -5, nanosecs: 1 }, boottime: { secs: 86400 } },
      })),
    },
    { name: 'rootfs, overlay layer (upper on a tmpfs of 1 MiB)', plan: plan(() => rc({ rootfsOverlay: { sizeBytes: 1 << 20 } })) },
    { name: 'rootfs, init, terminal (the program takes the foreground group)', plan: plan(() => rc({ init: true, terminal: true, args: ['sh'] }), TERMINAL) },
    { name: 'rootfs, init, seccomp with no_new_privs (the init after the filter)', plan: plan(() => rc({ init: true, seccomp: tiny, noNewPrivileges: true })) },
    { name: 'rootfs, init, create (after the wait on the exec FIFO)', plan: plan(() => rc({ init: true }), CREATE) },
    { name: 'rootfs, create (start fifo, detached)', plan: plan(() => rc(), CREATE) },
    { name: 'rootfs, user namespace with mappings, user alice', plan: plan(() => rc({ namespaces: [{ type: 'user' }, ...DEFAULT_NAMESPACES], ...USERNS_MAPS, user: 'alice' })) },
    { name: 'rootfs, user namespace without a pid namespace', plan: plan(() => rc({ namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'uts' }], ...USERNS_MAPS, hostname: 'u' })) },
    {
      name: 'rootfs, user namespace, joined network (sysfs and cgroup bound from the host)',
      plan: plan(
        () => rc({
          namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'network', path: '/var/run/netns/blue' }],
          ...USERNS_MAPS,
          hostname: '',
          mounts: [...DEFAULT_MOUNTS, { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'ro'] }],
        }),
      ),
    },
    { name: 'rootless (euid 1000): user namespace added', plan: plan(() => rc()), euid: 1000 },
    { name: 'rootless (euid 1000), terminal', plan: plan(() => rc({ terminal: true }), TERMINAL), euid: 1000 },
    { name: 'rootfs, joined network namespace, no pid namespace', plan: plan(() => rc({ namespaces: [{ type: 'mount' }, { type: 'network', path: '/var/run/netns/blue' }], hostname: '' })) },
    { name: 'rootfs, new cgroup namespace and cgroup mount', plan: plan(() => rc({ namespaces: [...DEFAULT_NAMESPACES, { type: 'cgroup' }], mounts: [...DEFAULT_MOUNTS, { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] }] })) },
    {
      name: 'rootfs, limits, new cgroup namespace and cgroup mount (v1 hybrid host: its hierarchies mounted, cpu and cpuacct linked)',
      plan: plan(() => rc({ resources: { cpu: { shares: 512 } }, cgroupsPath: '/ns/plan', namespaces: [...DEFAULT_NAMESPACES, { type: 'cgroup' }], mounts: [...DEFAULT_MOUNTS, CGROUP_RO] })),
    },
    {
      name: 'rootfs, limits, cgroup mount without a cgroup namespace (v1 hybrid host: its cgroup directories bound)',
      plan: plan(() => rc({ resources: { pids: { limit: 9 } }, cgroupsPath: '/ns/plan', mounts: [...DEFAULT_MOUNTS, CGROUP_RO] })),
    },
    {
      name: 'rootfs, limits, user namespace (v1 hybrid host: the cgroup step first, the parent moves the process)',
      plan: plan(() => rc({ resources: { pids: { limit: 9 } }, cgroupsPath: '/ns/plan', namespaces: [{ type: 'user' }, ...DEFAULT_NAMESPACES], ...USERNS_MAPS })),
    },
    {
      name: 'rootfs, volumes (dir ro, file, through a symlink in the rootfs)',
      plan: plan(
        () => rc({
          mounts: [
            ...DEFAULT_MOUNTS,
            { destination: '/data', type: 'bind', source: join(host, 'data'), options: ['rbind', 'ro'] },
            { destination: '/etc/app.conf', type: 'bind', source: join(host, 'app.conf'), options: ['bind', 'dev', 'rprivate'] },
            { destination: '/var/run/app', type: 'tmpfs', source: 'tmpfs', options: ['mode=755', 'size=1m', 'rshared'] },
            { destination: '/mnt/deep/er', type: 'tmpfs' },
          ],
        }),
      ),
    },
    { name: 'rootfs, /dev bound from the host (no device nodes)', plan: plan(() => rc({ mounts: [DEFAULT_MOUNTS[0]!, { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }] }), TERMINAL) },
    { name: 'rootfs, readonly, hostname, rslave propagation', plan: plan(() => rc({ readonly: true, hostname: 'box', rootfsPropagation: 'rslave' })) },
    { name: 'embedded default, rshared propagation, no mounts', plan: plan(() => embeddedDefault({ id: 'fixture', rootfsPropagation: 'rshared', mounts: [], maskedPaths: [], readonlyPaths: [] })) },
    {
      name: 'rootfs, masked and read-only paths (rootfs and kernel, missing ones)',
      plan: plan(() => rc({ maskedPaths: ['/etc/passwd', '/home', '/nope', '/proc/kcore', '/proc/asound', '/sys/firmware'], readonlyPaths: ['/usr', '/etc/hostname', '/nope', '/proc/sys', '/proc/sysrq-trigger'] })),
    },
    { name: 'rootfs, capabilities kept and dropped', plan: plan(() => rc({ capabilities: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN'], dropCapabilities: ['CAP_SYS_ADMIN'] })) },
    {
      name: 'rootfs, capability sets with ambient, user bob, no_new_privs',
      plan: plan(
        () => rc({
          user: 'bob',
          noNewPrivileges: true,
          capabilitySets: { bounding: ['CAP_KILL', 'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE'], permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'], effective: ['CAP_KILL'], inheritable: ['CAP_NET_BIND_SERVICE'], ambient: ['CAP_NET_BIND_SERVICE'] },
        }),
      ),
    },
    { name: 'rootfs, empty capability sets', plan: plan(() => rc({ capabilitySets: { bounding: [] } })) },
    {
      name: 'rootfs, rlimits, oom score, umask, sysctl, groups',
      plan: plan(
        () => rc({
          rlimits: [
            { type: 'RLIMIT_NOFILE', soft: 4096, hard: 8192 },
            { type: 'RLIMIT_NPROC', soft: Infinity, hard: Infinity },
            { type: 'RLIMIT_CORE', soft: 0, hard: 2 ** 64 - 1 },
          ],
          oomScoreAdj: -500,
          umask: 0o027,
          sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '68719476736', 'kernel.hostname': 'sys' },
          additionalGids: [10, 4242],
          user: '1000:100',
        }),
      ),
    },
    { name: 'rootfs, rlimits without NOFILE', plan: plan(() => rc({ rlimits: [{ type: 'RLIMIT_STACK', soft: 8388608, hard: Infinity }] })) },
    {
      name: 'rootfs, env with duplicates, PATH search, relative command, cwd to create',
      plan: plan(() => rc({ args: ['sh', '-c', 'env'], env: ['PATH=/usr/sbin:/usr/bin::/bin', 'A=1', 'HOME=/x', 'A=2', 'B='], cwd: '/work/dir' })),
    },
    { name: 'rootfs, user by name and group, home from passwd', plan: plan(() => rc({ user: 'alice:users', env: ['TERM=xterm'] })) },
    { name: 'execIn process steps', plan: execIn(() => rc({ args: ['ps'], user: 'alice' }), PIPES) },
    { name: 'execIn process steps, user namespace, terminal', plan: execIn(() => rc({ args: ['/bin/sh'], terminal: true, user: '1001:1001', capabilities: ['CAP_KILL'] }), TERMINAL, USERNS_MAPS) },
  ];
}

// ---- the fixture -----------------------------------------------------------------------------

const FIXTURE = new URL('./fixtures/plans.json', import.meta.url);

/** The plan with the test's own paths as /ROOTFS and /HOST (the rest as the planner made it). */
function normalize(plan: Plan): Plan {
  const fix = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replaceAll(rootfs, '/ROOTFS').replaceAll(host, '/HOST');
    if (Array.isArray(v)) return v.map(fix);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x)]));
    return v;
  };
  return fix(plan) as Plan;
}

/** Steps as JSON (bigints as strings), for reading a difference. */
const stepsJson = (plan: Plan) => JSON.parse(JSON.stringify(plan, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))) as unknown;

function make(c: Case): { bytes: string; plan: unknown } {
  // Root unless the case says otherwise, whoever runs the test (rootless mode changes plans).
  const ids = [vi.spyOn(process, 'geteuid').mockReturnValue(c.euid ?? 0), vi.spyOn(process, 'getegid').mockReturnValue(c.euid ?? 0)];
  try {
    const plan = normalize(c.plan());
    return { bytes: Buffer.from(encodePlan(plan)).toString('base64'), plan: stepsJson(plan) };
  } finally {
    for (const spy of ids) spy.mockRestore();
  }
}

/** The fixture file: per case the bytes, then the plan with one step a line (reviewable diffs). */
function fixtureText(entries: [string, { bytes: string; plan: unknown }][]): string {
  const entry = ([name, { bytes, plan }]: [string, { bytes: string; plan: unknown }]) => {
    const { steps, ...rest } = plan as { steps: unknown[] };
    const lines = steps.map((s) => `    ${JSON.stringify(s)}`).join(',\n');
    return `${JSON.stringify(name)}: {\n  "bytes": ${JSON.stringify(bytes)},\n  "plan": ${JSON.stringify(rest).slice(0, -1)}, "steps": [\n${lines}\n  ]}\n}`;
  };
  return `{\n${entries.map(entry).join(',\n')}\n}\n`;
}

describe('plans stay byte-identical for the same config', () => {
  it('has a fixture for every case (NS_UPDATE_PLAN_FIXTURES=1 regenerates it)', () => {
    if (process.env.NS_UPDATE_PLAN_FIXTURES === '1') writeFileSync(FIXTURE, fixtureText(cases().map((c) => [c.name, make(c)])));
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(fixture).sort()).toEqual(cases().map((c) => c.name).sort());
  });

  it.each(cases().map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, { bytes: string; plan: unknown }>;
    const want = fixture[c.name]!;
    const got = make(c);
    expect(got.plan).toEqual(want.plan); // the readable difference first
    expect(got.bytes).toBe(want.bytes);
  });
});

describe('where the cgroup step is (v1 hybrid host)', () => {
  const byName = (name: string) => make(cases().find((c) => c.name === name)!).plan as { steps: Step[] };
  const NEWCGROUP = 0x02000000;

  it('the process joins itself after unsharing its namespaces (made meanwhile), before the mounts and the cgroup namespace', () => {
    for (const name of [
      'rootfs, limits, new cgroup namespace and cgroup mount (v1 hybrid host: its hierarchies mounted, cpu and cpuacct linked)',
      'rootfs, limits, cgroup mount without a cgroup namespace (v1 hybrid host: its cgroup directories bound)',
    ]) {
      const steps = byName(name).steps;
      const sync = steps.findIndex((s) => s.op === 'sync' && s.name === 'cgroup');
      const unshare = steps.findIndex((s) => s.op === 'unshare');
      const joins = steps.flatMap((s, i) => (s.op === 'writeFile' && s.path.endsWith('/tasks') ? [i] : []));
      const firstMount = steps.findIndex((s) => s.op === 'mount' || s.op === 'mountAt' || s.op === 'pivotRoot');
      expect(unshare, name).toBeGreaterThanOrEqual(0);
      expect(unshare, name).toBeLessThan(sync);
      expect(steps[unshare]!.op === 'unshare' && (steps[unshare]!.flags & NEWCGROUP), name).toBe(0);
      expect(joins.length, name).toBeGreaterThan(0);
      expect(joins[0], name).toBe(sync + 1);
      expect(firstMount, name).toBeGreaterThan(joins.at(-1)!);
      // The cgroup namespace (its root: the cgroup its maker is in) after the join.
      const cgns = steps.findIndex((s) => s.op === 'unshare' && (s.flags & NEWCGROUP) !== 0);
      if (name.includes('new cgroup namespace')) expect(cgns, name).toBe(joins.at(-1)! + 1);
      else expect(cgns, name).toBe(-1);
    }
  });

  it('with a user namespace the cgroup step comes first: the host\'s root makes it, and moves the process', () => {
    const steps = byName('rootfs, limits, user namespace (v1 hybrid host: the cgroup step first, the parent moves the process)').steps;
    expect(steps[0]).toEqual({ op: 'sync', name: 'cgroup' });
    expect(steps.some((s) => s.op === 'writeFile' && s.path.endsWith('/tasks'))).toBe(false);
  });
});
