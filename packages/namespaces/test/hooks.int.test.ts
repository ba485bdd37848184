/**
 * OCI lifecycle hooks (container/hooks.ts), run for real: prestart and createRuntime before the
 * program, in order, with the state on stdin and exactly their args and env; a failing, slow or
 * missing one fails the start and leaves nothing; poststart and poststop by runContainer(),
 * startCreatedContainer() and deleteContainer(), their failures only warnings.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  StateStore,
  createContainer,
  deleteContainer,
  exec,
  fromOciSpec,
  rootfsContainer,
  runContainer,
  startCreatedContainer,
  validateContainer,
  type Container,
  type ContainerHooks,
} from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

let dir: string;
let log: string;

/** A hook script: appends `<name> cmd=<its /proc cmdline> arg=$1 FOO=$FOO stdin=<state>` to the log, then does `then`. */
function script(name: string, then = 'exit 0'): string {
  const path = join(dir, `${name}.sh`);
  writeFileSync(path, `#!/bin/sh\nprintf '%s cmd=%s arg=%s FOO=%s HOME=%s stdin=%s\\n' ${name} "$(tr '\\0' ' ' </proc/$$/cmdline)" "$1" "$FOO" "$HOME" "$(cat)" >> ${log}\n${then}\n`);
  chmodSync(path, 0o755);
  return path;
}

function entries(): { name: string; line: string; state: Record<string, unknown> }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((line) => ({
    name: line.split(' ')[0]!,
    line,
    state: JSON.parse(line.slice(line.indexOf('stdin=') + 6)) as Record<string, unknown>,
  }));
}

function container(id: string, hooks: ContainerHooks, args = ['/bin/sh', '-c', 'test -e /hooked/prestart-ran && echo saw-hook']): Container {
  const c = rootfsContainer(ROOTFS, { id, args });
  c.mounts = [...(c.mounts ?? []), { destination: '/hooked', type: 'bind', source: dir, options: ['rbind', 'ro'] }];
  c.hooks = hooks;
  c.annotations = { 'org.example.key': 'value' };
  return c;
}

function thrown(fn: () => unknown): { code?: string; message: string; path?: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string; path?: string };
  }
  throw new Error('expected a throw');
}

describe('hooks: validation (no root needed)', () => {
  it('names the field of a bad hook', () => {
    const base = { id: 'h', rootfs: null, args: ['/bin/true'], namespaces: [{ type: 'mount' as const }] };
    const cases: [unknown, string][] = [
      [{ prestart: [{ path: 'relative' }] }, 'hooks.prestart[0].path'],
      [{ poststop: [{ path: '/x', timeout: 0 }] }, 'hooks.poststop[0].timeout'],
      [{ createRuntime: [{ path: '/x', env: ['NOEQUALS'] }] }, 'hooks.createRuntime[0].env[0]'],
      [{ prestart: 'x' }, 'hooks.prestart'],
      [{ onboot: [] }, 'hooks.onboot'],
    ];
    for (const [hooks, path] of cases) {
      expect(thrown(() => validateContainer({ ...base, hooks } as Container))).toMatchObject({ code: 'ERR_NS_CONFIG', path });
    }
  });

  it('config.json: hooks are converted (createContainer and startContainer too: container-hooks.int.test.ts)', () => {
    const spec = (hooks: object) => ({ ociVersion: '1.2.0', process: { args: ['/bin/true'], cwd: '/' }, root: { path: '/tmp' }, hooks, annotations: { a: 'b' }, linux: { namespaces: [{ type: 'mount' }] } });
    const c = fromOciSpec(spec({ prestart: [{ path: '/bin/true', args: ['true', '1'], timeout: 2 }] }), { bundle: '/tmp', id: 'h' });
    expect(c.hooks).toEqual({ prestart: [{ path: '/bin/true', args: ['true', '1'], timeout: 2 }] });
    expect(c.annotations).toEqual({ a: 'b' });
  });
});

describe.skipIf(!isRoot || !ROOTFS)('hooks, run for real (root)', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-hooks-'));
    log = join(dir, 'log');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const reset = () => rmSync(log, { force: true });

  it('prestart then createRuntime run before the program, with the state on stdin, their argv and only their env', async () => {
    reset();
    const marker = join(dir, 'prestart-ran');
    rmSync(marker, { force: true });
    const hooks: ContainerHooks = {
      // Through /bin/sh: argv[0] of a #! script itself is the interpreter's to set.
      prestart: [{ path: '/bin/sh', args: ['pre-argv0', script('prestart', `/usr/bin/touch ${marker}`), 'one'], env: ['FOO=bar'] }],
      createRuntime: [{ path: script('createRuntime') }],
    };
    const r = await run(container('hooks-order', hooks));
    expect(r.stdout).toBe('saw-hook\n'); // the prestart hook ran before the program
    const e = entries();
    expect(e.map((x) => x.name)).toEqual(['prestart', 'createRuntime']);
    expect(e[0]!.line).toContain(`cmd=pre-argv0 ${join(dir, 'prestart.sh')} one  arg=one FOO=bar HOME= `);
    expect(e[1]!.line).toContain(`cmd=/bin/sh ${join(dir, 'createRuntime.sh')}  arg= FOO= HOME= `);
    expect(e[0]!.state).toEqual({ ociVersion: '1.2.0', id: 'hooks-order', status: 'creating', pid: r.pid, bundle: process.cwd(), annotations: { 'org.example.key': 'value' } });
  });

  it('a failing, a slow and a missing prestart hook each fail the start naming it, and leave nothing', async () => {
    const mounts = hostMounts();
    const cases: [ContainerHooks, RegExp][] = [
      [{ prestart: [{ path: script('fails', 'echo broken >&2; exit 3') }] }, /^hooks\.prestart\[0\] \(.*fails\.sh\): exited with status 3: broken$/],
      [{ createRuntime: [{ path: '/bin/true' }, { path: script('slow', 'sleep 20'), timeout: 1 }] }, /^hooks\.createRuntime\[1\] \(.*slow\.sh\): did not finish within its timeout of 1 s/],
      [{ prestart: [{ path: join(dir, 'missing') }] }, /^hooks\.prestart\[0\] \(.*missing\): cannot be run: ENOENT$/],
    ];
    for (const [hooks, message] of cases) {
      const c = container('hooks-fail', hooks);
      c.resources = { pids: { limit: 32 } };
      const t0 = Date.now();
      expect(thrown(() => exec(c))).toMatchObject({ code: 'ERR_NS_HOOK', message: expect.stringMatching(message) });
      expect(Date.now() - t0).toBeLessThan(10_000); // the timeout held (not the hook's 20 s)
      expect(hostMounts()).toEqual(mounts);
      expect(existsSync('/sys/fs/cgroup/pids/ns/hooks-fail') || existsSync('/sys/fs/cgroup/ns/hooks-fail')).toBe(false);
    }
  });

  it('exec() alone refuses poststart and poststop (it has no start or delete)', () => {
    expect(thrown(() => exec(container('hooks-exec', { poststop: [{ path: '/bin/true' }] })))).toMatchObject({ code: 'ERR_NS_CONFIG', path: 'hooks.poststop' });
  });

  it('runContainer(): poststart once the program runs, poststop once it has exited; a failing poststart is a warning', async () => {
    reset();
    const store = new StateStore(join(dir, 'state'));
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => w.code === 'NS_HOOK_FAILED' && warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const hooks: ContainerHooks = {
        poststart: [{ path: script('poststart') }, { path: script('poststart-fails', 'exit 1') }],
        poststop: [{ path: script('poststop') }],
      };
      const { process: p } = runContainer(container('hooks-run', hooks, ['/bin/sh', '-c', 'read x']), { store, stdio: ['pipe', 'ignore', 'ignore'] });
      expect(entries().map((x) => x.name)).toEqual(['poststart', 'poststart-fails']);
      expect(entries()[0]!.state).toMatchObject({ id: 'hooks-run', status: 'running', pid: p.pid });
      p.stdin!.end('\n');
      await p.wait();
      expect(entries().map((x) => x.name)).toEqual(['poststart', 'poststart-fails', 'poststop']);
      expect(entries()[2]!.state).toMatchObject({ id: 'hooks-run', status: 'stopped' });
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([expect.stringMatching(/^hooks\.poststart\[1\] .*exited with status 1/)]);
      expect(store.list()).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('createContainer(): prestart at create, poststart at start, poststop at delete', async () => {
    reset();
    const store = new StateStore(join(dir, 'state'));
    const hooks: ContainerHooks = { prestart: [{ path: script('prestart') }], poststart: [{ path: script('poststart') }], poststop: [{ path: script('poststop') }] };
    createContainer(container('hooks-create', hooks, ['/bin/sleep', '30']), { store, stdio: ['ignore', 'ignore', 'ignore'] });
    expect(entries().map((x) => x.name)).toEqual(['prestart']);
    await startCreatedContainer(store, 'hooks-create');
    expect(entries().map((x) => x.name)).toEqual(['prestart', 'poststart']);
    await deleteContainer(store, 'hooks-create', { force: true });
    expect(entries().map((x) => x.name)).toEqual(['prestart', 'poststart', 'poststop']);
    expect(entries()[2]!.state).toMatchObject({ id: 'hooks-create', status: 'stopped' });
    expect(store.list()).toEqual([]);
  });

  it('without a bundle, start and delete give their hooks the bundle recorded at create, not their own working directory', async () => {
    // A warm `ns serve` runs start and delete for callers in other directories than create's.
    reset();
    const store = new StateStore(join(dir, 'state'));
    const hooks: ContainerHooks = { prestart: [{ path: script('prestart') }], poststart: [{ path: script('poststart') }], poststop: [{ path: script('poststop') }] };
    const before = process.cwd();
    const elsewhere = mkdtempSync(join(tmpdir(), 'ns-hooks-cwd-'));
    try {
      process.chdir(dir);
      createContainer(container('hooks-cwd', hooks, ['/bin/sleep', '30']), { store, stdio: ['ignore', 'ignore', 'ignore'] });
      process.chdir(elsewhere);
      await startCreatedContainer(store, 'hooks-cwd');
      await deleteContainer(store, 'hooks-cwd', { force: true });
    } finally {
      process.chdir(before);
      rmSync(elsewhere, { recursive: true, force: true });
    }
    expect(entries().map((x) => [x.name, x.state.bundle])).toEqual([
      ['prestart', dir],
      ['poststart', dir],
      ['poststop', dir],
    ]);
  });
});
