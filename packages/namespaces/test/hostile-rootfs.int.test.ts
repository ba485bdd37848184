/**
 * Issue 15, adversarial root filesystems: a corpus of hostile rootfs layouts, each a copy of
 * the busybox test rootfs with one trap. Every case is refused (a clear error: an errno name
 * or ERR_NS_*, naming a path) or contained (it runs, and reaches nothing of the host's), and
 * afterwards the host is as it was: the decoy directory the traps aim at hashes the same, the
 * host's mount table is the same, and no child of this process is left (none running, no
 * zombie). The published escape classes of runc are in hostile-cve.int.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, rootfsContainer, type Container, type MountConfig } from '../src/index.js';
import { ROOTFS, isRoot } from './helpers.js';
import { childrenSettle, copyRootfs, hostMountsFor, outcome, snapshot, type Outcome } from './hostile-helpers.js';

const CLI = new URL('../../cli/dist/ns.cjs', import.meta.url).pathname;
const sh = (script: string) => ['/bin/sh', '-c', script];
const mkfifo = (p: string) => expect(spawnSync('mkfifo', [p]).status).toBe(0);
const mknod = (p: string, major: number, minor: number) => expect(spawnSync('mknod', [p, 'c', String(major), String(minor)]).status).toBe(0);
const replace = (p: string, make: () => void) => {
  rmSync(p, { recursive: true, force: true });
  make();
};

/** A hostile layout: what is planted in the copy, how the container is configured, what must happen. */
interface HostileCase {
  name: string;
  /** Plant the trap in the rootfs copy `r`; `d` is the host decoy directory. */
  plant: (r: string, d: string) => void;
  /** Container fields over rootfsContainer(r) (the rootfs path itself may be changed). */
  config?: (r: string, d: string) => Partial<Container>;
  /** Or run `ns run --rootfs R ARGS...` (for lookups of the user files: its own process, a time bound). */
  cli?: string[];
  /** `refused`, `contained`, or `either` (both are safe). */
  expect: 'refused' | 'contained' | 'either';
  /** More checks on what happened. */
  check?: (o: Outcome, r: string, d: string) => void;
}

/** /proc and /sys only: the rootfs' own /dev is used (with a /dev/null node of its own). */
const noDevMounts = (): MountConfig[] => DEFAULT_MOUNTS.filter((m) => !m.destination.startsWith('/dev')).map((m) => ({ ...m, options: [...(m.options ?? [])] }));
const withDevNull = (r: string) => {
  if (!existsSync(join(r, 'dev/null'))) mknod(join(r, 'dev/null'), 1, 3);
};
const devpts: MountConfig = DEFAULT_MOUNTS.find((m) => m.destination === '/dev/pts')!;
const volumes = (...extra: MountConfig[]) => ({ mounts: [...DEFAULT_MOUNTS.map((m) => ({ ...m, options: [...(m.options ?? [])] })), ...extra] });

const CASES: HostileCase[] = [
  // /proc, /sys, /dev as symlinks
  { name: '/proc an absolute symlink to a host directory', plant: (r, d) => replace(join(r, 'proc'), () => symlinkSync(d, join(r, 'proc'))), expect: 'either' },
  { name: '/proc a symlink to /oldroot/<host dir>', plant: (r, d) => replace(join(r, 'proc'), () => symlinkSync(`/oldroot${d}`, join(r, 'proc'))), expect: 'either' },
  { name: '/proc a relative symlink climbing out', plant: (r, d) => replace(join(r, 'proc'), () => symlinkSync(`../../../../../../../..${d}`, join(r, 'proc'))), expect: 'either' },
  { name: '/sys a symlink to /oldroot/<host dir>', plant: (r, d) => replace(join(r, 'sys'), () => symlinkSync(`/oldroot${d}`, join(r, 'sys'))), expect: 'either' },
  { name: '/sys a relative symlink climbing out', plant: (r, d) => replace(join(r, 'sys'), () => symlinkSync(`../../../../..${d}`, join(r, 'sys'))), expect: 'either' },
  { name: '/sys a symlink to /proc (sysfs over procfs)', plant: (r) => replace(join(r, 'sys'), () => symlinkSync('/proc', join(r, 'sys'))), expect: 'either' },
  { name: '/dev an absolute symlink to a host directory', plant: (r, d) => replace(join(r, 'dev'), () => symlinkSync(d, join(r, 'dev'))), expect: 'either' },
  { name: '/dev a relative symlink to ../oldroot/<host dir>', plant: (r, d) => replace(join(r, 'dev'), () => symlinkSync(`../oldroot${d}`, join(r, 'dev'))), expect: 'either' },
  { name: '/dev a regular file', plant: (r) => replace(join(r, 'dev'), () => writeFileSync(join(r, 'dev'), 'not a directory')), expect: 'refused' },
  // device nodes
  {
    name: '/dev/null a directory (under the tmpfs /dev)',
    plant: (r) => mkdirSync(join(r, 'dev/null')),
    config: () => ({ args: sh('echo x > /dev/null && test -c /dev/null && echo ok') }),
    expect: 'contained',
    check: (o) => expect(o.kind === 'ran' && o.stdout).toBe('ok\n'),
  },
  { name: '/dev/null a directory, the rootfs /dev in use', plant: (r) => mkdirSync(join(r, 'dev/null')), config: () => ({ mounts: noDevMounts() }), expect: 'either' },
  {
    name: '/dev/null a symlink to a host file, the rootfs /dev in use',
    plant: (r, d) => symlinkSync(`/oldroot${d}/canary`, join(r, 'dev/null')),
    config: () => ({ mounts: noDevMounts() }),
    expect: 'either',
  },
  {
    name: '/dev/console a symlink to a host file, with a terminal, the rootfs /dev in use',
    plant: (r, d) => {
      withDevNull(r);
      symlinkSync(`/oldroot${d}/canary`, join(r, 'dev/console'));
    },
    config: () => ({ mounts: noDevMounts(), terminal: true }),
    expect: 'either',
  },
  {
    name: '/dev/console a fifo, with a terminal, the rootfs /dev in use',
    plant: (r) => {
      withDevNull(r);
      mkfifo(join(r, 'dev/console'));
    },
    config: () => ({ mounts: noDevMounts(), terminal: true }),
    expect: 'either',
  },
  {
    name: '/dev/pts a symlink to a host directory, devpts asked for',
    plant: (r, d) => {
      withDevNull(r);
      symlinkSync(`/oldroot${d}`, join(r, 'dev/pts'));
    },
    config: () => ({ mounts: [...noDevMounts(), { ...devpts, options: [...devpts.options!] }] }),
    expect: 'either',
  },
  {
    name: '/dev/ptmx a symlink to a host file, with a terminal',
    plant: (r, d) => {
      withDevNull(r);
      mkdirSync(join(r, 'dev/pts'));
      symlinkSync(`/oldroot${d}/canary`, join(r, 'dev/ptmx'));
    },
    config: () => ({ mounts: [...noDevMounts(), { ...devpts, options: [...devpts.options!] }], terminal: true }),
    expect: 'either',
  },
  // the user files (looked up for -u alice by `ns run`)
  { name: '/etc/passwd a fifo', plant: (r) => replace(join(r, 'etc/passwd'), () => mkfifo(join(r, 'etc/passwd'))), cli: ['-u', 'alice', '--', 'id'], expect: 'refused' },
  { name: '/etc/group a fifo', plant: (r) => replace(join(r, 'etc/group'), () => mkfifo(join(r, 'etc/group'))), cli: ['-u', 'alice', '--', 'id'], expect: 'refused' },
  { name: '/etc/passwd the character device /dev/zero', plant: (r) => replace(join(r, 'etc/passwd'), () => mknod(join(r, 'etc/passwd'), 1, 5)), cli: ['-u', 'alice', '--', 'id'], expect: 'refused' },
  { name: '/etc/passwd a directory', plant: (r) => replace(join(r, 'etc/passwd'), () => mkdirSync(join(r, 'etc/passwd'))), cli: ['-u', 'alice', '--', 'id'], expect: 'refused' },
  { name: '/etc/passwd a symlink loop', plant: (r) => replace(join(r, 'etc/passwd'), () => symlinkSync('passwd', join(r, 'etc/passwd'))), cli: ['-u', 'alice', '--', 'id'], expect: 'refused' },
  {
    name: '/etc/passwd 40 MB',
    plant: (r) => writeFileSync(join(r, 'etc/passwd'), `${'x:x:1:1::/:/bin/sh\n'.repeat((40 * 2 ** 20) / 19)}alice:x:1000:1000::/:/bin/sh\n`),
    cli: ['-u', 'alice', '--', 'id'],
    expect: 'refused',
  },
  {
    name: '/etc/passwd binary garbage',
    plant: (r) => writeFileSync(join(r, 'etc/passwd'), Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919) % 256))),
    cli: ['-u', 'alice', '--', 'id'],
    expect: 'refused',
  },
  {
    name: '/etc/passwd an absolute symlink to a host file (alice is uid 4242 there)',
    plant: (r, d) => replace(join(r, 'etc/passwd'), () => symlinkSync(`${d}/passwd`, join(r, 'etc/passwd'))),
    cli: ['-u', 'alice', '--', 'id', '-u'],
    expect: 'refused',
  },
  {
    name: '/etc/passwd a symlink to /oldroot/<host file>',
    plant: (r, d) => replace(join(r, 'etc/passwd'), () => symlinkSync(`/oldroot${d}/passwd`, join(r, 'etc/passwd'))),
    cli: ['-u', 'alice', '--', 'id', '-u'],
    expect: 'refused',
  },
  {
    name: '/etc/passwd a relative symlink climbing out',
    plant: (r, d) => replace(join(r, 'etc/passwd'), () => symlinkSync(`../../../../../..${d}/passwd`, join(r, 'etc/passwd'))),
    cli: ['-u', 'alice', '--', 'id', '-u'],
    expect: 'refused',
  },
  // mount destinations
  {
    name: 'a file bind mount onto a fifo',
    plant: (r) => {
      mkdirSync(join(r, 'data'), { recursive: true });
      mkfifo(join(r, 'data/target'));
    },
    config: (_r, d) => ({ ...volumes({ destination: '/data/target', type: 'bind', source: `${d}/canary`, options: ['bind', 'ro'] }), args: sh('cat /data/target') }),
    expect: 'either',
    check: (o) => o.kind === 'ran' && expect(o.stdout).toBe('canary\n'),
  },
  {
    name: 'a file bind mount onto a symlink to a host file',
    plant: (r, d) => {
      mkdirSync(join(r, 'data'), { recursive: true });
      symlinkSync(`/oldroot${d}/canary`, join(r, 'data/target'));
    },
    config: (_r, d) => ({ ...volumes({ destination: '/data/target', type: 'bind', source: `${d}/passwd`, options: ['bind'] }), args: sh('cat /data/target') }),
    expect: 'either',
  },
  {
    name: 'a mount destination through a directory symlink to /oldroot/<host dir>',
    plant: (r, d) => symlinkSync(`/oldroot${d}`, join(r, 'mnt')),
    config: (_r, d) => volumes({ destination: '/mnt/sub/file', type: 'bind', source: `${d}/passwd`, options: ['bind'] }, { destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs' }),
    expect: 'either',
  },
  {
    name: 'a mount destination through a relative directory symlink climbing out',
    plant: (r, d) => symlinkSync(`../../../../../../..${d}`, join(r, 'mnt')),
    config: () => volumes({ destination: '/mnt/sub/t', type: 'tmpfs', source: 'tmpfs' }),
    expect: 'either',
  },
  {
    name: 'a mount destination with .. climbing out',
    plant: () => undefined,
    config: (_r, d) => volumes({ destination: `/../../../../..${d}/sub`, type: 'tmpfs', source: 'tmpfs' }, { destination: `/tmp/../../oldroot${d}/x`, type: 'tmpfs', source: 'tmpfs' }),
    expect: 'either',
  },
  {
    name: 'a mount destination through a symlink loop',
    plant: (r) => {
      symlinkSync('/b', join(r, 'a'));
      symlinkSync('/a', join(r, 'b'));
    },
    config: () => volumes({ destination: '/a/x', type: 'tmpfs', source: 'tmpfs' }),
    expect: 'refused',
  },
  {
    name: 'a mount destination through /proc/self/root and /proc/1/cwd',
    plant: () => undefined,
    config: () => volumes({ destination: '/proc/self/root/escaped', type: 'tmpfs', source: 'tmpfs' }, { destination: '/proc/1/cwd/escaped2', type: 'tmpfs', source: 'tmpfs' }),
    expect: 'either',
  },
  {
    name: 'a mount destination longer than PATH_MAX',
    plant: () => undefined,
    config: () => volumes({ destination: `/${'d'.repeat(200)}`.repeat(25), type: 'tmpfs', source: 'tmpfs' }),
    expect: 'refused',
  },
  // the rootfs, the working directory, the command
  {
    name: 'the rootfs a symlink (to a symlink) to the real directory',
    plant: (r) => {
      symlinkSync(r, `${r}.link1`);
      symlinkSync(`${r}.link1`, `${r}.link2`);
    },
    config: (r) => ({ rootfs: `${r}.link2`, args: sh('cat /etc/hostname') }),
    expect: 'contained',
    check: (o) => expect(o.kind === 'ran' && o.stdout).toBe('ns-test\n'),
  },
  {
    name: 'the working directory a symlink to /oldroot/<host dir>',
    plant: (r, d) => symlinkSync(`/oldroot${d}`, join(r, 'work')),
    config: () => ({ cwd: '/work', args: sh('ls -a; cat canary; pwd') }),
    expect: 'either',
    check: (o) => o.kind === 'ran' && expect(o.stdout).not.toContain('canary'),
  },
  {
    name: 'the working directory a relative symlink climbing out',
    plant: (r, d) => symlinkSync(`../../../../../../../..${d}`, join(r, 'work')),
    config: () => ({ cwd: '/work', args: sh('ls -a; cat canary; pwd') }),
    expect: 'either',
    check: (o) => o.kind === 'ran' && expect(o.stdout).not.toContain('canary'),
  },
  {
    name: '/bin/sh a symlink to /oldroot/bin/sh (the host shell)',
    plant: (r) => replace(join(r, 'bin/sh'), () => symlinkSync('/oldroot/bin/sh', join(r, 'bin/sh'))),
    config: () => ({ args: ['/bin/sh', '-c', 'echo host-shell-ran'] }),
    expect: 'either',
    check: (o) => o.kind === 'ran' && expect(o.stdout).not.toContain('host-shell-ran'),
  },
  {
    name: '/tmp a symlink to /oldroot/<host dir>, written to',
    plant: (r, d) => replace(join(r, 'tmp'), () => symlinkSync(`/oldroot${d}`, join(r, 'tmp'))),
    config: () => ({ args: sh('echo pwned > /tmp/planted; echo done') }),
    expect: 'either',
  },
];

describe.skipIf(!isRoot || !ROOTFS)(`hostile root filesystems (${CASES.length} layouts, as root)`, () => {
  let work: string;
  let decoy: string;
  let mountsBefore: string[];
  const results: string[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ns-hostile-'));
    decoy = join(work, 'host-decoy');
    mkdirSync(decoy);
    writeFileSync(join(decoy, 'canary'), 'canary\n');
    writeFileSync(join(decoy, 'passwd'), 'root:x:0:0::/:/bin/sh\nalice:x:4242:4242::/:/bin/sh\n');
    mountsBefore = hostMountsFor(work);
  });

  afterAll(() => {
    try {
      expect(hostMountsFor(work)).toEqual(mountsBefore);
    } finally {
      rmSync(work, { recursive: true, force: true });
      if (process.env.NS_TEST_TIMINGS) console.log(results.join('\n'));
    }
  });

  CASES.forEach((c, i) => {
    it(`${i}: ${c.name}: ${c.expect}`, async () => {
      const r = copyRootfs(ROOTFS, join(work, `r${i}`));
      c.plant(r, decoy);
      const before = snapshot(decoy, work);
      const t0 = Date.now();
      let o: Outcome;
      if (c.cli) {
        const p = spawnSync(process.execPath, [CLI, '--root', join(work, 'state'), 'run', '--rootfs', r, ...c.cli], { encoding: 'utf8', timeout: 15_000 });
        expect(p.signal).toBeNull(); // not killed at the time bound
        o = p.status === 125 ? { kind: 'refused', code: 'exit 125', message: p.stderr } : { kind: 'ran', exitCode: p.status, signal: p.signal, stdout: p.stdout, stderr: p.stderr };
        if (o.kind === 'refused') expect(p.stderr).toMatch(/^ns: [^\n]+\n$/);
      } else {
        o = await outcome(rootfsContainer(r, { args: sh('echo ran'), ...c.config?.(r, decoy) }));
      }
      results.push(`${Date.now() - t0} ms  ${c.name}: ${o.kind} ${o.kind === 'refused' ? `${o.code} ${o.message.trim()}` : `exit ${o.exitCode} ${JSON.stringify(o.stdout.slice(0, 80))}`}`);
      if (c.expect !== 'either') expect(o.kind, JSON.stringify(o)).toBe(c.expect === 'refused' ? 'refused' : 'ran');
      if (o.kind === 'refused') {
        // A clear error: an errno name or one of the project's codes, a message with no crash in it.
        if (!c.cli) expect(o.code).toMatch(/^(E[A-Z0-9]+|ERR_NS_[A-Z_]+)$/);
        expect(o.message).not.toMatch(/TypeError|RangeError|undefined|\[object /);
      }
      c.check?.(o, r, decoy);
      // The host is untouched, and nothing is left behind.
      expect(await childrenSettle(before.children)).toEqual([]);
      expect(snapshot(decoy, work)).toEqual(before);
      rmSync(r, { recursive: true, force: true });
    });
  });
});
