/**
 * createContainer and startContainer hooks (plan/hooks.ts, ns-init's `hook` step), run for real
 * on the busybox rootfs: in the container's namespaces, in the spec's order, with the state on
 * stdin; a failing, a hanging (timeout) and a missing one each fail the start and leave nothing.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateStore, createContainer, deleteContainer, exec, fromOciSpec, rootfsContainer, runContainer, startCreatedContainer, type Container, type ContainerHooks } from '../src/index.js';
import { ROOTFS, gone, hostMounts, isRoot, run } from './helpers.js';

let dir: string;
let log: string;

function thrown(fn: () => unknown): { code?: string; message: string; path?: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string; path?: string };
  }
  throw new Error('expected a throw');
}

/** Whether `pid` has ended (reaped, or a zombie its new parent has not reaped yet). */
function deadOrZombie(pid: number): boolean {
  if (gone(pid)) return true;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** Lines of the log: `<name> <rest>`. */
function lines(): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
}

function field(line: string, key: string): string {
  return new RegExp(`(?:^| )${key}=(\\S*)`).exec(line)?.[1] ?? '';
}

function stdinOf(line: string): Record<string, unknown> {
  return JSON.parse(line.slice(line.indexOf('stdin=') + 6)) as Record<string, unknown>;
}

/**
 * A hook script at `dir/<name>.sh`, run by `shell` (`/bin/sh` of the host or of the container):
 * appends `<name> mnt=.. pid=.. net=.. uts=.. host=<hostname> uid=.. arg=$1 FOO=$FOO stdin=<state>` to
 * `logPath`, then does `then`.
 */
function script(name: string, logPath: string, then = 'exit 0'): string {
  const path = join(dir, `${name}.sh`);
  const ns = (t: string) => `${t}=$(readlink /proc/self/ns/${t} | tr -dc 0-9)`;
  writeFileSync(
    path,
    `#!/bin/sh\necho "${name} ${['mnt', 'pid', 'net', 'uts'].map(ns).join(' ')} host=$(hostname) uid=$(id -u) arg=$1 FOO=$FOO stdin=$(cat)" >> ${logPath}\n${then}\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

/** The container: `dir` bound read-write at /hooked, a tmpfs at /tmp, hostname `inside`. */
function container(id: string, hooks: ContainerHooks, args?: string[]): Container {
  const program = `echo "program ${['mnt', 'pid', 'net', 'uts'].map((t) => `${t}=$(readlink /proc/self/ns/${t} | tr -dc 0-9)`).join(' ')} host=$(hostname) file=$(cat /tmp/from-hook 2>/dev/null)" >> /hooked/log`;
  const c = rootfsContainer(ROOTFS, { id, args: args ?? ['/bin/sh', '-c', program] });
  c.hostname = 'inside';
  c.mounts = [...(c.mounts ?? []), { destination: '/hooked', type: 'bind', source: dir, options: ['rbind', 'rw'] }, { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] }];
  c.hooks = hooks;
  c.annotations = { 'org.example.key': 'value' };
  return c;
}

describe('createContainer and startContainer hooks: config (no root needed)', () => {
  it('config.json: both are converted, no longer refused', () => {
    const spec = { ociVersion: '1.2.0', process: { args: ['/bin/true'], cwd: '/' }, root: { path: '/tmp' }, hooks: { createContainer: [{ path: '/bin/true', timeout: 3 }], startContainer: [{ path: '/bin/true', args: ['true', 'x'] }] }, linux: { namespaces: [{ type: 'mount' }] } };
    const c = fromOciSpec(spec, { bundle: '/tmp', id: 'h' });
    expect(c.hooks).toEqual(spec.hooks);
  });
});

describe.skipIf(!isRoot || !ROOTFS)('createContainer and startContainer hooks, run for real (root)', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-chooks-'));
    log = join(dir, 'log');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const reset = () => rmSync(log, { force: true });

  it('run in the container namespaces, in order: prestart, createRuntime, createContainer, startContainer, then the program', async () => {
    reset();
    const hooks: ContainerHooks = {
      prestart: [{ path: script('prestart', log) }],
      createRuntime: [{ path: script('createRuntime', log) }],
      // The host's root as the container's mount namespace has it; started in the container's root (its mounts made).
      createContainer: [{ path: '/bin/sh', args: ['sh', script('createContainer', log, 'echo made-by-hook > ./tmp/from-hook'), 'one'], env: ['FOO=bar'] }],
      // Resolved in the container (the busybox sh), with the program's environment.
      startContainer: [{ path: '/hooked/startContainer.sh', args: ['start', 'two'] }],
    };
    script('startContainer', '/hooked/log');
    const c = container('chooks-order', hooks);
    c.env = ['FOO=from-program-env', 'PATH=/bin:/usr/bin'];
    const r = await run(c);
    expect(r.exitCode).toBe(0);
    const got = lines();
    expect(got.map((l) => l.split(' ')[0])).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'program']);
    const [pre, , create, start, program] = got as [string, string, string, string, string];
    const self = (t: string) => readlinkSync(`/proc/self/ns/${t}`).replace(/\D/g, '');
    for (const t of ['mnt', 'pid', 'net', 'uts']) {
      expect(field(pre, t)).toBe(self(t)); // prestart: the runtime's namespaces
      expect(field(create, t)).toBe(field(program, t)); // the container's
      expect(field(start, t)).toBe(field(program, t));
      expect(field(program, t)).not.toBe(self(t));
    }
    // The createContainer hook wrote into the container's /tmp (a tmpfs of its own) through its working directory.
    expect(field(program, 'file')).toBe('made-by-hook');
    expect(field(create, 'arg')).toBe('one');
    expect(field(create, 'FOO')).toBe('bar');
    expect(field(start, 'arg')).toBe('two');
    expect(field(start, 'FOO')).toBe('from-program-env');
    expect(field(start, 'host')).toBe('inside');
    const state = { ociVersion: '1.2.0', id: 'chooks-order', pid: r.pid, bundle: process.cwd(), annotations: { 'org.example.key': 'value' } };
    expect(stdinOf(create)).toEqual({ ...state, status: 'creating' });
    expect(stdinOf(start)).toEqual({ ...state, status: 'created' });
  });

  it("createContainer starts in the rootfs's host path, the container's root there: what it mounts there reaches the container", async () => {
    reset();
    // As a CDI hook does: the rootfs by its host path (config.json root.path), a mount into it.
    const hook = script('createContainer', log, `echo "pwd=$(pwd)" >> ${log}; mount -t tmpfs -o size=1m hooktmp ${ROOTFS}/root && echo mounted-by-hook > ${ROOTFS}/root/marker`);
    const c = container('chooks-mirror', { createContainer: [{ path: hook }] }, ['/bin/sh', '-c', 'cat /root/marker; cat /tmp/from-hook 2>/dev/null; echo done']);
    const r = await run(c);
    expect(r.stderr).toBe(''); // no "getcwd() failed" of a working directory outside the hook's root
    expect(r.stdout).toBe('mounted-by-hook\ndone\n');
    expect(lines()).toContain(`pwd=${ROOTFS}`);
    expect(existsSync(join(ROOTFS, 'root', 'marker'))).toBe(false); // nothing reached the host's rootfs
  });

  it('a created container: createContainer at create, startContainer only at start (status created)', async () => {
    reset();
    const store = new StateStore(join(dir, 'state'));
    script('startContainer', '/hooked/log');
    const hooks: ContainerHooks = { createContainer: [{ path: script('createContainer', log) }], startContainer: [{ path: '/hooked/startContainer.sh' }] };
    const created = createContainer(container('chooks-create', hooks), { store, stdio: ['ignore', 'ignore', 'ignore'] });
    try {
      expect(lines().map((l) => l.split(' ')[0])).toEqual(['createContainer']);
      await startCreatedContainer(store, 'chooks-create');
      for (let i = 0; i < 200 && lines().length < 3; i++) await new Promise((r) => setTimeout(r, 25));
      expect(lines().map((l) => l.split(' ')[0])).toEqual(['createContainer', 'startContainer', 'program']);
      expect(stdinOf(lines()[1]!)).toMatchObject({ id: 'chooks-create', status: 'created', pid: created.process.pid });
    } finally {
      await deleteContainer(store, 'chooks-create', { force: true });
    }
  });

  it('runContainer(): a failing createContainer hook fails the start, and poststop still runs (runtime.md 12-13)', () => {
    reset();
    const store = new StateStore(join(dir, 'state'));
    const hooks: ContainerHooks = { createContainer: [{ path: script('fails', log, 'exit 4') }], poststop: [{ path: script('poststop', log) }] };
    expect(thrown(() => runContainer(container('chooks-poststop', hooks), { store, stdio: ['ignore', 'ignore', 'ignore'] }))).toMatchObject({ code: 'ERR_NS_HOOK', message: expect.stringMatching(/^hooks\.createContainer\[0\] .*exited with status 4$/) });
    expect(lines().map((l) => l.split(' ')[0])).toEqual(['fails', 'poststop']);
    expect(stdinOf(lines()[1]!)).toMatchObject({ id: 'chooks-poststop', status: 'stopped' });
    expect(store.list()).toEqual([]);
  });

  it('a failing, a hanging and a missing hook fail the start naming it, and leave nothing', () => {
    const mounts = hostMounts();
    const pidFile = join(dir, 'hung-pid');
    // What the hanging hook started (in the background; no pid namespace below, so `$!` is the
    // host's pid), to see its process group killed with it.
    const hang = script('hang', log, `sleep 20 & echo $! > ${pidFile}; wait`);
    const cases: [ContainerHooks, RegExp][] = [
      [{ createContainer: [{ path: script('fails', log, 'exit 3') }] }, /^hooks\.createContainer\[0\] \(.*fails\.sh\): exited with status 3$/],
      [{ createContainer: [{ path: '/bin/true' }, { path: hang, timeout: 1 }] }, /^hooks\.createContainer\[1\] \(.*hang\.sh\): did not finish within its timeout of 1 s and was killed$/],
      [{ startContainer: [{ path: '/bin/false' }] }, /^hooks\.startContainer\[0\] \(\/bin\/false\): exited with status 1$/],
      // Missing: before anything runs (the prestart hook neither).
      [{ prestart: [{ path: script('prestart', log) }], createContainer: [{ path: join(dir, 'missing') }] }, /^hooks\.createContainer\[0\] \(.*missing\): cannot be run: ENOENT$/],
      [{ prestart: [{ path: script('prestart', log) }], startContainer: [{ path: '/hooked/missing' }] }, /^hooks\.startContainer\[0\] \(\/hooked\/missing\): cannot be run: ENOENT$/],
    ];
    for (const [hooks, message] of cases) {
      reset();
      rmSync(pidFile, { force: true });
      const c = container('chooks-fail', hooks, ['/bin/true']);
      c.resources = { pids: { limit: 32 } };
      if (message.source.includes('hang')) c.namespaces = c.namespaces!.filter((n) => n.type !== 'pid');
      const t0 = Date.now();
      expect(thrown(() => exec(c))).toMatchObject({ code: 'ERR_NS_HOOK', message: expect.stringMatching(message) });
      expect(Date.now() - t0).toBeLessThan(10_000); // the timeout held (not the hook's 20 s)
      expect(hostMounts()).toEqual(mounts);
      expect(existsSync('/sys/fs/cgroup/pids/ns/chooks-fail') || existsSync('/sys/fs/cgroup/ns/chooks-fail')).toBe(false);
      if (message.source.includes('hang')) expect(deadOrZombie(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
      if (message.source.includes('missing')) expect(lines()).toEqual([]);
    }
  });
});
