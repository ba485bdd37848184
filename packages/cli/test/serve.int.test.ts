/**
 * `ns serve` and the front's hand-off (packages/syscalls/front/handoff.c) for real, as root:
 * each call handed over must answer exactly as the plain Node path (stdout, stderr, exit
 * status, byte for byte); other users, foreign socket paths and malformed requests are
 * refused; no server means the front goes on (-1, exit 222 of the test executable).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unixListen } from '@ns/syscalls';
import { start, type Result } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'packages/cli/dist/ns.cjs');
const FRONT = join(REPO, 'packages/syscalls/front');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
/** The test executable's status when ns_front_handoff() returned -1 (handoff-main.c). */
const FELL_BACK = 222;
const NOBODY = 65534;

let build: string;
let handoff: string;
let root: string;
let servers: ChildProcess[] = [];

/** `ns ARGS` through Node, in `cwd`. */
const plain = (args: string[], cwd = tmpdir()): Promise<Result> => start(process.execPath, [BIN, ...args], { cwd }).done;
/** `ns ARGS` handed to the server of `serverRoot` by the front's hand-off, in `cwd`. */
const handed = (args: string[], cwd = tmpdir(), serverRoot = root, uid?: number): Promise<Result> =>
  start(handoff, [serverRoot, ...args], { cwd, ...(uid === undefined ? {} : { uid }) }).done;

/** Start `ns --root R serve` and wait until it listens. */
async function serve(serverRoot = root): Promise<{ child: ChildProcess; stderr: () => string; exit: Promise<number | null> }> {
  // Without the NODE_PATH pnpm's bin wrapper gives vitest (it makes every package findable,
  // which hid a module resolution bug of a warm server): as a user's server runs.
  const env = { ...process.env };
  delete env.NODE_PATH;
  const child = spawn(process.execPath, [BIN, '--root', serverRoot, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  servers.push(child);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('listening on')) resolve();
    });
    void exit.then((code) => reject(new Error(`ns serve exited ${code}: ${err}`)));
  });
  return { child, stderr: () => err, exit };
}

/** A raw connection that sends `data` (no descriptors) and reports what came back before the server closed it. */
function rawCall(path: string, data: Buffer, keepOpen = false): Promise<{ answer: string; end: () => void }> {
  return new Promise((resolve) => {
    const s = connect(path);
    let answer = '';
    s.on('data', (d) => (answer += d.toString('latin1')));
    s.on('error', () => {});
    s.on('connect', () => {
      s.write(data);
      if (keepOpen) resolve({ answer, end: () => s.destroy() });
    });
    s.on('close', () => resolve({ answer, end: () => {} }));
  });
}

/**
 * A bundle `<root>-bundle` (removed after each test) running `args` on the test rootfs, read-only,
 * in new mount and pid namespaces, with `linux` fields added.
 */
function writeBundle(args: string[], linux: Record<string, unknown>): string {
  const bundle = `${root}-bundle`;
  mkdirSync(bundle);
  writeFileSync(
    join(bundle, 'config.json'),
    JSON.stringify({
      ociVersion: '1.2.0',
      process: { args, cwd: '/', user: { uid: 0, gid: 0 } },
      root: { path: ROOTFS!, readonly: true },
      linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }], ...linux },
    }),
  );
  return bundle;
}

/** The ids of containers left in `dir`, deleted with -f through Node. */
async function deleteAll(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const id of readdirSync(dir)) if (!id.startsWith('.')) await plain(['--root', dir, 'delete', '-f', id]);
}

describe.skipIf(!isRoot || !ROOTFS)('ns serve and the hand-off (as root)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build @ns/cli first`);
    build = mkdtempSync(join(tmpdir(), 'ns-handoff-build-'));
    handoff = join(build, 'handoff-test');
    execFileSync('cc', ['-O2', '-Wall', '-Werror', '-o', handoff, join(FRONT, 'handoff.c'), join(FRONT, 'clone.c'), join(FRONT, 'handoff-main.c')]);
    // Reachable by the other user of the tests below.
    execFileSync('chmod', ['755', build]);
  });
  afterAll(() => rmSync(build, { recursive: true, force: true }));

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ns-serve-'));
    servers = [];
  });
  afterEach(async () => {
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    await deleteAll(root);
    rmSync(root, { recursive: true, force: true });
    for (const extra of ['out', 'pid', 'bundle', 'chroot']) rmSync(`${root}-${extra}`, { recursive: true, force: true });
  });

  it('answers every read/signal verb as the Node path does, byte for byte', async () => {
    const server = await serve();
    const r = ['--root', root];
    const run = await plain([...r, 'run', '-d', '--rootfs', ROOTFS!, 'box', '--', 'sleep', '100']);
    expect(run.code).toBe(0);
    const calls = [
      ['state', 'box'],
      ['list'],
      ['list', '--format', 'json'],
      ['ps', 'box'],
      ['events', '--stats', 'box'],
      ['state', 'nope'],
      ['kill', 'nope'],
      ['delete', 'nope'],
      ['start', 'nope'],
      ['state', 'bad/id'],
      ['kill', 'box', 'NOSUCHSIG'],
    ].map((c) => [...r, ...c]);
    calls.push(['features'], ['--version'], ['-V'], ['--log-format', 'bogus', '--root', root, 'state', 'box']);
    for (const args of calls) {
      const want = await plain(args);
      const got = await handed(args);
      expect({ args, ...got }).toEqual({ args, ...want });
    }
    expect(server.stderr()).toBe('');
  });

  it('takes a lock in its first call (delete --force of a running container) as through Node', async () => {
    // The server's own lstat of its socket once made Node's realpath stop at a cached prefix:
    // proper-lockfile, loaded lazily, missed graceful-fs and the lock "was held by another ns".
    await serve();
    const r = ['--root', root];
    const outcome = async (call: (args: string[]) => Promise<Result>) => {
      expect((await plain([...r, 'run', '-d', '--rootfs', ROOTFS!, 'f1', '--', 'sleep', '100'])).code).toBe(0);
      return { deleted: await call([...r, 'delete', '--force', 'f1']), left: existsSync(join(root, 'f1')) };
    };
    const got = await outcome((a) => handed(a));
    const want = await outcome((a) => plain(a));
    expect(want).toEqual({ deleted: { code: 0, signal: null, stdout: '', stderr: '' }, left: false });
    expect(got).toEqual(want);
  });

  it('start, kill and delete act and answer as through Node', async () => {
    await serve();
    const r = ['--root', root];
    const outcome = async (call: (args: string[]) => Promise<Result>) => {
      const create = await plain([...r, 'create', '--rootfs', ROOTFS!, 'c1', '--', 'sleep', '100']);
      expect(create.code).toBe(0);
      const started = await call([...r, 'start', 'c1']);
      const status1 = JSON.parse((await plain([...r, 'state', 'c1'])).stdout).status as string;
      const again = await call([...r, 'start', 'c1']);
      const running = await call([...r, 'delete', 'c1']);
      const killed = await call([...r, 'kill', 'c1', 'KILL']);
      for (let i = 0; i < 100 && JSON.parse((await plain([...r, 'state', 'c1'])).stdout).status !== 'stopped'; i++) await new Promise((w) => setTimeout(w, 20));
      const deleted = await call([...r, 'delete', 'c1']);
      return { started, status1, again, running, killed, deleted, left: existsSync(join(root, 'c1')) };
    };
    const want = await outcome((a) => plain(a));
    const got = await outcome((a) => handed(a));
    expect(want.status1).toBe('running');
    expect(want.left).toBe(false);
    expect(got).toEqual(want);
  });

  it("runs start's and delete's hooks in the caller's working directory, as through Node", async () => {
    await serve();
    const r = ['--root', root];
    const bundle = join(root, '..', `${basename(root)}-bundle`);
    const elsewhere = join(root, '..', `${basename(root)}-elsewhere`);
    mkdirSync(elsewhere);
    mkdirSync(bundle);
    try {
      expect((await plain(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal', '--', 'sleep', '100'])).code).toBe(0);
      const configPath = join(bundle, 'config.json');
      const log = join(bundle, 'hooks.log');
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as { hooks?: unknown };
      const hook = (name: string) => [{ path: '/bin/sh', args: ['sh', '-c', `echo ${name} $(pwd) >> ${log}`] }];
      config.hooks = { prestart: hook('prestart'), poststart: hook('poststart'), poststop: hook('poststop') };
      writeFileSync(configPath, JSON.stringify(config));
      const outcome = async (call: (args: string[], cwd: string) => Promise<Result>) => {
        rmSync(log, { force: true });
        expect((await plain([...r, 'create', '--bundle', bundle, 'h1'], bundle)).code).toBe(0);
        const started = await call([...r, 'start', 'h1'], elsewhere);
        const deleted = await call([...r, 'delete', '--force', 'h1'], elsewhere);
        return { started, deleted, log: readFileSync(log, 'utf8') };
      };
      const want = await outcome((a, cwd) => plain(a, cwd));
      const got = await outcome((a, cwd) => handed(a, cwd));
      expect(want.log).toBe(`prestart ${bundle}\npoststart ${elsewhere}\npoststop ${elsewhere}\n`);
      expect(got).toEqual(want);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("takes the caller's working directory for relative paths, not the server's", async () => {
    await serve();
    const cwd = dirname(root);
    const args = ['--root', basename(root), '--log', `${basename(root)}-log`, 'state', 'nope'];
    try {
      const want = await plain(args, cwd);
      const log = readFileSync(`${root}-log`, 'utf8');
      rmSync(`${root}-log`);
      const got = await handed(args, cwd);
      expect(got).toEqual(want);
      expect(want.code).toBe(125);
      expect(readFileSync(`${root}-log`, 'utf8').replace(/time="[^"]*"/g, '')).toBe(log.replace(/time="[^"]*"/g, ''));
    } finally {
      rmSync(`${root}-log`, { force: true });
    }
  });

  it('creates through a front that clones: the container is the caller\'s child on the caller\'s stdio, never the server\'s', async () => {
    const server = await serve();
    const r = ['--root', root];
    const out = `${root}-out`;
    const pidFile = `${root}-pid`;
    const fd = openSync(out, 'w');
    let created;
    try {
      // With the caller's umask (077), not the server's, for what the call creates.
      created = spawnSync('sh', ['-c', 'umask 077; exec "$0" "$@"', handoff, root, ...r, 'create', '--rootfs', ROOTFS!, '--pid-file', pidFile, 'c1', '--', 'sh', '-c', 'echo out; echo err >&2'], { stdio: ['ignore', fd, fd], timeout: 15_000 });
    } finally {
      closeSync(fd);
    }
    // Not 222: the server ran it (before, a front could only hand create to Node).
    expect(created.status).toBe(0);
    const state = JSON.parse((await plain([...r, 'state', 'c1'])).stdout) as { status: string; pid: number };
    expect(state.status).toBe('created');
    expect(readFileSync(pidFile, 'utf8')).toBe(String(state.pid));
    expect(statSync(pidFile).mode & 0o777).toBe(0o600);
    // The front cloned it and has exited: the process went to init (or the nearest
    // subreaper), as runc create's does; never a child of the server.
    const ppid = Number(readFileSync(`/proc/${state.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    expect(ppid).not.toBe(server.child.pid);
    // What waits for `start` is ns-init from its sealed memfd, not the front (CVE-2019-5736).
    expect(readlinkSync(`/proc/${state.pid}/exe`)).toMatch(/^\/memfd:ns-init/);
    // The caller's descriptors 1 and 2, not the server's: its output reaches the caller's file.
    expect((await plain([...r, 'start', 'c1'])).code).toBe(0);
    for (let i = 0; i < 200 && !readFileSync(out, 'utf8').includes('err'); i++) await new Promise((res) => setTimeout(res, 20));
    expect(readFileSync(out, 'utf8').split('\n').sort()).toEqual(['', 'err', 'out']);
    expect(server.stderr()).toBe('');
    rmSync(out, { force: true });
    rmSync(pidFile, { force: true });
  });

  it('pauses and resumes (a client\'s pause/resume) as through Node', async () => {
    const server = await serve();
    const r = ['--root', root];
    // A cgroup of its own (cgroupsPath), which pause needs.
    const bundle = writeBundle(['sleep', '100'], { cgroupsPath: `/ns-serve-test-pz-${process.pid}` });
    expect((await plain([...r, 'run', '-d', '--bundle', bundle, 'pz'])).code).toBe(0);
    expect(await handed([...r, 'pause', 'pz'])).toEqual({ code: 0, signal: null, stdout: '', stderr: '' });
    expect(JSON.parse((await plain([...r, 'state', 'pz'])).stdout)).toMatchObject({ status: 'paused' });
    const twice = [...r, 'pause', 'pz'];
    expect(await handed(twice)).toEqual(await plain(twice));
    expect(await handed([...r, 'resume', 'pz'])).toEqual({ code: 0, signal: null, stdout: '', stderr: '' });
    expect(JSON.parse((await plain([...r, 'state', 'pz'])).stdout)).toMatchObject({ status: 'running' });
    expect(server.stderr()).toBe('');
  });

  it('runs a detached exec through a front that clones (as conmon and the shim call it): the caller\'s child, stdio and pid file', async () => {
    const server = await serve();
    const r = ['--root', root];
    expect((await plain([...r, 'run', '-d', '--rootfs', ROOTFS!, 'box', '--', 'sleep', '100'])).code).toBe(0);
    const out = `${root}-out`;
    const pidFile = `${root}-pid`;
    const fd = openSync(out, 'w');
    let ran;
    try {
      ran = spawnSync(handoff, [root, ...r, 'exec', '--detach', '--pid-file', pidFile, 'box', 'sh', '-c', 'echo in $(hostname); sleep 100'], { stdio: ['ignore', fd, fd], timeout: 15_000 });
    } finally {
      closeSync(fd);
    }
    expect(ran.status).toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // The process in the container (its pid namespace's child, handed over by the first
    // child): never the server's child, its exe the container's sh, not the front.
    const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    expect(ppid).not.toBe(server.child.pid);
    expect(readlinkSync(`/proc/${pid}/exe`)).not.toMatch(/handoff|ns_front|node/);
    const ps = JSON.parse((await plain([...r, 'ps', '--format', 'json', 'box'])).stdout) as number[];
    expect(ps).toContain(pid);
    for (let i = 0; i < 200 && !readFileSync(out, 'utf8').includes('\n'); i++) await new Promise((res) => setTimeout(res, 20));
    expect(readFileSync(out, 'utf8')).toMatch(/^in \S+\n$/);
    // A foreground exec is not the server's: the front runs it in Node.
    expect((await handed([...r, 'exec', 'box', 'true'])).code).toBe(FELL_BACK);
    expect(server.stderr()).toBe('');
  });

  it('a create that fails through the server says what Node says and leaves nothing, before or after the clone', async () => {
    await serve();
    const r = ['--root', root];
    // Before the clone (no rootfs), and after it: the cgroup's limit is refused while the
    // front's child waits at its cgroup step (cpus outside the host's set).
    const bundle = writeBundle(['true'], { cgroupsPath: `/ns-serve-test-${process.pid}`, resources: { cpu: { cpus: '4095' } } });
    try {
      for (const args of [['create', '--rootfs', '/nonexistent', 'bad1'], ['create', '--bundle', bundle, 'bad2']]) {
        const want = await plain([...r, ...args]);
        const got = await handed([...r, ...args]);
        expect(want.code).toBe(125);
        expect({ args, ...got }).toEqual({ args, ...want });
        expect(readdirSync(root)).toEqual(['.server']);
      }
      expect(existsSync(`/sys/fs/cgroup/cpuset/ns-serve-test-${process.pid}`)).toBe(false);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  });

  it('a create whose program is missing leaves no cgroup, every time (the server waits for the front\'s child to be gone before removing it)', async () => {
    await serve();
    const r = ['--root', root];
    // The failure is ns-init's own (execve ENOENT): the child exits while the server concludes.
    const bundle = writeBundle(['nonexistent'], { cgroupsPath: `/ns-serve-test-gone-${process.pid}/c`, resources: { pids: { limit: 16 } } });
    const left = () => ['pids', 'memory', 'cpuacct'].filter((h) => existsSync(`/sys/fs/cgroup/${h}/ns-serve-test-gone-${process.pid}/c`));
    try {
      for (let k = 0; k < 15; k++) {
        const got = await handed([...r, 'create', '--bundle', bundle, `gone${k}`]);
        expect(got.code).not.toBe(0);
        expect(got.code).not.toBe(FELL_BACK);
        expect({ k, left: left() }).toEqual({ k, left: [] });
      }
      expect(readdirSync(root)).toEqual(['.server']);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
      for (const h of ['pids', 'memory', 'cpuacct', 'cpu,cpuacct', 'devices']) {
        for (const d of [`/sys/fs/cgroup/${h}/ns-serve-test-gone-${process.pid}/c`, `/sys/fs/cgroup/${h}/ns-serve-test-gone-${process.pid}`]) {
          try {
            rmdirSync(d);
          } catch {
            // not there
          }
        }
      }
    }
  });

  it('a caller killed during its create gets nothing left behind: the server undoes the container once it sees the front gone', async () => {
    await serve();
    const r = ['--root', root];
    // A set-up that takes a while: a createContainer hook (run in the container by ns-init).
    const bundle = writeBundle(['true'], {});
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Record<string, unknown>;
    config.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '2'] }] };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    try {
      const caller = spawn(handoff, [root, ...r, 'create', '--bundle', bundle, 'killed'], { stdio: 'ignore' });
      const ended = new Promise((resolve) => caller.on('exit', resolve));
      // Killed once it has cloned the container's process (its child), while the hook runs.
      const children = () => readFileSync(`/proc/${caller.pid}/task/${caller.pid}/children`, 'utf8').trim();
      for (let i = 0; i < 250 && children() === ''; i++) await new Promise((res) => setTimeout(res, 20));
      expect(children()).not.toBe('');
      caller.kill('SIGKILL');
      await ended;
      // Once the set-up ends, the server finds the front gone and deletes the container.
      for (let i = 0; i < 300 && existsSync(join(root, 'killed')); i++) await new Promise((res) => setTimeout(res, 20));
      expect(readdirSync(root)).toEqual(['.server']);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  });

  it('leaves a create with hooks the runtime runs (prestart, createRuntime) to the front\'s Node: they would get the server\'s cgroup and rlimits', async () => {
    const server = await serve();
    const bundle = writeBundle(['true'], {});
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Record<string, unknown>;
    config.hooks = { createRuntime: [{ path: '/bin/true' }] };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    try {
      expect(await handed(['--root', root, 'create', '--bundle', bundle, 'hooked'])).toEqual({ code: FELL_BACK, signal: null, stdout: '', stderr: '' });
      expect(readdirSync(root)).toEqual(['.server']);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
    expect(server.stderr()).toBe('');
  });

  it('leaves run, exec, create --preserve-fds and unknown calls to the front (-1), running nothing', async () => {
    const server = await serve();
    for (const args of [['create', '--preserve-fds', '1', '--rootfs', ROOTFS!, 'x'], ['run', '--rootfs', ROOTFS!, 'x', '--', 'true'], ['exec', 'x', 'true'], ['events', 'x'], ['serve'], ['state', '--help'], []]) {
      const got = await handed(['--root', root, ...args]);
      expect({ args, ...got }).toEqual({ args, code: FELL_BACK, signal: null, stdout: '', stderr: '' });
    }
    expect(readdirSync(root)).toEqual(['.server']);
    expect(server.stderr()).toBe('');
  });

  it('serves no caller in other namespaces (its paths, pids and network would not be the server\'s), nor one less privileged: the front runs the call itself', async () => {
    const server = await serve();
    for (const flags of [['--mount'], ['--net'], ['--pid', '--fork']]) {
      const got = await start('unshare', [...flags, handoff, root, '--root', root, 'list']).done;
      expect({ flags, ...got }).toEqual({ flags, code: FELL_BACK, signal: null, stdout: '', stderr: '' });
    }
    // Nor a chroot()ed caller: its paths are not the server's (the socket reached through a
    // hard link inside the chroot; a static front there).
    const chr = `${root}-chroot`;
    mkdirSync(join(chr, 'r'), { recursive: true });
    try {
      execFileSync('cc', ['-O2', '-static', '-o', join(chr, 'front'), join(FRONT, 'handoff.c'), join(FRONT, 'clone.c'), join(FRONT, 'handoff-main.c')]);
      linkSync(join(root, '.server'), join(chr, 'r', '.server'));
      const got = await start('chroot', [chr, '/front', '/r', '--root', '/r', 'list']).done;
      expect(got).toEqual({ code: FELL_BACK, signal: null, stdout: '', stderr: '' });
    } finally {
      rmSync(chr, { recursive: true, force: true });
    }
    // Nor a caller confined more than the server (a capability less, no_new_privs): the server
    // would act for it with privileges it does not have.
    for (const flags of [['--bounding-set', '-sys_admin'], ['--no-new-privs']]) {
      const got = await start('setpriv', [...flags, handoff, root, '--root', root, 'list']).done;
      expect({ flags, ...got }).toEqual({ flags, code: FELL_BACK, signal: null, stdout: '', stderr: '' });
    }
    expect((await handed(['--root', root, 'list'])).code).toBe(0);
    expect(server.stderr()).toBe('');
  });

  it('out of descriptors (EMFILE), a new connection is closed at once and its front goes on; never a front left waiting', async () => {
    // A server with few descriptors, filled with connections that send nothing.
    const env = { ...process.env };
    delete env.NODE_PATH;
    const child = spawn('prlimit', ['--nofile=48:48', process.execPath, BIN, '--root', root, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    servers.push(child);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    for (let i = 0; i < 500 && !out.includes('listening on'); i++) await new Promise((res) => setTimeout(res, 20));
    expect(out).toContain('listening on');
    const idle: { end: () => void }[] = [];
    try {
      for (let i = 0; i < 60; i++) idle.push(await rawCall(join(root, '.server'), Buffer.alloc(0), true));
      // Before, accept() failed with EMFILE for ever: the front's connection stayed queued and
      // it waited for an answer that never came (killed by start()'s timer here).
      expect(await handed(['--root', root, 'list'])).toEqual({ code: FELL_BACK, signal: null, stdout: '', stderr: '' });
    } finally {
      for (const c of idle) c.end();
    }
    // Once the idle ones are gone, it serves again.
    let served = -1;
    for (let i = 0; i < 100 && served !== 0; i++) {
      served = (await handed(['--root', root, 'list'])).code ?? -1;
      if (served !== 0) await new Promise((res) => setTimeout(res, 50));
    }
    expect(served).toBe(0);
  });

  it('a server that does not start the call (stopped): the front gives up (Q) and goes on; the server, resumed, runs nothing of it', async () => {
    const server = await serve();
    const r = ['--root', root];
    expect((await plain([...r, 'run', '-d', '--rootfs', ROOTFS!, 'kept', '--', 'sleep', '100'])).code).toBe(0);
    process.kill(server.child.pid!, 'SIGSTOP');
    try {
      // Before, the front waited for ever. (Its stdio is not a pipe here: the stopped server
      // holds the descriptors sent with the request until it drops the call, after SIGCONT.)
      const gaveUp = spawnSync(handoff, [root, ...r, 'delete', '--force', 'kept'], { stdio: 'ignore', timeout: 15_000 });
      expect({ status: gaveUp.status, signal: gaveUp.signal }).toEqual({ status: FELL_BACK, signal: null });
    } finally {
      process.kill(server.child.pid!, 'SIGCONT');
    }
    // Resumed, the server reaches the queued call, finds the front gone ('Q') and skips it.
    expect((await handed([...r, 'list', '-q'])).stdout).toBe('kept\n');
    expect(JSON.parse((await plain([...r, 'state', 'kept'])).stdout)).toMatchObject({ status: 'running' });
    expect(server.stderr()).toBe('');
  });

  it('serves no other uid: the server refuses the peer, the front never uses another user\'s socket', async () => {
    const server = await serve();
    const path = join(root, '.server');
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    // The front as another user: the socket is not its own, it falls back without connecting.
    execFileSync('chmod', ['755', root]);
    expect(await handed(['--root', root, 'list'], tmpdir(), root, NOBODY)).toMatchObject({ code: FELL_BACK, stdout: '', stderr: '' });
    // Another user that can open the socket anyway (CAP_DAC_OVERRIDE) is refused by SO_PEERCRED.
    const script = `const s=require('net').connect(${JSON.stringify(path)});let a='';s.on('data',d=>a+=d);s.on('error',e=>{});s.on('connect',()=>s.write(Buffer.from('NSH1')));s.on('close',()=>process.stdout.write(JSON.stringify(a)))`;
    const other = await start('setpriv', ['--reuid', `${NOBODY}`, '--regid', `${NOBODY}`, '--clear-groups', '--inh-caps', '+dac_override', '--ambient-caps', '+dac_override', process.execPath, '-e', script]).done;
    expect(other).toMatchObject({ code: 0, stdout: '""' });
    expect(server.stderr()).toMatch(new RegExp(`refused a connection of uid ${NOBODY} \\(pid \\d+\\): this server serves uid 0 only\\n`));
    // Still serving its own user.
    expect((await handed(['--root', root, 'list'])).code).toBe(0);
  });

  it('closes a malformed connection only, and an unfinished request blocks nobody', async () => {
    await serve();
    const path = join(root, '.server');
    expect((await rawCall(path, Buffer.from('XXXXxxxxxxxxxxxxxxxx'))).answer).toBe('');
    // A complete request without descriptors 0, 1, 2.
    const body = Buffer.from(`/\0--root\0${root}\0list\0`);
    const head = Buffer.alloc(16);
    head.write('NSH1', 0, 'latin1');
    head.writeUInt32LE(body.length, 4);
    head.writeUInt32LE(3, 8);
    expect((await rawCall(path, Buffer.concat([head, body]))).answer).toBe('');
    const hanging = await rawCall(path, head.subarray(0, 8), true);
    const want = await plain(['--root', root, 'list']);
    expect(await handed(['--root', root, 'list'])).toEqual(want);
    hanging.end();
  });

  it('falls back once the server is gone: stopped (socket removed) or killed (stale socket, replaced by the next server)', async () => {
    const first = await serve();
    const path = join(root, '.server');
    // After a call that took a container's lock (proper-lockfile's signal-exit then listens
    // for SIGTERM too, and re-raised it: the server died with 143 and left its socket).
    expect((await plain(['--root', root, 'run', '-d', '--rootfs', ROOTFS!, 'sig1', '--', 'sleep', '100'])).code).toBe(0);
    expect((await handed(['--root', root, 'delete', '-f', 'sig1'])).code).toBe(0);
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect((await handed(['--root', root, 'list'])).code).toBe(FELL_BACK);
    const second = await serve();
    second.child.kill('SIGKILL');
    await second.exit;
    expect(lstatSync(path).isSocket()).toBe(true);
    expect((await handed(['--root', root, 'list'])).code).toBe(FELL_BACK);
    await serve();
    expect((await handed(['--root', root, 'list'])).code).toBe(0);
  });

  it('answers calls handed over at once, each as through Node (one at a time, in arrival order)', async () => {
    await serve();
    const r = ['--root', root];
    expect((await plain([...r, 'run', '-d', '--rootfs', ROOTFS!, 'q1', '--', 'sleep', '100'])).code).toBe(0);
    const calls = [['state', 'q1'], ['list'], ['state', 'nope'], ['ps', 'q1'], ['features'], ['kill', 'q1', 'CONT']].map((c) => [...r, ...c]);
    const want = await Promise.all(calls.map((c) => plain(c)));
    const got = await Promise.all([...calls, ...calls].map((c) => handed(c)));
    expect(got).toEqual([...want, ...want]);
  });

  it('the front: -1 on F, the status after R, 125 and a line when the server goes away after R', async () => {
    // A stand-in server speaking the wire format, to check the front's side alone.
    const { createServer } = await import('node:net');
    const path = join(root, '.server');
    const answers: Buffer[] = [];
    const server = createServer((s) => {
      s.once('data', () => s.end(answers.shift()));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      answers.push(Buffer.from('F'));
      expect(await handed(['list'])).toEqual({ code: FELL_BACK, signal: null, stdout: '', stderr: '' });
      // A front that clones (NSH2): the status comes as X, i32 status, i32 the container's pid.
      answers.push(Buffer.from([0x52, 0x58, 7, 0, 0, 0, 0, 0, 0, 0]));
      expect(await handed(['list'])).toEqual({ code: 7, signal: null, stdout: '', stderr: '' });
      answers.push(Buffer.from('R'));
      expect(await handed(['list'])).toEqual({ code: 125, signal: null, stdout: '', stderr: `ns: the server at ${path} went away before the call ended\n` });
      answers.push(Buffer.alloc(0));
      expect((await handed(['list'])).code).toBe(FELL_BACK);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses to start next to a server that answers, or on a path that is not its own socket', async () => {
    await serve();
    const twice = await plain(['--root', root, 'serve']);
    expect(twice).toMatchObject({ code: 125, stdout: '' });
    expect(twice.stderr).toMatch(/a server already answers at .*\.server\n$/);

    const other = mkdtempSync(join(tmpdir(), 'ns-serve-other-'));
    try {
      const path = join(other, '.server');
      const refused = async (what: string) => {
        const r = await plain(['--root', other, 'serve']);
        expect({ what, code: r.code, stderr: r.stderr }).toEqual({ what, code: 125, stderr: `ns: serve: ${path} exists and is not a socket of uid 0: left alone\n` });
      };
      symlinkSync(join(root, '.server'), path);
      await refused('a symlink to a live server');
      // Nor does the front follow it.
      expect((await handed(['--root', other, 'list'], tmpdir(), other)).code).toBe(FELL_BACK);
      expect(lstatSync(path).isSymbolicLink()).toBe(true);
      rmSync(path);
      writeFileSync(path, 'x');
      await refused('a file');
      rmSync(path);
      closeSync(unixListen(path));
      chownSync(path, NOBODY, NOBODY);
      await refused("another user's socket");
      expect(lstatSync(path).uid).toBe(NOBODY);
      rmSync(path);
      mkdirSync(join(other, 'sub'));
      chownSync(join(other, 'sub'), NOBODY, NOBODY);
      const foreignRoot = await plain(['--root', join(other, 'sub'), 'serve']);
      expect(foreignRoot.code).toBe(125);
      expect(foreignRoot.stderr).toMatch(/not a directory owned by uid 0/);
      // A root given through a symlink (to a directory of ours): refused, saying so.
      symlinkSync(other, join(tmpdir(), `${basename(other)}-link`));
      try {
        const linked = await plain(['--root', join(tmpdir(), `${basename(other)}-link`), 'serve']);
        expect(linked.code).toBe(125);
        expect(linked.stderr).toMatch(/: a symbolic link \(the state root must be the server's own directory itself: give its real path\)\n$/);
      } finally {
        rmSync(join(tmpdir(), `${basename(other)}-link`), { force: true });
      }
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
