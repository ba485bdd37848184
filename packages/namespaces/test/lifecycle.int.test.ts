import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  StateStore,
  containerPids,
  createContainer,
  deleteContainer,
  startCreatedContainer,
  execIn,
  execInAsync,
  killContainer,
  listContainers,
  processStartTime,
  rootfsContainer,
  runContainer,
  type ContainerProcess,
} from '../src/index.js';
import { ROOTFS, gone, hostMounts, isRoot } from './helpers.js';

async function output(p: ContainerProcess): Promise<{ out: string; exitCode: number | null }> {
  let out = '';
  p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const [{ exitCode }] = await Promise.all([p.wait(), new Promise((r) => p.once('close', r))]);
  return { out, exitCode };
}

describe.skipIf(!isRoot || !ROOTFS)('lifecycle and execIn (as root)', () => {
  let root: string;
  let store: StateStore;
  const started: ContainerProcess[] = [];
  const mountsBefore = hostMounts();

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ns-life-'));
    store = new StateStore(root);
  });
  afterEach(async () => {
    for (const p of started.splice(0)) {
      p.kill('SIGKILL');
      await p.wait();
    }
    rmSync(root, { recursive: true, force: true });
    expect(hostMounts()).toEqual(mountsBefore);
  });

  const start = (id: string, args = ['sleep', '60'], extra = {}) => {
    const r = runContainer(rootfsContainer(ROOTFS, { id, hostname: id, args, ...extra }), { store, stdio: 'ignore' });
    started.push(r.process);
    return r;
  };

  it('records state while a foreground container runs and removes it when it exits', async () => {
    const { process: p, state } = start('fg', ['sh', '-c', 'sleep 0.2']);
    expect(store.read('fg')).toMatchObject({ id: 'fg', pid: p.pid, status: 'running', startTime: processStartTime(p.pid) });
    expect(listContainers(store).map((s) => [s.id, s.status])).toEqual([['fg', 'running']]);
    await p.wait();
    expect(store.list()).toEqual([]);
    expect(state.pid).toBe(p.pid);
  });

  it('refuses a second container with an id in use, leaving the first alone', () => {
    start('dup');
    expect(() => start('dup')).toThrow(/container with given ID already exists: dup/);
    expect(listContainers(store)).toHaveLength(1);
  });

  it('removes the claimed state when the start fails', () => {
    expect(() => start('bad', ['/bin/nope'])).toThrow('execve /bin/nope: ENOENT');
    expect(readdirSync(root)).toEqual([]);
  });

  it('execIn joins the container: same hostname, its pid namespace (init is pid 1), own exit status', async () => {
    const { state } = start('join');
    const r = await output(execIn(state, { args: ['sh', '-c', 'hostname; echo $$; cat /proc/1/cmdline | tr "\\0" " "; exit 3'] }, { stdio: ['ignore', 'pipe', 'inherit'] }));
    expect(r.out).toBe('join\n2\nsleep 60 ');
    expect(r.exitCode).toBe(3);
  });

  it('execIn sees only the container network (lo) and the container mounts', async () => {
    const { state } = start('net');
    const r = await output(execIn(state, { args: ['sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; test -e /bin/busybox && echo busybox'] }, { stdio: ['ignore', 'pipe', 'inherit'] }));
    expect(r.out).toBe('lo\nbusybox\n');
  });

  it('execIn as another user, with the container defaults otherwise', async () => {
    const { state } = start('user');
    const r = await output(execIn(state, { args: ['id'], user: 'alice' }, { stdio: ['ignore', 'pipe', 'inherit'] }));
    expect(r.out).toBe('uid=1000(alice) gid=1000(alice) groups=10(wheel),100(users)\n');
  });

  it('execIn: of env keys given twice the last wins, for the config env and the process env (as runc)', async () => {
    const { state } = start('envdup', ['sleep', '60'], { env: ['ONE=two', 'PATH=/bin:/usr/bin', 'ONE=three'] });
    const lines = async (env?: string[]) =>
      (await output(execIn(state, { args: ['env'], ...(env ? { env } : {}) }, { stdio: ['ignore', 'pipe', 'inherit'] }))).out.trimEnd().split('\n');
    expect((await lines()).filter((l) => l.startsWith('ONE='))).toEqual(['ONE=three']);
    expect((await lines(['ONE=a', 'PATH=/bin:/usr/bin', 'ONE=b'])).filter((l) => l.startsWith('ONE='))).toEqual(['ONE=b']);
  });

  it('execIn with additionalGids: the process has exactly those supplementary groups', async () => {
    const { state } = start('gids');
    const groups = async (proc: { additionalGids?: number[]; user?: string }) =>
      (await output(execIn(state, { args: ['grep', '^Groups:', '/proc/self/status'], ...proc }, { stdio: ['ignore', 'pipe', 'inherit'] }))).out.trim();
    expect(await groups({})).toBe('Groups:');
    expect(await groups({ additionalGids: [10, 20, 4000] })).toBe('Groups:\t10 20 4000');
  });

  it('execIn leaves out a capability it does not know, with a process warning', async () => {
    const { state } = start('capwarn');
    const seen: Error[] = [];
    const listener = (w: Error) => seen.push(w);
    process.on('warning', listener);
    try {
      const r = await output(execIn(state, { args: ['grep', 'CapEff', '/proc/self/status'], capabilities: ['CAP_KILL', 'CAP_FOO'] }, { stdio: ['ignore', 'pipe', 'inherit'] }));
      expect(r.out).toBe('CapEff:\t0000000000000020\n');
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(seen.map((w) => [(w as Error & { code?: string }).code, w.message])).toEqual([
        ['NS_UNKNOWN_CAPABILITY', 'capabilities[1]: unknown capability "CAP_FOO", ignored'],
      ]);
    } finally {
      process.off('warning', listener);
    }
  });

  it('execIn with a terminal from the container devpts', async () => {
    const { state } = start('tty');
    const r = await output(execIn(state, { args: ['sh', '-c', 'tty; test -t 0 && echo TTY'], terminal: true }));
    expect(r.out.replace(/\r/g, '')).toBe('/dev/pts/0\nTTY\n');
  });

  it('execIn reports a missing binary with its path and leaves no process', () => {
    const { state } = start('missing');
    const before = containerPids(state);
    expect(() => execIn(state, { args: ['/bin/nope'] })).toThrow('execve /bin/nope: ENOENT');
    expect(containerPids(state)).toEqual(before);
  });

  it('execIn into a stopped container fails with ERR_NS_STATE', async () => {
    const { process: p, state } = start('gone', ['true']);
    await p.wait();
    expect(() => execIn(state, { args: ['true'] })).toThrow(expect.objectContaining({ code: 'ERR_NS_STATE' }));
  });

  it('execInAsync joins like execIn, rejects a missing binary, and leaves no process or descriptor', async () => {
    const { state } = start('async');
    const p = await execInAsync(state, { args: ['sh', '-c', 'hostname; exit 4'] }, { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = await output(p);
    expect(r.out).toBe('async\n');
    expect(r.exitCode).toBe(4);
    const before = containerPids(state);
    await expect(execInAsync(state, { args: ['/bin/nope'] })).rejects.toThrow('execve /bin/nope: ENOENT');
    expect(containerPids(state)).toEqual(before);
    // Namespace descriptors and pipes of failed starts are closed (counted over a few).
    const fds = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 5; i++) await expect(execInAsync(state, { args: ['/bin/nope'] })).rejects.toThrow('ENOENT');
    expect(readdirSync('/proc/self/fd').length).toBe(fds);
  });

  it('execInAsync into a stopped container rejects with ERR_NS_STATE', async () => {
    const { process: p, state } = start('gone-async', ['true']);
    await p.wait();
    await expect(execInAsync(state, { args: ['true'] })).rejects.toMatchObject({ code: 'ERR_NS_STATE' });
  });

  it('20 concurrent execIn all get their own exit status', async () => {
    const { state } = start('many');
    const runs = Array.from({ length: 20 }, (_, i) => execIn(state, { args: ['sh', '-c', `exit ${i % 5}`] }, { stdio: 'ignore' }).wait());
    expect((await Promise.all(runs)).map((r) => r.exitCode)).toEqual(Array.from({ length: 20 }, (_, i) => i % 5));
  });

  it('kill by number and by name, and status across running and stopped', async () => {
    const { process: p, state } = runContainer(
      rootfsContainer(ROOTFS, { id: 'k', args: ['sh', '-c', 'trap "exit 3" TERM; sleep 60 & while :; do sleep 0.05; done'] }),
      { store, stdio: 'ignore', detached: true },
    );
    started.push(p);
    p.ref();
    await new Promise((r) => setTimeout(r, 100));
    expect(containerPids(state).length).toBeGreaterThan(1);
    killContainer(store, 'k', 15);
    expect(await p.wait()).toEqual({ exitCode: 3, signal: null });
    expect(listContainers(store).map((s) => s.status)).toEqual(['stopped']);
    expect(() => killContainer(store, 'k', 'KILL')).toThrow('container not running: k');
    expect(() => killContainer(store, 'k', 'SIGBOGUS')).toThrow(/unknown signal/);
    await deleteContainer(store, 'k');
    expect(readdirSync(root)).toEqual([]);
  });

  it('delete refuses a running container; --force kills every process and removes the state', async () => {
    const { process: p, state } = runContainer(rootfsContainer(ROOTFS, { id: 'del', args: ['sh', '-c', 'sleep 60 & sleep 60'] }), {
      store,
      stdio: 'ignore',
      detached: true,
    });
    started.push(p);
    p.ref();
    await new Promise((r) => setTimeout(r, 50));
    const pids = containerPids(state);
    await expect(deleteContainer(store, 'del')).rejects.toThrow(/that is not stopped: running .*--force/);
    await deleteContainer(store, 'del', { force: true });
    await p.wait();
    expect(readdirSync(root)).toEqual([]);
    for (const pid of pids) expect(gone(pid) || processStartTime(pid) === null).toBe(true);
  });

  it('never widens a signal to the host: an init in the host pid namespace is the only pid (regression)', async () => {
    const { spawn } = await import('node:child_process');
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const startTime = processStartTime(sleeper.pid!)!;
      const forged = { ...start('forged').state, pid: sleeper.pid!, startTime };
      expect(containerPids(forged)).toEqual([sleeper.pid]);
      store.write(forged);
      killContainer(store, 'forged', 0, { all: true }); // signal 0: checks delivery only
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('execIn capabilities replace the container sets (regression)', async () => {
    const { state } = runContainer(
      rootfsContainer(ROOTFS, { id: 'capsets', args: ['sleep', '60'], capabilitySets: { bounding: ['CAP_KILL', 'CAP_CHOWN'] } }),
      { store, stdio: 'ignore' },
    );
    started.push(...[]);
    try {
      const r = await output(execIn(state, { args: ['grep', 'CapEff', '/proc/self/status'], capabilities: ['CAP_KILL'] }, { stdio: ['ignore', 'pipe', 'inherit'] }));
      expect(r.out).toBe('CapEff:\t0000000000000020\n');
    } finally {
      killContainer(store, 'capsets', 'KILL');
    }
  });

  it('never signals or joins a reused pid: a recorded pid with another start time is stopped', async () => {
    const { process: p, state } = start('reuse');
    store.write({ ...state, startTime: '1' });
    expect(listContainers(store)[0]!.status).toBe('stopped');
    expect(() => killContainer(store, 'reuse', 'KILL')).toThrow(/not running/);
    expect(() => execIn(store.read('reuse'), { args: ['true'] })).toThrow(/not running/);
    expect(p.status).toBeUndefined(); // still alive: nothing was sent to it
    expect(processStartTime(p.pid)).not.toBeNull();
  });
});

describe.skipIf(!isRoot || !ROOTFS)('create and start (as root)', () => {
  let root: string;
  let store: StateStore;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ns-create-'));
    store = new StateStore(root);
  });
  afterEach(async () => {
    for (const id of store.list()) await deleteContainer(store, id, { force: true }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it('create sets up and waits before execve (status created); start runs the program', async () => {
    const { state } = createContainer(rootfsContainer(ROOTFS, { id: 'c', hostname: 'made', args: ['sleep', '30'] }), { store, stdio: 'ignore' });
    expect(listContainers(store).map((s) => [s.id, s.status])).toEqual([['c', 'created']]);
    // Set up already but not exec'd: the waiting process is ns-init from its sealed memfd,
    // never a copy of this node (regression: it was, CVE-2019-5736 class).
    const { readlinkSync } = await import('node:fs');
    expect(readlinkSync(`/proc/${state.pid}/exe`)).toBe('/memfd:ns-init (deleted)');
    expect(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8')).toMatch(/^ns-init\u0000\d+\u0000$/);
    const started = await startCreatedContainer(store, 'c');
    expect(started.status).toBe('running');
    for (let i = 0; i < 100 && readlinkSync(`/proc/${state.pid}/exe`).startsWith('/memfd:'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8')).toBe('sleep\u000030\u0000');
    expect(readdirSync(join(root, 'c')).sort()).toEqual(['state.front', 'state.json']); // the exec.fifo is gone (the native front's record stays)
    await expect(startCreatedContainer(store, 'c')).rejects.toThrow('cannot start an already running container: c');
  });

  it('delete takes a created container down without --force, as runc', async () => {
    const { state } = createContainer(rootfsContainer(ROOTFS, { id: 'd', args: ['true'] }), { store, stdio: 'ignore' });
    await deleteContainer(store, 'd');
    expect(store.list()).toEqual([]);
    expect(processStartTime(state.pid)).toBeNull();
  });

  it('start of a created container whose process died is refused', async () => {
    const { state } = createContainer(rootfsContainer(ROOTFS, { id: 'e', args: ['true'] }), { store, stdio: 'ignore' });
    process.kill(state.pid, 'SIGKILL'); // the pid this test's container recorded
    for (let i = 0; i < 100 && processStartTime(state.pid) !== null; i++) await new Promise((r) => setTimeout(r, 10));
    await expect(startCreatedContainer(store, 'e')).rejects.toThrow('cannot start a container that has stopped: e');
  });

  it('create reports a missing program at once and leaves nothing (regression: it was lost)', () => {
    expect(() => createContainer(rootfsContainer(ROOTFS, { id: 'g', args: ['/bin/nope'] }), { store, stdio: 'ignore' })).toThrow('execve /bin/nope: ENOENT');
    expect(() => createContainer(rootfsContainer(ROOTFS, { id: 'h', args: ['nope-cmd'] }), { store, stdio: 'ignore' })).toThrow(
      'exec "nope-cmd": executable file not found in $PATH',
    );
    expect(readdirSync(root)).toEqual([]);
  });

  it('create starts a program its user may run only through CAP_DAC_OVERRIDE, as run does (runc#3715; regression: EACCES)', async () => {
    // A root-only program (0700) for alice, who holds CAP_DAC_OVERRIDE: execve allows it,
    // so the early check must too (it asked access(2), which ignores capabilities of a non-root user).
    const rootfs = join(root, 'rootfs');
    cpSync(ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(rootfs, 'opt'), { recursive: true });
    copyFileSync(join(rootfs, 'bin/busybox'), join(rootfs, 'opt/true'));
    chmodSync(join(rootfs, 'opt/true'), 0o700);
    const dac = ['CAP_DAC_OVERRIDE'];
    const c = rootfsContainer(rootfs, {
      id: 'dac',
      user: 'alice',
      args: ['/opt/true'],
      capabilitySets: { bounding: dac, effective: dac, permitted: dac, inheritable: dac, ambient: dac },
    });
    const { process: p } = createContainer(c, { store, stdio: 'ignore' });
    await startCreatedContainer(store, 'dac');
    expect(await p.wait()).toMatchObject({ exitCode: 0 });
    // Without the capability, create still reports EACCES at once (execve would refuse it).
    expect(() => createContainer({ ...c, id: 'nodac', capabilitySets: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] } }, { store, stdio: 'ignore' })).toThrow(
      'execve /opt/true: EACCES',
    );
  });

  it('create refuses a terminal without a console socket and leaves nothing', () => {
    expect(() => createContainer(rootfsContainer(ROOTFS, { id: 'f', terminal: true, args: ['sh'] }), { store })).toThrow(/cannot allocate tty .* without setting console socket/);
    expect(readdirSync(root)).toEqual([]);
  });
});
