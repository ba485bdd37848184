// Joining namespaces by path, every type (issue 19), as root: the targets are made here (a
// sleeping container, `unshare`), the container reads /proc/self/ns/TYPE, which must be the
// target's. Bad paths fail before anything is spawned, naming the JSON path. Only processes
// these tests start are signalled, by pid; nothing is left mounted.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACES, StateStore, exec, execIn, fromOciSpec, rootfsContainer, runContainer, type Container, type ContainerProcess, type NamespaceType } from '../src/index.js';
import { ROOTFS, gone, hostMounts, isRoot, run } from './helpers.js';

/** /proc/PID/ns names of the spec's types. */
const NS_NAME: Record<NamespaceType, string> = { mount: 'mnt', pid: 'pid', uts: 'uts', ipc: 'ipc', network: 'net', user: 'user', cgroup: 'cgroup', time: 'time' };

const started: { kill(): void }[] = [];
afterEach(() => {
  for (const p of started.splice(0).reverse()) {
    try {
      p.kill();
    } catch {
      // gone already
    }
  }
});

/** A command that prints `TYPE ns:[inode]` for every type, as the container sees them. */
const PRINT = 'for n in mnt pid uts ipc net user cgroup time; do echo "$n $(readlink /proc/self/ns/$n)"; done';

/** What PRINT prints, parsed. */
const parse = (out: string) => Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));

/** `unshare ARGS sleep`, with the pid of the sleeping process (the one in the new namespaces). */
async function unshare(args: string[]): Promise<number> {
  const child: ChildProcess = spawn('unshare', [...args, 'sleep', '60'], { stdio: 'ignore' });
  started.push({ kill: () => child.kill('SIGKILL') });
  // With --fork, unshare waits for its child: the sleeper is that child.
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const pid = args.includes('--fork') ? Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim()) : child.pid!;
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep')) {
      // Killing unshare would leave its forked child behind: that one is killed by its pid too.
      if (pid !== child.pid) started.push({ kill: () => process.kill(pid, 'SIGKILL') });
      return pid;
    }
  }
  throw new Error(`unshare ${args.join(' ')} did not start`);
}

/** A sleeping container of the library (new namespaces of every default type, a cgroup one too). */
function sleeper(): ContainerProcess {
  const p = exec(rootfsContainer(ROOTFS, { args: ['sleep', '60'], namespaces: [...DEFAULT_NAMESPACES, { type: 'cgroup' }] }), { stdio: 'ignore' });
  started.push({ kill: () => p.kill('SIGKILL') });
  return p;
}

const joining = (pid: number, types: NamespaceType[], extra: Partial<Container> = {}): Container =>
  rootfsContainer(ROOTFS, { args: ['sh', '-c', PRINT], hostname: '', namespaces: [{ type: 'mount' }, ...types.map((type) => ({ type, path: `/proc/${pid}/ns/${NS_NAME[type]}` }))], ...extra });

describe.skipIf(!isRoot || !ROOTFS)('exec() joining namespaces by path (as root)', () => {
  it('joins the ipc, uts, network, pid and cgroup namespaces of a sleeping container, forking into its pid namespace', async () => {
    const before = hostMounts();
    const target = sleeper();
    const types: NamespaceType[] = ['ipc', 'uts', 'network', 'pid', 'cgroup'];
    const r = await run(joining(target.pid, types, { args: ['sh', '-c', `${PRINT}; echo "init $(cat /proc/1/comm)"; echo "self $$"`] }));
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const seen = parse(r.stdout);
    for (const type of types) expect(seen[NS_NAME[type]]).toBe(readlinkSync(`/proc/${target.pid}/ns/${NS_NAME[type]}`));
    // Its own mount namespace, as asked; its /proc shows the joined pid namespace, where the
    // sleeper is 1 and the shell another.
    expect(seen.mnt).not.toBe(readlinkSync(`/proc/${target.pid}/ns/mnt`));
    expect(seen.init).toBe('sleep');
    expect(Number(seen.self)).toBeGreaterThan(1);
    target.kill('SIGKILL');
    await target.wait();
    expect(gone(r.pid)).toBe(true);
    expect(hostMounts()).toEqual(before);
  });

  it('joins a time namespace made by unshare', async () => {
    const pid = await unshare(['--time', '--fork']);
    const r = await run(joining(pid, ['time']));
    expect(r.stderr).toBe('');
    expect(parse(r.stdout).time).toBe(readlinkSync(`/proc/${pid}/ns/time`));
  });

  it('joins a user namespace first, then its ipc, uts and mount namespaces: the root is that namespace\'s', async () => {
    const before = hostMounts();
    const pid = await unshare(['--user', '--map-root-user', '--mount', '--ipc', '--uts']);
    const c = joining(pid, ['user', 'ipc', 'uts', 'mount'], { mounts: [], maskedPaths: [], readonlyPaths: [] });
    // No mount entry of its own: the joined one is used as it is (setns(2) sets root and cwd).
    c.namespaces = c.namespaces.filter((ns) => ns.path !== undefined);
    const r = await run({ ...c, args: ['/bin/sh', '-c', `${PRINT}; id -u; cat /proc/self/setgroups`] });
    expect(r.stderr).toBe('');
    const seen = parse(r.stdout.split('\n').slice(0, 8).join('\n'));
    for (const type of ['user', 'ipc', 'uts', 'mount'] as const) expect(seen[NS_NAME[type]]).toBe(readlinkSync(`/proc/${pid}/ns/${NS_NAME[type]}`));
    // unshare -r denies setgroups there: ns skips it (read from /proc/PID/setgroups).
    expect(r.stdout.split('\n').slice(8)).toEqual(['0', 'deny', '']);
    expect(hostMounts()).toEqual(before);
  });

  it('execIn into a container that joined a user namespace: joins it, skips the setgroups it denies', async () => {
    const pid = await unshare(['--user', '--map-root-user', '--ipc', '--uts']);
    const root = mkdtempSync(join(tmpdir(), 'ns-joins-'));
    try {
      // A pid namespace of its own (made after the join, so it belongs to that user namespace):
      // the host's procfs cannot be mounted from there.
      const c = joining(pid, ['user', 'ipc', 'uts'], { id: 'joined-user', args: ['sleep', '60'] });
      c.namespaces.push({ type: 'pid' });
      const { process: p, state } = runContainer(c, { store: new StateStore(root), stdio: 'ignore' });
      started.push({ kill: () => p.kill('SIGKILL') });
      const e = execIn(state, { args: ['sh', '-c', 'readlink /proc/self/ns/user; id -u; cat /proc/self/setgroups'] }, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      e.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      expect((await e.wait()).exitCode).toBe(0);
      expect(out).toBe(`${readlinkSync(`/proc/${pid}/ns/user`)}\n0\ndeny\n`);
      p.kill('SIGKILL');
      await p.wait();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses, before spawning, a path that is of another type, not a namespace, or missing, naming the JSON path', async () => {
    const pid = await unshare(['--ipc']);
    const refuse = (c: Container, code: string, message: string) => expect(() => exec(c, { stdio: 'ignore' })).toThrow(expect.objectContaining({ code, message }));
    const ns = (path: string): Container => rootfsContainer(ROOTFS, { args: ['true'], hostname: '', namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'ipc', path }] });
    refuse(ns(`/proc/${pid}/ns/net`), 'ERR_NS_CONFIG', `namespaces[2].path: /proc/${pid}/ns/net is a network namespace, not ipc`);
    refuse(ns('/etc/passwd'), 'ERR_NS_CONFIG', 'namespaces[2].path: /etc/passwd is not a namespace');
    refuse(ns('/dev/null'), 'ERR_NS_CONFIG', 'namespaces[2].path: /dev/null is not a namespace');
    refuse(ns('/var/run/netns/ns-no-such-namespace'), 'ERR_NS_NOT_FOUND', 'namespaces[2].path: /var/run/netns/ns-no-such-namespace: no such namespace file');
    // From a config.json: its own JSON path, after `config.json: ` as fromOciSpec()'s other errors.
    const spec = { ociVersion: '1.2.0', process: { args: ['true'], cwd: '/' }, root: { path: ROOTFS }, linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'ipc', path: `/proc/${pid}/ns/uts` }] } };
    refuse(fromOciSpec(spec, { bundle: '/tmp', id: 'joins-bad' }), 'ERR_NS_CONFIG', `config.json: linux.namespaces[2].path: /proc/${pid}/ns/uts is a uts namespace, not ipc`);
    // Nothing was spawned: no child of this process besides the unshare.
    const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    expect(children.map((c) => readFileSync(`/proc/${c}/comm`, 'utf8').trim()).filter((n) => n !== 'unshare' && n !== 'sleep')).toEqual([]);
  });
});
