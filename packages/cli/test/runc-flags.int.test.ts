/**
 * runc's `--pid-file` and `--preserve-fds` of `create` and `run -d`, as containerd's shim and
 * podman pass them (issue 12): the pid file holds the container process's pid (no newline);
 * descriptors 3 .. 3+N-1 of `ns` reach the container at the same numbers; a pid file that
 * cannot be written takes the container down again, and a count past what `ns` was given is
 * refused before anything is created. Each test has its own `--root` and removes what it made.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

let dir: string;
/** `ns --root DIR/state ARGS...` through bash, so that `redirects` (`3<FILE`) can give it descriptors. */
function ns(args: string[], redirects = ''): { status: number | null; stdout: string; stderr: string } {
  const quoted = [process.execPath, BIN, '--root', join(dir, 'state'), ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const r = spawnSync('bash', ['-c', `exec ${quoted} ${redirects}`], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!isRoot || !ROOTFS)('runc flags clients pass to create and run -d (root)', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-runc-flags-'));
  });
  afterEach(() => {
    const state = join(dir, 'state');
    const ids = existsSync(state) ? readdirSync(state, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name) : [];
    for (const id of ids) ns(['delete', '-f', id]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('--pid-file: the pid of the created process, no newline; --preserve-fds 1: fd 3 reaches the container', () => {
    writeFileSync(join(dir, 'in'), 'through fd 3\n');
    const out = join(dir, 'out');
    const c = ns(['create', '--rootfs', ROOTFS!, '--pid-file', join(dir, 'pid'), '--preserve-fds', '1', '--stdout', out, '--stderr', out, 'pf1', '--', '/bin/sh', '-c', 'cat <&3'], `3<'${join(dir, 'in')}'`);
    expect(c).toMatchObject({ status: 0, stderr: '' });
    const pid = readFileSync(join(dir, 'pid'), 'utf8');
    expect(pid).toMatch(/^\d+$/);
    expect(JSON.parse(ns(['state', 'pf1']).stdout)).toMatchObject({ status: 'created', pid: Number(pid) });
    expect(ns(['start', 'pf1']).status).toBe(0);
    for (let i = 0; i < 100 && readFileSync(out, 'utf8') === ''; i++) spawnSync('sleep', ['0.02']);
    expect(readFileSync(out, 'utf8')).toBe('through fd 3\n');
  });

  it('without --preserve-fds nothing past 2 reaches the container, even what ns was given', () => {
    const out = join(dir, 'out');
    const r = ns(['run', '-d', '--rootfs', ROOTFS!, '--stdout', out, '--stderr', out, 'pf2', '--', '/bin/sh', '-c', 'ls /proc/self/fd'], `3<'${BIN}'`);
    expect(r.status).toBe(0);
    for (let i = 0; i < 100 && readFileSync(out, 'utf8') === ''; i++) spawnSync('sleep', ['0.02']);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3']); // 3: ls's own directory
  });

  it('exec --process FILE (an OCI process object), --detach and --pid-file, as containerd\'s shim calls runc exec', () => {
    expect(ns(['run', '-d', '--stdout', '/dev/null', '--stderr', '/dev/null', '--rootfs', ROOTFS!, 'ex1', '--', 'sleep', '60']).status).toBe(0);
    const proc = join(dir, 'process.json');
    writeFileSync(proc, JSON.stringify({ args: ['/bin/sh', '-c', 'echo "$FOO $(id -u):$(id -g) $(pwd)"'], env: ['FOO=bar', 'PATH=/bin'], cwd: '/tmp', user: { uid: 1000, gid: 1000 }, terminal: false, rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }] }));
    // rlimits other than the container's are refused (its own are accepted: a shim copies the container's process object).
    expect(ns(['exec', '--process', proc, 'ex1'])).toMatchObject({ status: 125, stderr: expect.stringMatching(/process\.rlimits: not applied .*only the container's own/) });
    writeFileSync(proc, JSON.stringify({ args: ['/bin/sh', '-c', 'echo "$FOO $(id -u):$(id -g) $(pwd)"'], env: ['FOO=bar', 'PATH=/bin'], cwd: '/tmp', user: { uid: 1000, gid: 1000 }, terminal: false }));
    expect(ns(['exec', '--process', proc, 'ex1'])).toMatchObject({ status: 0, stdout: 'bar 1000:1000 /tmp\n' });
    const out = join(dir, 'exec-out');
    const d = ns(['exec', '-d', '--pid-file', join(dir, 'exec-pid'), '--process', proc, 'ex1'], `>'${out}'`);
    expect(d).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(join(dir, 'exec-pid'), 'utf8')).toMatch(/^\d+$/);
    for (let i = 0; i < 100 && !existsSync(out) || readFileSync(out, 'utf8') === ''; i++) spawnSync('sleep', ['0.02']);
    expect(readFileSync(out, 'utf8')).toBe('bar 1000:1000 /tmp\n');
    writeFileSync(proc, JSON.stringify({ args: 'x' }));
    expect(ns(['exec', '--process', proc, 'ex1'])).toMatchObject({ status: 125, stderr: expect.stringMatching(/^ns: --process .*process\.json: process\.args: expected array/) });
    expect(ns(['exec', '--process', proc, 'ex1', 'ls'])).toMatchObject({ status: 125, stderr: expect.stringMatching(/no words after the ID/) });
  });

  it('refuses a count past what ns was given, a pid file it cannot write (taking the container down), and --preserve-fds in the foreground', () => {
    const more = ns(['create', '--rootfs', ROOTFS!, '--preserve-fds', '2', 'pf3', '--', 'true'], `3<'${BIN}'`);
    expect(more.status).toBe(125);
    expect(more.stderr).toMatch(/^ns: --preserve-fds 2: descriptor 4 was not given to ns/);
    const nopid = ns(['create', '--rootfs', ROOTFS!, '--stdout', '/dev/null', '--stderr', '/dev/null', '--pid-file', join(dir, 'missing', 'pid'), 'pf4', '--', 'true']);
    expect(nopid.status).toBe(125);
    expect(nopid.stderr).toMatch(/^ns: --pid-file .*missing\/pid: ENOENT/);
    expect(ns(['list', '-q']).stdout).toBe('');
    expect(ns(['run', '--rootfs', ROOTFS!, '--preserve-fds', '1', '--', 'true'], `3<'${BIN}'`)).toMatchObject({ status: 125, stderr: expect.stringMatching(/needs -d/) });
  });

  it('--pid-file in the foreground (as runc run): the pid of the running process; one that cannot be written kills it, 125', async () => {
    const pidFile = join(dir, 'fg.pid');
    const fg = spawn(process.execPath, [BIN, '--root', join(dir, 'state'), 'run', '--rootfs', ROOTFS!, '--pid-file', pidFile, 'fg1', '--', 'sleep', '30'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => fg.once('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 25));
      const pid = readFileSync(pidFile, 'utf8');
      expect(pid).toMatch(/^\d+$/);
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('sleep\x0030\x00');
      expect(JSON.parse(ns(['state', 'fg1']).stdout)).toMatchObject({ status: 'running', pid: Number(pid) });
      expect(ns(['kill', 'fg1', 'KILL']).status).toBe(0);
      expect(await exited).toBe(137);
    } finally {
      if (fg.exitCode === null && fg.pid !== undefined) process.kill(fg.pid, 'SIGKILL');
    }
    const bad = ns(['run', '--rootfs', ROOTFS!, '--pid-file', join(dir, 'missing', 'pid'), 'fg2', '--', 'sleep', '100']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(/^ns: --pid-file .*missing\/pid: ENOENT/);
    expect(ns(['list', '-q']).stdout).toBe('');
  });
});
