/**
 * Issue 22, the runtime's own log and runc's words, driving the built CLI as containerd's runc
 * shim does: `ns --root R --log B/log.json --log-format json create --bundle B --pid-file P ID`
 * with stdin, stdout and stderr a read-only /dev/null; the shim then reads the last
 * `"level":"error"` line of log.json (getLastRuntimeError) and matches the words of `kill`'s
 * output (checkKillError). Checked here:
 * - every error lands in --log as one JSON line {level, msg, time} the shim can decode; a
 *   warning goes there and never to the container's stdio;
 * - a write of ns's own output that fails (read-only or closed fd 2, EPIPE on stdout or
 *   stderr) changes no exit status (Node used to exit 1 on the stream's 'error' event);
 * - the messages clients match on (docs/clients.md) carry runc's words;
 * - bad input on a pod's path (namespace type, namespace path of another type, an LSM label)
 *   fails naming the field, in the log, leaving no state, cgroup, mount or process.
 * Each test has its own state root; containers are removed by id, processes never by name.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostMounts, markedProcesses, nsCgroups, stateEntries } from './leftovers.js';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
/** In every container's environment: one that did start is found by it. */
const MARK = `NS_TEST_MARK=runtime-log-${randomBytes(6).toString('hex')}`;
/** The shim's stdio for create: a /dev/null opened read-only, as 0, 1 and 2. */
const SHIM_STDIO = '</dev/null 1</dev/null 2</dev/null';

type Spec = { process: { args: string[]; env: string[]; [k: string]: unknown }; linux: { namespaces: { type: string; path?: string }[]; [k: string]: unknown }; [k: string]: unknown };

let dir: string;
let state: string;
let valid: Spec;

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** `ns --root STATE ARGS...` through bash with `redirects` (`2>&-`, `1</dev/null` ...). */
function ns(args: string[], redirects = '', before = ''): { status: number | null; stdout: string; stderr: string } {
  const line = [process.execPath, BIN, '--root', state, ...args].map(q).join(' ');
  const r = spawnSync('bash', ['-c', `${before}exec ${line} ${redirects}`], { encoding: 'utf8', timeout: 30_000, cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** ns with --log FILE --log-format json (as the shim calls it). */
function logged(log: string, args: string[], redirects = '', before = '') {
  return ns(['--log', log, '--log-format', 'json', ...args], redirects, before);
}

/** ns with its stdout (fd 1, or fd 2 with `fd` 2) a pipe whose reader has gone: EPIPE on write. */
function brokenPipe(log: string, args: string[], fd: 1 | 2) {
  const fifo = join(dir, `fifo-${randomBytes(4).toString('hex')}`);
  // The reader opens the FIFO and exits; `wait` makes sure it is gone before ns writes.
  const before = `mkfifo ${q(fifo)}; (exec 9<${q(fifo)}) & exec 8>${q(fifo)}; wait; rm -f ${q(fifo)}; `;
  return logged(log, args, `${fd}>&8 8>&-`, before);
}

/** One decoded line of a --log-format json file. */
interface LogLine {
  level: string;
  msg: string;
  time: string;
}

/**
 * Every line of a JSON log, checked as containerd's getLastRuntimeError decodes it
 * (cmd/containerd-shim-runc-v2/process/utils.go: a stream of {Level, Msg, Time time.Time};
 * one line that does not decode loses the error): JSON objects, `time` RFC 3339.
 */
function readLog(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const line = JSON.parse(l) as LogLine;
      expect(Object.keys(line).sort()).toEqual(['level', 'msg', 'time']);
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
      return line;
    });
}

/** The shim's getLastRuntimeError: the msg of the last `error` line. */
const lastError = (file: string) => readLog(file).filter((l) => l.level === 'error').at(-1)?.msg;

/** containerd's checkKillError (cmd/containerd-shim-runc-v2/process/utils.go) on go-runc's error text. */
function shimKillVerdict(output: string): 'already finished' | 'no such container' | 'unknown error after kill' {
  if (output.includes('os: process already finished') || output.includes('container not running') || output.toLowerCase().includes('no such process')) {
    return 'already finished';
  }
  return output.includes('does not exist') ? 'no such container' : 'unknown error after kill';
}

/** A bundle of `valid`, edited. */
function bundle(name: string, edit?: (s: Spec) => void): string {
  const b = join(dir, name);
  mkdirSync(b);
  const spec = structuredClone(valid);
  edit?.(spec);
  writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
  return b;
}

/** Poll `ns state ID` until its status is `status` (the process's exit is asynchronous). */
async function until(id: string, status: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = ns(['state', id]);
    if (r.status === 0 && (JSON.parse(r.stdout) as { status: string }).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${id} never became ${status}`);
}

describe.skipIf(!isRoot || !ROOTFS)("the runtime's log and runc's words, called as containerd's shim calls runc (root)", () => {
  // Only mounts this file's containers could leave: other engineers' tests (containerd's
  // CRI test) mount and unmount on the host meanwhile.
  const ours = () => hostMounts().filter((m) => m.startsWith(dir) || m.startsWith(ROOTFS!));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-runtime-log-'));
    state = join(dir, 'state');
    const r = ns(['spec', '--bundle', dir, '--rootfs', ROOTFS!, '--no-terminal', '--', 'sleep', '1000']);
    expect(r.status).toBe(0);
    valid = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
    valid.process.env.push(MARK);
  });

  afterAll(() => {
    try {
      for (const id of existsSync(state) ? readdirSync(state) : []) ns(['delete', '-f', id]);
      expect(markedProcesses(MARK)).toEqual([]);
      expect(ours()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('create with a read-only /dev/null as stdio: 0, the log holds no error; the container is created', () => {
    const b = bundle('ok');
    const r = logged(join(b, 'log.json'), ['create', '--bundle', b, '--pid-file', join(b, 'pid'), 'ok'], SHIM_STDIO);
    expect(r.status).toBe(0);
    expect(readLog(join(b, 'log.json')).filter((l) => l.level === 'error')).toEqual([]);
    expect(JSON.parse(ns(['state', 'ok']).stdout)).toMatchObject({ id: 'ok', status: 'created' });
    expect(Number(readFileSync(join(b, 'pid'), 'utf8'))).toBeGreaterThan(1);
  });

  it("a create that fails with a read-only stderr: 125 (not Node's 1), the error in the log", () => {
    // process.terminal without --console-socket: refused (as runc), after the log is open.
    const b = bundle('tty', (s) => void (s.process.terminal = true));
    const r = logged(join(b, 'log.json'), ['create', '--bundle', b, '--pid-file', join(b, 'pid'), 'tty'], SHIM_STDIO);
    expect(r.status).toBe(125);
    expect(lastError(join(b, 'log.json'))).toMatch(/^cannot allocate tty if ns will detach without setting console socket/);
    expect(stateEntries(state)).not.toContain('tty');
  });

  it("a warning goes to the log only: the container's stdout and stderr get nothing of ns's", async () => {
    const b = bundle('warn', (s) => {
      (s.process.capabilities as { bounding: string[] }).bounding.push('CAP_NOT_A_CAPABILITY');
      s.process.args = ['sh', '-c', 'echo out; echo err >&2'];
    });
    const log = join(b, 'log.json');
    const r = logged(log, ['create', '--bundle', b, 'warn'], `</dev/null >${q(join(b, 'out'))} 2>${q(join(b, 'err'))}`);
    expect({ status: r.status, log: readFileSync(log, 'utf8'), err: readFileSync(join(b, 'err'), 'utf8') }).toMatchObject({ status: 0 });
    const started = ns(['start', 'warn']);
    expect({ status: started.status, stderr: started.stderr }).toEqual({ status: 0, stderr: '' });
    const lines = readLog(log);
    expect(lines.map((l) => l.level)).toEqual(['warning']);
    expect(lines[0]!.msg).toMatch(/CAP_NOT_A_CAPABILITY/);
    await until('warn', 'stopped');
    expect(readFileSync(join(b, 'out'), 'utf8')).toBe('out\n');
    expect(readFileSync(join(b, 'err'), 'utf8')).toBe('err\n');
  });

  it('a closed or read-only fd 2, or EPIPE on stderr: the status stays 125 and the error is in the log', () => {
    const log = join(dir, 'fd2.json');
    for (const redirects of ['2>&-', '2</dev/null']) {
      expect(logged(log, ['state', 'nosuch'], redirects).status).toBe(125);
      // Without --log the message has nowhere to go, but the status still stands.
      expect(ns(['state', 'nosuch'], redirects).status).toBe(125);
    }
    expect(brokenPipe(log, ['state', 'nosuch'], 2).status).toBe(125);
    expect(readLog(log).map((l) => [l.level, l.msg])).toEqual(Array(3).fill(['error', 'container nosuch does not exist']));
  });

  it('EPIPE or a read-only fd on stdout of state and list: 0, as when the output was read', () => {
    const log = join(dir, 'stdout.json');
    expect(ns(['state', 'ok']).status).toBe(0);
    for (const args of [['state', 'ok'], ['list'], ['list', '--format', 'json']]) {
      expect(brokenPipe(log, args, 1).status).toBe(0);
      expect(logged(log, args, '1</dev/null').status).toBe(0);
      expect(logged(log, args, '1>&-').status).toBe(0);
    }
    expect(readLog(log)).toEqual([]);
  });

  it("runc's words for state, delete, start and create of unknown, duplicate and running containers", () => {
    const log = join(dir, 'words.json');
    const cases: [string[], RegExp][] = [
      [['state', 'nosuch'], /does not exist/],
      [['delete', 'nosuch'], /does not exist/],
      [['start', 'nosuch'], /does not exist/],
      [['kill', 'nosuch', '9'], /does not exist/],
      [['create', '--bundle', bundle('dup'), 'ok'], /^container with given ID already exists: ok /],
    ];
    for (const [args, words] of cases) {
      const r = logged(log, args, '</dev/null');
      expect({ args, status: r.status }).toEqual({ args, status: 125 });
      // runc's fatal(): on stderr too when the log is a file (go-runc's kill reads that).
      expect(r.stderr).toMatch(/^ns: [^\n]+\n$/);
      expect(r.stderr.slice(4)).toMatch(words);
      expect(lastError(log)).toMatch(words);
    }
    // containerd's shim takes a kill of an unknown container as "no such container".
    expect(shimKillVerdict(ns(['kill', 'nosuch', '9']).stderr)).toBe('no such container');
    // runc delete --force of an unknown id: 0.
    expect(ns(['delete', '--force', 'nosuch']).status).toBe(0);
    // A folder without a state file (a create killed half-way) goes with delete, --force or
    // not (containerd's shim deletes a failed create without it), as runc's delete.go.
    mkdirSync(join(state, 'half'));
    const half = ns(['delete', 'half']);
    expect({ status: half.status, stderr: half.stderr }).toEqual({ status: 125, stderr: 'ns: container half does not exist\n' });
    expect(existsSync(join(state, 'half'))).toBe(false);
  });

  it("start twice, then kill, pause and exec of an exited container: runc's words; the shim takes the kill as already finished", async () => {
    const b = bundle('once', (s) => void (s.process.args = ['sleep', '1000']));
    const log = join(b, 'log.json');
    expect(logged(log, ['create', '--bundle', b, 'once'], SHIM_STDIO).status).toBe(0);
    expect(logged(log, ['start', 'once']).status).toBe(0);
    const twice = logged(log, ['start', 'once']);
    expect({ status: twice.status, stderr: twice.stderr }).toEqual({ status: 125, stderr: 'ns: cannot start an already running container: once\n' });
    expect(lastError(log)).toBe('cannot start an already running container: once');
    const running = logged(log, ['delete', 'once']);
    expect(running.status).toBe(125);
    expect(lastError(log)).toMatch(/^cannot delete container once that is not stopped: running/);

    expect(logged(log, ['kill', 'once', '9']).status).toBe(0);
    await until('once', 'stopped');
    for (const args of [['kill', 'once', '9'], ['pause', 'once']]) {
      const r = logged(log, args, '</dev/null');
      expect({ args, status: r.status }).toEqual({ args, status: 125 });
      expect(r.stderr).toBe('ns: container not running: once\n');
      expect(lastError(log)).toBe('container not running: once');
    }
    const exec = logged(log, ['exec', 'once', 'true'], '</dev/null');
    expect({ status: exec.status, stderr: exec.stderr }).toEqual({ status: 125, stderr: 'ns: cannot exec in a stopped container: once\n' });
    expect(shimKillVerdict(ns(['kill', 'once', '9']).stderr)).toBe('already finished');
    // kill --all of a stopped container: 0 (runc's kill.go ignores ErrNotRunning with --all).
    expect(ns(['kill', '--all', 'once', '9']).status).toBe(0);
    const again = logged(log, ['start', 'once']);
    expect(again.stderr).toBe('ns: cannot start a container that has stopped: once\n');
    expect(ns(['delete', 'once']).status).toBe(0);
  });

  it('exec into a paused container: refused in runc\'s words (it hung, frozen), at once; with --ignore-paused it waits for resume', async () => {
    const b = bundle('frozen', (s) => void (s.linux.resources = { ...(s.linux.resources as object), pids: { limit: 100 } }));
    const log = join(b, 'log.json');
    expect(logged(log, ['create', '--bundle', b, 'frozen'], SHIM_STDIO).status).toBe(0);
    expect(ns(['start', 'frozen']).status).toBe(0);
    expect(ns(['pause', 'frozen']).status).toBe(0);
    const r = logged(log, ['exec', 'frozen', 'true'], '</dev/null');
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 125, stderr: 'ns: cannot exec in a paused container (use --ignore-paused to override): frozen\n' });
    expect(lastError(log)).toBe('cannot exec in a paused container (use --ignore-paused to override): frozen');
    // --ignore-paused: not refused; the process waits, frozen, until the container is resumed.
    const late = spawn(process.execPath, [BIN, '--root', state, 'exec', '--ignore-paused', 'frozen', 'echo', 'ran'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    late.stdout.on('data', (d: Buffer) => (output += d.toString()));
    late.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => late.once('close', (code) => resolve(code)));
    try {
      expect(ns(['resume', 'frozen']).status).toBe(0);
      expect(await exited).toBe(0);
      expect(output).toBe('ran\n');
    } finally {
      if (late.exitCode === null) late.kill('SIGKILL');
    }
    expect(ns(['delete', '-f', 'frozen']).status).toBe(0);
  });

  it("an rlimit the host refuses: the field and runc's errno words (podman maps `operation not permitted` to 126)", () => {
    // Above this host's hard RLIMIT_NOFILE (ns, like runc, cannot raise it without CAP_SYS_RESOURCE).
    const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
    const b = bundle('rlimit', (s) => void (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: hard + 1, hard: hard + 1 }]));
    const log = join(b, 'log.json');
    const r = logged(log, ['create', '--bundle', b, 'rlimit'], SHIM_STDIO);
    if (r.status === 0) {
      ns(['delete', '-f', 'rlimit']);
      return; // a host where ns may raise it (CAP_SYS_RESOURCE): nothing to refuse
    }
    expect(r.status).toBe(125);
    expect(lastError(log)).toMatch(/^setrlimit RLIMIT_NOFILE \(rlimit type 7\) \d+\/\d+ \(process\.rlimits\[0\]\): EPERM \(operation not permitted\)$/);
    expect(stateEntries(state)).not.toContain('rlimit');
  });
});
