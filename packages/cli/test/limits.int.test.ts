/**
 * `ns run` in limit mode (isolate's flags, issue 13) through the built CLI on the busybox
 * rootfs, as root: each verdict from a real run, the meta file's keys, the output files, the
 * exit status (0 OK, 1 another verdict, 125 when it could not run), and nothing left behind.
 * Every run's cgroups live under this file's own parent (--cgroup-parent).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCgroupLayout } from '@ns/namespaces';
import { parseMeta } from '@ns/sandbox';
import { start, type Result } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
const parent = `/ns-cli-limits-test-${process.pid}`;

/** The directories of `parent` in every cgroup hierarchy that has it. */
function parentDirs(): string[] {
  const layout = hostCgroupLayout();
  const mounts = new Set(Object.values(layout.controllers).map((c) => c!.mountPoint));
  return [...mounts].map((m) => join(m, parent)).filter((d) => existsSync(d));
}

/** Cgroups left below the parent (each run removes its own before ns exits). */
function leftovers(): string[] {
  return parentDirs().flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name)));
}

describe.skipIf(!isRoot || !ROOTFS)('ns run with limit flags (as root)', () => {
  let tmp: string;
  const file = (name: string) => join(tmp, name);
  const ns = (args: string[], timeoutMs = 20_000): Promise<Result> =>
    start(process.execPath, [BIN, '--root', join(tmp, 'state'), 'run', '--rootfs', ROOTFS!, '--cgroup-parent', parent, ...args], { timeoutMs }).done;
  const meta = (name = 'meta') => parseMeta(readFileSync(file(name), 'utf8'));

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ns-limits-'));
  });
  afterAll(async () => {
    try {
      expect(leftovers()).toEqual([]);
    } finally {
      for (const dir of parentDirs()) rmdirSync(dir); // empty by now: the runs removed theirs
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('OK: exit 0, the output on ns\'s own stdout and stderr, the meta file without status', async () => {
    const r = await ns(['--time', '2', '--wall-time', '5', '--mem', '65536', '--meta', file('meta'), '--', 'sh', '-c', 'echo out; echo err >&2']);
    expect(r).toMatchObject({ code: 0, stdout: 'out\n', stderr: 'err\n' });
    const m = meta();
    expect(m).toMatchObject({ exitcode: '0' });
    expect(m.status).toBeUndefined();
    expect(Number(m.time)).toBeGreaterThanOrEqual(0);
    expect(Number(m.time)).toBeLessThan(2);
    expect(Number(m['time-wall'])).toBeGreaterThan(0);
    expect(Number(m['max-rss'])).toBeGreaterThan(0);
    expect(Object.keys(m)).toEqual(['time', 'time-wall', 'max-rss', 'cg-mem', 'exitcode']);
  });

  it('RE: exit 1, one status line on stderr, exitcode and status in the meta file', async () => {
    const r = await ns(['--meta', file('meta'), '--', 'sh', '-c', 'exit 3']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'ns: RE: Exited with error status 3\n' });
    expect(meta()).toMatchObject({ exitcode: '3', status: 'RE', message: 'Exited with error status 3' });
  });

  it('SG: a signal the program sends itself (the init is pid 1): exitsig', async () => {
    const r = await ns(['--meta', file('meta'), '--', 'sh', '-c', 'kill -SEGV $$']);
    expect(r).toMatchObject({ code: 1, stderr: 'ns: SG: Caught fatal signal 11\n' });
    expect(meta()).toMatchObject({ exitsig: '11', status: 'SG' });
    expect(meta().exitcode).toBeUndefined();
  });

  it('SG: --fsize KiB, the program writing past it dies of SIGXFSZ', async () => {
    const r = await ns(['--fsize', '64', '--meta', file('meta'), '--', 'sh', '-c', 'exec dd if=/dev/zero of=/tmp/big bs=4k count=100']);
    expect(r.code).toBe(1);
    expect(meta()).toMatchObject({ exitsig: '25', status: 'SG', message: 'File size limit exceeded (caught fatal signal 25, SIGXFSZ)' });
  });

  it('TO: --time kills a busy loop past it (killed:1), --wall-time a sleeper', async () => {
    const cpu = await ns(['--time', '0.3', '--wall-time', '10', '--meta', file('meta'), '--', 'sh', '-c', 'while :; do :; done']);
    expect(cpu).toMatchObject({ code: 1, stderr: 'ns: TO: Time limit exceeded\n' });
    expect(meta()).toMatchObject({ killed: '1', status: 'TO', exitsig: '9' });
    expect(Number(meta().time)).toBeGreaterThanOrEqual(0.3);
    const wall = await ns(['--wall-time', '0.3', '--meta', file('meta'), '--', 'sleep', '100']);
    expect(wall).toMatchObject({ code: 1, stderr: 'ns: TO: Time limit exceeded (wall clock)\n' });
    expect(meta()).toMatchObject({ killed: '1', status: 'TO', message: 'Time limit exceeded (wall clock)' });
    expect(Number(meta()['time-wall'])).toBeGreaterThanOrEqual(0.3);
  });

  it('TO within --extra-time: finished (no kill), its real time reported', async () => {
    const r = await ns(['--time', '0.05', '--extra-time', '20', '--meta', file('meta'), '--', 'sh', '-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done']);
    expect(r.code).toBe(1);
    expect(meta()).toMatchObject({ exitcode: '0', status: 'TO' });
    expect(meta().killed).toBeUndefined();
    expect(Number(meta().time)).toBeGreaterThan(0.05);
  });

  it('OOM: --mem KiB, a balloon killed by the OOM killer (isolate\'s SG, cg-oom-killed:1, ns-status:OOM)', async () => {
    const r = await ns(['--mem', String(32 * 1024), '--meta', file('meta'), '--', 'sh', '-c', 'exec dd if=/dev/zero of=/dev/null bs=64M count=1']);
    expect(r).toMatchObject({ code: 1, stderr: 'ns: OOM: Memory limit exceeded\n' });
    expect(meta()).toMatchObject({ 'cg-oom-killed': '1', status: 'SG', 'ns-status': 'OOM', exitsig: '9' });
  });

  it('OLE: --output-limit KiB cuts the output at the cap and kills the run', async () => {
    const r = await ns(['--output-limit', '4', '--stdout', file('out'), '--meta', file('meta'), '--', 'yes']);
    expect(r).toMatchObject({ code: 1, stderr: 'ns: OLE: Output limit exceeded (stdout)\n' });
    expect(readFileSync(file('out')).length).toBe(4096);
    expect(meta()).toMatchObject({ killed: '1', 'ns-status': 'OLE' });
  });

  it('--output-limit 0: no output allowed, the first byte is OLE (not "no limit"); a silent run is OK', async () => {
    expect(await ns(['--output-limit', '0', '--stdout', file('out'), '--', 'true'])).toMatchObject({ code: 0, stderr: '' });
    const r = await ns(['--output-limit', '0', '--stdout', file('out'), '--meta', file('meta'), '--', 'echo', 'hi']);
    expect(r).toMatchObject({ code: 1, stderr: 'ns: OLE: Output limit exceeded (stdout)\n' });
    expect(readFileSync(file('out'), 'utf8')).toBe('');
    expect(meta()).toMatchObject({ 'ns-status': 'OLE' });
  });

  it('--stdin FILE, --stdout FILE and --stderr FILE (created or truncated, as isolate)', async () => {
    writeFileSync(file('in'), 'from a file\n');
    writeFileSync(file('out'), 'stale output of an earlier run, longer than the new one\n');
    const r = await ns(['--stdin', file('in'), '--stdout', file('out'), '--stderr', file('err'), '--', 'sh', '-c', 'cat; echo to-stderr >&2']);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(file('out'), 'utf8')).toBe('from a file\n');
    expect(readFileSync(file('err'), 'utf8')).toBe('to-stderr\n');
    // The same file for both.
    await ns(['--stdout', file('both'), '--stderr', file('both'), '--processes', '--', 'sh', '-c', 'echo a; echo b >&2']);
    expect(readFileSync(file('both'), 'utf8')).toBe('a\nb\n');
  });

  it('--open-files and --stack as rlimits the program sees; --processes as the tasks it may have at once', async () => {
    const r = await ns(['--open-files', '16', '--stack', '4096', '--', 'sh', '-c', 'ulimit -n; ulimit -s']);
    expect(r).toMatchObject({ code: 0, stdout: '16\n4096\n' });
    // Six background sleeps and the shell: 7 tasks. The init is not counted against the limit.
    const forks = ['sh', '-c', 'for i in 1 2 3 4 5 6; do sleep 0.3 & done; wait'];
    const few = await ns(['--processes', '4', '--wall-time', '10', '--', ...forks]);
    expect(few.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
    const enough = await ns(['--processes', '7', '--wall-time', '10', '--', ...forks]);
    expect(enough).toMatchObject({ code: 0, stderr: '' });
  });

  it('XX: a command that cannot start: exit 125, the reason on stderr and in the meta file', async () => {
    const r = await ns(['--meta', file('meta'), '--', '/no/such/program']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^ns: ENOENT: execve \/no\/such\/program: ENOENT\n$/);
    expect(meta()).toMatchObject({ status: 'XX' });
  });

  it('bad values: exit 125 naming the flag, nothing run, no file written', async () => {
    const cases: [string[], RegExp][] = [
      [['--time', 'abc'], /^ns: --time "abc": expected seconds/],
      [['--mem', '-1'], /^ns: --mem "-1": expected KiB/],
      [['--processes', '0'], /^ns: --processes 0: expected at least 1/],
      [['--open-files', '1'], /^ns: --open-files 1: expected at least 3/],
      [['--extra-time', '1'], /^ns: --extra-time: only with --time/],
      [['--stdin', file('missing')], /^ns: --stdin .*missing: cannot open for reading: ENOENT/],
      [['--time', '1', '-d'], /^ns: --time, --meta, --cgroup-parent: limit mode runs once in the foreground .* cannot be used with -d/],
      [['--time', '1', '-t'], /cannot be used with a terminal/],
      [['--cgroup-parent', 'relative'], /^ns: --cgroup-parent: expected an absolute cgroup path/],
      // were `ns: EPERM: setrlimit 7 ...` and a write to pids.max naming linux.resources.pids.limit, after the set-up
      [['--open-files', '99999999'], /^ns: --open-files 99999999: too large \(RLIMIT_NOFILE at most \d+: the kernel's fs.nr_open/],
      [['--processes', '99999999999'], /^ns: --processes 99999999999: too large \(at most 4194303/],
      [['--time', '1e10'], /^ns: --time 1e10: too large \(at most 1e9 seconds\)/],
      [['--time', '1x'], /^ns: --time "1x": expected seconds, a number such as 1, 0.5 or 1e3/],
      // a container id was silently ignored (not in ns list, ns kill ID "does not exist", hooks got sbx-...)
      [['box1', '--time', '1'], /^ns: container id "box1": limit mode \(--time.*\) takes no container id/],
      [['--id', 'box1', '--time', '1'], /^ns: container id "box1": limit mode .* takes no container id/],
    ];
    for (const [flags, message] of cases) {
      const r = await ns([...flags, '--meta', file('no-meta'), '--', 'true']);
      expect({ flags, code: r.code, stdout: r.stdout }).toEqual({ flags, code: 125, stdout: '' });
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(file('no-meta'))).toBe(false);
  });

  it('--time in the exponent form (1e-1, as isolate\'s strtod) is a time', async () => {
    const r = await ns(['--time', '1e-1', '--wall-time', '5e0', '--', 'true']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
  });

  it('files are checked before the run and untouched by a bad config: an unwritable --meta, a missing rootfs', async () => {
    // --meta to an unwritable place ran the command first, then exited 125
    const unwritable = await ns(['--time', '1', '--meta', '/proc/no-such-dir/meta', '--', 'echo', 'ran']);
    expect({ code: unwritable.code, stdout: unwritable.stdout }).toEqual({ code: 125, stdout: '' });
    expect(unwritable.stderr).toMatch(/^ns: --meta \/proc\/no-such-dir\/meta: cannot open for writing: ENOENT/);
    // the --stdout FILE was truncated before a config error (a missing rootfs) that exited 125
    writeFileSync(file('precious'), 'precious\n');
    const r = await start(process.execPath, [BIN, '--root', join(tmp, 'state'), 'run', '--rootfs', '/nonexistent-rootfs', '--cgroup-parent', parent,
      '--stdout', file('precious'), '--meta', file('meta-bad-config'), '--time', '1', '--', 'true'], { timeoutMs: 20_000 }).done;
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/nonexistent-rootfs/);
    expect(readFileSync(file('precious'), 'utf8')).toBe('precious\n');
    expect(existsSync(file('meta-bad-config'))).toBe(false);
  });

  it('SIGTERM to ns kills the run, removes its cgroups, and ns exits 143', async () => {
    const marker = `96${process.pid % 10000}1`;
    const run = start(process.execPath, [BIN, '--root', join(tmp, 'state'), 'run', '--rootfs', ROOTFS!, '--cgroup-parent', parent, '--wall-time', '60', '--', 'sh', '-c', `sleep ${marker} & echo ready >&2; wait`]);
    try {
      // The output is captured until the end: wait for the sleep to exist instead.
      for (let i = 0; i < 200 && !readdirSync('/proc').some((p) => /^\d+$/.test(p) && safeCmdline(p) === `sleep ${marker} `); i++) await new Promise((r) => setTimeout(r, 25));
      process.kill(run.pid, 'SIGTERM'); // the ns process this test started
      const r = await run.done;
      expect(r.code).toBe(143);
      expect(readdirSync('/proc').filter((p) => /^\d+$/.test(p) && safeCmdline(p) === `sleep ${marker} `)).toEqual([]);
      expect(leftovers()).toEqual([]);
    } finally {
      try {
        process.kill(run.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await run.done;
    }
  });
});

function safeCmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
