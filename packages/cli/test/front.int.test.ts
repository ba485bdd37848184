/**
 * The native front (packages/syscalls/front/, issue 17) against real containers, as root:
 * `state` prints byte for byte what Node's `ns state` prints for every status (created,
 * running, paused, stopped), `start`, `kill` and `delete` do the work themselves, and errors,
 * unknown ids and a missing or foreign-architecture front reach Node with the same output
 * and exit status. Three ways to call ns here:
 *   - NODE:     `node dist/ns.cjs ...`, the Node path as before;
 *   - LAUNCHER: `dist/ns ...`, the installed `ns` (a /bin/sh launcher, then the front, then
 *               Node for what the front leaves);
 *   - FRONT:    `ns_front FAKE ...`, the front with a stand-in for Node that prints `NODE`
 *               and its argv: proves the front did the call itself.
 * Cleanup kills only pids recorded in the test's own state folder, by pid.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime, type ContainerState } from '@ns/namespaces';
import { start, type Result } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'packages/cli/dist/ns.cjs');
const LAUNCHER_BIN = join(REPO, 'packages/cli/dist/ns');
const FRONT = join(REPO, 'packages/syscalls/build/Release/ns_front');
const ROOTFS = process.env.NS_TEST_ROOTFS;
const isRoot = process.getuid?.() === 0;

const work = mkdtempSync(join(tmpdir(), 'ns-front-int-'));
const FAKE = join(work, 'fake-node.cjs');
let root: string;
let n = 0;

const NODE = (args: string[]): Promise<Result> => start(process.execPath, [BIN, '--root', root, ...args]).done;
const LAUNCHER = (args: string[], bin = LAUNCHER_BIN): Promise<Result> => start(bin, ['--root', root, ...args]).done;
const FRONT_ONLY = (args: string[]): Promise<Result> => start(FRONT, [FAKE, '--root', root, ...args]).done;

const readState = (id: string): ContainerState => JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as ContainerState;
const alive = (s: Pick<ContainerState, 'pid' | 'startTime'>) => s.pid > 0 && processStartTime(s.pid) === s.startTime;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A bundle (runc spec layout, read-only busybox root, a cgroup of its own so it can pause) running `args`. */
function bundle(args: string[]): string {
  const dir = join(work, `bundle-${n++}`);
  mkdirSync(dir);
  const r = spawnSync(process.execPath, [BIN, 'spec', '--bundle', dir, '--rootfs', ROOTFS!, '--no-terminal', '--', ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const file = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(file, 'utf8'));
  c.root.readonly = true;
  c.linux.cgroupsPath = `/ns-front-test-${process.pid}-${n}`;
  writeFileSync(file, JSON.stringify(c));
  return dir;
}

/** `ns create` (through Node) of a container running `args`; its recorded state. */
async function create(id: string, args: string[]): Promise<ContainerState> {
  const r = await NODE(['create', '--bundle', bundle(args), id]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return readState(id);
}

/** The result as the three ways compare it. */
const same = (r: Result) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr });

/** `state ID` through the front itself, through the launcher and through Node: all equal. */
async function stateEverywhere(id: string): Promise<string> {
  const node = same(await NODE(['state', id]));
  expect(same(await FRONT_ONLY(['state', id]))).toEqual(node);
  expect(same(await LAUNCHER(['state', id]))).toEqual(node);
  return (JSON.parse(node.stdout) as { status: string }).status;
}

beforeAll(() => {
  writeFileSync(FAKE, "process.stdout.write('NODE ' + JSON.stringify(process.argv.slice(2)));\nprocess.exitCode = 42;\n");
});
beforeEach(() => {
  root = mkdtempSync(join(work, 'root-'));
});
afterEach(async () => {
  for (const id of existsSync(root) ? readdirSync(root) : []) {
    try {
      const s = readState(id);
      if (alive(s)) process.kill(s.pid, 'SIGKILL');
      await until(`${id} to stop`, () => !alive(s));
    } catch {
      // no state file
    }
    await NODE(['delete', '-f', id]);
  }
  rmSync(root, { recursive: true, force: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!isRoot || !ROOTFS)('the native front with real containers (as root)', () => {
  beforeAll(() => {
    for (const f of [BIN, LAUNCHER_BIN, FRONT]) if (!existsSync(f)) throw new Error(`${f} is missing: build @ns/syscalls and @ns/cli first`);
  });

  it('state: byte-identical to Node for created, running, paused and stopped, done by the front itself', async () => {
    await create('c1', ['/bin/sleep', '60']);
    expect(await stateEverywhere('c1')).toBe('created');
    expect(same(await FRONT_ONLY(['start', 'c1']))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await stateEverywhere('c1')).toBe('running');
    expect((await NODE(['pause', 'c1'])).code).toBe(0);
    expect(await stateEverywhere('c1')).toBe('paused');
    expect((await NODE(['resume', 'c1'])).code).toBe(0);
    expect(await stateEverywhere('c1')).toBe('running');
    const s = readState('c1');
    expect(same(await FRONT_ONLY(['kill', 'c1', 'KILL']))).toEqual({ code: 0, stdout: '', stderr: '' });
    await until('c1 to stop', () => !alive(s));
    expect(await stateEverywhere('c1')).toBe('stopped');
    // The front's delete removes the freezer cgroup the pause made (v1: not there at start,
    // so not in the record written then: regression).
    const cgroups = JSON.parse(readFileSync(join(root, 'c1', 'state.json'), 'utf8')).config.cgroupsPath as string;
    expect(same(await FRONT_ONLY(['delete', 'c1']))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readdirSync('/sys/fs/cgroup').filter((h) => existsSync(join('/sys/fs/cgroup', h, cgroups)))).toEqual([]);
  });

  it('kill KILL of a paused container: the front leaves it to Node, which thaws it after (v1), and it stops', async () => {
    await create('c2', ['/bin/sleep', '60']);
    expect((await NODE(['start', 'c2'])).code).toBe(0);
    expect((await NODE(['pause', 'c2'])).code).toBe(0);
    const s = readState('c2');
    expect((await FRONT_ONLY(['kill', 'c2', 'KILL'])).stdout).toBe(`NODE ${JSON.stringify(['--root', root, 'kill', 'c2', 'KILL'])}`);
    expect(alive(s)).toBe(true); // the front sent nothing
    expect((await NODE(['kill', 'c2', 'KILL'])).code).toBe(0);
    await until('c2 to stop', () => !alive(s));
    expect((await NODE(['delete', 'c2'])).code).toBe(0);
  });

  it('an unknown id: the front leaves it to Node; the launcher gives Node\'s message and status', async () => {
    expect((await FRONT_ONLY(['state', 'nosuch'])).stdout).toBe(`NODE ${JSON.stringify(['--root', root, 'state', 'nosuch'])}`);
    const node = same(await NODE(['state', 'nosuch']));
    expect(node.code).toBe(125);
    for (const verb of [['state'], ['kill'], ['start'], ['delete']]) {
      expect(same(await LAUNCHER([...verb, 'nosuch'])), verb[0]).toEqual(same(await NODE([...verb, 'nosuch'])));
    }
  });

  it('the client cycle through the launcher: create (Node), start, state, delete (the front): the program ran, nothing is left', async () => {
    const s = await create('c2', ['/bin/true']);
    const cgroups = JSON.parse(readFileSync(join(root, 'c2', 'state.json'), 'utf8')).config.cgroupsPath as string;
    expect(same(await FRONT_ONLY(['start', 'c2']))).toEqual({ code: 0, stdout: '', stderr: '' });
    await until('c2 to exit', () => !alive(s));
    expect(JSON.parse((await LAUNCHER(['state', 'c2'])).stdout).status).toBe('stopped');
    expect(same(await FRONT_ONLY(['delete', 'c2']))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readdirSync(root)).toEqual([]);
    const left = readdirSync('/sys/fs/cgroup').filter((h) => existsSync(join('/sys/fs/cgroup', h, cgroups)));
    expect(left).toEqual([]);
  });

  it('errors go to Node with the same message and exit status: start of a running container, delete without --force, kill of a stopped one', async () => {
    const s = await create('c3', ['/bin/sleep', '60']);
    expect((await LAUNCHER(['start', 'c3'])).code).toBe(0);
    for (const args of [['start', 'c3'], ['delete', 'c3']]) {
      const node = same(await NODE(args));
      expect(node.code, args.join(' ')).toBe(125);
      expect(same(await LAUNCHER(args)), args.join(' ')).toEqual(node);
      expect((await FRONT_ONLY(args)).stdout, args.join(' ')).toMatch(/^NODE /);
    }
    expect((await LAUNCHER(['kill', 'c3', '9'])).code).toBe(0);
    await until('c3 to stop', () => !alive(s));
    const node = same(await NODE(['kill', 'c3']));
    expect(node.stderr).toMatch(/container not running/);
    expect(same(await LAUNCHER(['kill', 'c3']))).toEqual(node);
    // delete --force of a running one is Node's (it kills); the launcher's result equals it.
    await create('c4', ['/bin/sleep', '60']);
    expect((await FRONT_ONLY(['delete', '--force', 'c4'])).stdout).toMatch(/^NODE /);
    expect(same(await LAUNCHER(['delete', '--force', 'c4']))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(existsSync(join(root, 'c4'))).toBe(false);
  });

  it('without a front of this machine\'s architecture the launcher runs Node, with the same output', async () => {
    await create('c5', ['/bin/sleep', '60']);
    const want = same(await NODE(['state', 'c5']));
    // A copy of the CLI with no @ns/syscalls beside it, then one with only an arm64 "front".
    const copy = join(work, 'copy');
    mkdirSync(join(copy, 'dist'), { recursive: true });
    for (const f of ['ns', 'ns.cjs', 'ns-bundle.cjs', 'compile-cache.cjs']) cpSync(join(REPO, 'packages/cli/dist', f), join(copy, 'dist', f));
    cpSync(join(REPO, 'packages/cli/package.json'), join(copy, 'package.json'));
    expect(same(await LAUNCHER(['state', 'c5'], join(copy, 'dist/ns')))).toEqual(want);
    const foreign = join(copy, 'node_modules/@ns/syscalls/prebuilds/linux-arm64');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'ns-front'), '#!/bin/sh\necho WRONG FRONT\n', { mode: 0o755 });
    expect(same(await LAUNCHER(['state', 'c5'], join(copy, 'dist/ns')))).toEqual(want);
  });

  it('with `ns serve` running, every verb the server runs is handed to it, not only the record verbs (list, features, --version; regression)', async () => {
    const server = start(process.execPath, [BIN, '--root', root, 'serve']);
    try {
      await server.waitFor('listening on');
      // FRONT_ONLY's Node is a fake that prints NODE [args]: a served call never reaches it.
      for (const args of [['list'], ['--version'], ['features']]) {
        const served = await FRONT_ONLY(args);
        expect(served.stdout, args.join(' ')).not.toMatch(/^NODE /);
        expect(same(served), args.join(' ')).toEqual(same(await NODE(args)));
      }
      // --root after the verb is the server's too; run is never served, create is (the
      // front clones the container's process for the server).
      expect((await start(FRONT, [FAKE, 'list', '--root', root]).done).stdout).not.toMatch(/^NODE /);
      expect((await FRONT_ONLY(['run', '--rootfs', ROOTFS!, 'never', '--', 'true'])).stdout).toMatch(/^NODE /);
      const created = await FRONT_ONLY(['create', '--rootfs', ROOTFS!, 'served', '--', 'true']);
      expect(created).toMatchObject({ code: 0, stdout: '' });
      expect(JSON.parse((await NODE(['state', 'served'])).stdout)).toMatchObject({ id: 'served', status: 'created' });
      expect((await NODE(['delete', '--force', 'served'])).code).toBe(0);
    } finally {
      process.kill(server.pid, 'SIGTERM');
      await server.done;
    }
  });
});
