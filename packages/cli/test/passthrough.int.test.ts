/**
 * What a client of a runc-like runtime sees, for real, as root on the busybox rootfs:
 *
 * - `ns create` / `ns run -d` hand the container the stdio they were started with (runc's
 *   "detached pass-through"): spawned here with pipes, as containerd's shim and conmon do, the
 *   container's output is read from them after `ns` has exited, and the end of stdin reaches
 *   it as end of file; `--stdout` / `--stderr` override one stream;
 * - ns's own errors and warnings go to the global `--log` (JSON for containerd), never into
 *   the container's streams;
 * - `ns exec -u USER` / `ns run -u USER`: a non-root process may reopen its stdout and
 *   stderr pipes (runc's fixStdioPermissions); the host's /dev/null keeps its owner;
 * - `ns exec ID CMD ARGS...` without `--`.
 *
 * Each test has its own `--root`; containers are deleted with `ns delete -f` (and processes
 * this file spawned killed by pid) even when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { native } from '@ns/syscalls';
import { start, type Result } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

let dir: string;
let root: string;
let children: ChildProcess[] = [];

/** `ns --root ROOT ARGS...`, collected (run -d / create: see start()). */
const ns = (args: string[], options: { input?: string } = {}): Promise<Result> => start(process.execPath, [BIN, '--root', root, ...args], options).done;

/** An `ns` started the way a shim starts a runtime: stdin, stdout and stderr all pipes. */
interface Piped {
  /** ns's own exit (it exits long before the container lets go of the pipes). */
  exited: Promise<number | null>;
  /** Everything read from the stdout / stderr pipes so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once both pipes are at end of file: every holder (ns and the container) closed them. */
  closed: Promise<void>;
}

function piped(args: string[], input: string): Piped {
  const child = spawn(process.execPath, [BIN, '--root', root, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin!.end(input);
  const ended = (s: NodeJS.ReadableStream) => new Promise<void>((resolve) => s.once('end', () => resolve()));
  return {
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    stdout: () => out,
    stderr: () => err,
    closed: Promise.all([ended(child.stdout!), ended(child.stderr!)]).then(() => undefined),
  };
}

/**
 * `ns ARGS` with real pipes (pipe(2)) as stdout and stderr, as containerd's shim and conmon
 * give them (Node's own 'pipe' is a socketpair, which no process can reopen through
 * /proc/self/fd), stdin /dev/null; resolves once ns has exited and both pipes are at EOF.
 */
async function withPipes(args: string[]): Promise<Result> {
  const addon = native();
  const [outR, outW] = addon.pipe();
  const [errR, errW] = addon.pipe();
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [BIN, '--root', root, ...args], { stdio: ['ignore', outW, errW] });
  } finally {
    closeSync(outW);
    closeSync(errW);
  }
  children.push(child);
  const read = (fd: number) =>
    new Promise<string>((resolve, reject) => {
      let text = '';
      createReadStream('', { fd, encoding: 'utf8' })
        .on('data', (d) => (text += d as string))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
  const [stdout, stderr, exit] = await within(
    `ns ${args.join(' ')}`,
    Promise.all([read(outR), read(errR), new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])))]),
  );
  return { code: exit[0], signal: exit[1], stdout, stderr };
}

/** Resolves with `promise`, or fails after `ms` naming `what`. */
function within<T>(what: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ns-passthrough-'));
  root = join(dir, 'state');
  children = [];
});

afterEach(async () => {
  for (const id of existsSync(root) ? readdirSync(root).filter((e) => !e.endsWith('.lock')) : []) await ns(['delete', '-f', id]);
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!isRoot || !ROOTFS)('stdio pass-through of create and run -d (runc docs/terminals.md)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build @ns/cli first (pnpm --filter @ns/cli build)`);
  });

  it("create: the container writes to create's stdout and stderr pipes after ns exited, and reads its stdin to EOF", async () => {
    const script = 'cat; echo stdin-eof; echo to-err >&2';
    const created = piped(['create', '--rootfs', ROOTFS!, 'p1', '--', 'sh', '-c', script], 'hello\nworld\n');
    expect(await within('ns create to exit', created.exited)).toBe(0);
    // Created, not started: nothing written yet, and ns itself printed nothing.
    await new Promise((r) => setTimeout(r, 200));
    expect(created.stdout()).toBe('');
    expect(created.stderr()).toBe('');
    const started = await ns(['start', 'p1']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    // The pipes reach end of file only once the container, their last holder, has exited.
    await within('the container to close the pipes', created.closed);
    expect(created.stdout()).toBe('hello\nworld\nstdin-eof\n');
    expect(created.stderr()).toBe('to-err\n');
  });

  it('run -d: the same; --stdout FILE takes stdout only, stderr stays passed through', async () => {
    const run = piped(['run', '-d', '--rootfs', ROOTFS!, 'p2', '--', 'sh', '-c', 'read line; echo "got $line"; echo oops >&2'], 'ping\n');
    expect(await within('ns run -d to exit', run.exited)).toBe(0);
    await within('the container to close the pipes', run.closed);
    expect(run.stdout()).toBe('got ping\n');
    expect(run.stderr()).toBe('oops\n');

    const file = join(dir, 'out.txt');
    const split = piped(['run', '-d', '--rootfs', ROOTFS!, '--stdout', file, 'p3', '--', 'sh', '-c', 'echo to-file; echo to-pipe >&2'], '');
    expect(await within('ns run -d to exit', split.exited)).toBe(0);
    await within('the container to close the pipes', split.closed);
    expect(readFileSync(file, 'utf8')).toBe('to-file\n');
    expect(split.stdout()).toBe('');
    expect(split.stderr()).toBe('to-pipe\n');
  });

  it("ns's own warnings go to --log, not into the container's streams; a failed create logs its error as JSON and leaves nothing", async () => {
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    expect((await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal'])).code).toBe(0);
    const log = join(dir, 'log.json');
    // --rootfs beside --bundle: a warning of ns's own.
    const created = piped(['--log', log, '--log-format', 'json', 'create', '--bundle', bundle, '--rootfs', ROOTFS!, 'p4', '--', 'sh', '-c', 'echo only-this'], '');
    expect(await within('ns create to exit', created.exited)).toBe(0);
    expect((await ns(['start', 'p4'])).code).toBe(0);
    await within('the container to close the pipes', created.closed);
    expect(created.stdout()).toBe('only-this\n');
    expect(created.stderr()).toBe('');
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toEqual([expect.objectContaining({ level: 'warning', msg: expect.stringMatching(/^--rootfs is ignored with --bundle/) })]);

    // A config that cannot run: the error is the log's last line (what containerd's shim reports).
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { root: { path: string } };
    config.root.path = join(dir, 'no-such-rootfs');
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    const failed = piped(['--log', log, '--log-format', 'json', 'create', '--bundle', bundle, 'p5'], '');
    expect(await within('ns create to fail', failed.exited)).toBe(125);
    await within('the pipes to close', failed.closed);
    expect(failed.stdout()).toBe('');
    expect(failed.stderr()).toMatch(/^ns: [^\n]*no-such-rootfs[^\n]*\n$/);
    const last = JSON.parse(readFileSync(log, 'utf8').trimEnd().split('\n').at(-1)!) as Record<string, string>;
    expect(last.level).toBe('error');
    expect(`ns: ${last.msg}\n`).toBe(failed.stderr());
    expect(readdirSync(root).filter((e) => !e.endsWith('.lock'))).toEqual(['p4']);
  });
});

describe.skipIf(!isRoot || !ROOTFS)('a non-root user can reopen its stdio pipes (runc fixStdioPermissions)', () => {
  const REOPEN = 'echo out >/proc/self/fd/1 && echo err >/proc/self/fd/2 && id -u';

  it('exec -u: stdout and stderr pipes are reopened by uid 1000; /dev/null keeps its owner', async () => {
    const before = statSync('/dev/null');
    const run = await ns(['run', '-d', '--rootfs', ROOTFS!, 'u1', '--', 'sleep', '1000']);
    expect(run.code).toBe(0);
    const r = await withPipes(['exec', '-u', '1000', 'u1', 'sh', '-c', REOPEN]);
    expect(r.stderr).toBe('err\n');
    expect(r.stdout).toBe('out\n1000\n');
    expect(r.code).toBe(0);
    // stdin of that exec was /dev/null: not handed to the user.
    const after = statSync('/dev/null');
    expect([after.uid, after.gid, after.mode]).toEqual([before.uid, before.gid, before.mode]);
    // A named user and group too (alice is 1000:1000 in the busybox rootfs).
    const alice = await withPipes(['exec', '--user', 'alice', 'u1', 'sh', '-c', 'echo hi >/dev/stdout']);
    expect([alice.code, alice.stdout, alice.stderr]).toEqual([0, 'hi\n', '']);
  });

  it('run -u in the foreground: the same', async () => {
    const r = await withPipes(['run', '-u', '1000', '--rootfs', ROOTFS!, 'u2', '--', 'sh', '-c', REOPEN]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'out\n1000\n', 'err\n']);
  });
});

describe.skipIf(!isRoot || !ROOTFS)('ns exec ID CMD ARGS... without --, as runc exec', () => {
  it('takes every word after the ID as the command, options before the ID as its own; -- still works', async () => {
    expect((await ns(['run', '-d', '--rootfs', ROOTFS!, 'x1', '--', 'sleep', '1000'])).code).toBe(0);
    const plain = await ns(['exec', 'x1', 'sh', '-c', 'echo "$0:$1"', 'a', 'b']);
    expect([plain.code, plain.stdout, plain.stderr]).toEqual([0, 'a:b\n', '']);
    // -u after the ID is the command's (id -u), -u before it is exec's.
    expect((await ns(['exec', '-u', '1000', 'x1', 'id', '-u'])).stdout).toBe('1000\n');
    // A -- after the command's first word is the command's own.
    expect((await ns(['exec', 'x1', 'echo', '--', '-n', 'x'])).stdout).toBe('-- -n x\n');
    expect((await ns(['exec', 'x1', '--', 'echo', 'dashes'])).stdout).toBe('dashes\n');
    const none = await ns(['exec', 'x1']);
    expect(none.code).toBe(125);
    expect(none.stderr).toBe('ns: no command given: ns exec ID CMD ARGS... (or ns exec ID -- CMD ARGS...)\n');
  });
});
