// The native front (front/main.c) on records made by hand, without containers or root: what
// it carries out (state, kill, start, delete), and that everything else reaches "Node" (a
// stand-in script printing the argv it got) with the argv unchanged. The records TypeScript
// writes, and real containers, are in @ns/namespaces' front-record.test.ts and @ns/cli's
// front.int.test.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const front = fileURLToPath(new URL('../build/Release/ns_front', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ns-front-'));
const fakeCli = join(work, 'fake-ns.cjs');
const root = join(work, 'root');
const children: ChildProcess[] = [];

beforeAll(() => {
  // "Node": prints the arguments it was given, exits 42.
  writeFileSync(fakeCli, "process.stdout.write('NODE ' + JSON.stringify(process.argv.slice(2)));\nprocess.exitCode = 42;\n");
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Run the front as the `ns` launcher does: `ns-front CLI ARGS...`. */
function ns(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(front, [fakeCli, ...args], { encoding: 'utf8', env, cwd: work });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, node: r.stdout.startsWith('NODE ') ? (JSON.parse(r.stdout.slice(5)) as string[]) : null };
}

function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** A live process to stand for a container's init. */
function sleeper(): ChildProcess {
  const c = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** A pid that has exited and been reaped. */
function deadPid(): number {
  return spawnSync('/bin/true').pid;
}

interface Rec {
  pid: number;
  startTime?: string;
  lines?: string[];
  texts?: Record<string, string>;
  files?: { verb: string; name: string; text: string }[];
  header?: string;
  noEnd?: boolean;
}

/** Write `<root>/<id>/state.front` in the format of front/record.h. */
function record(id: string, r: Rec): string {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  let s = `${r.header ?? 'ns-front-record 1'}\npid ${r.pid}\nstart-time ${r.startTime ?? startTime(r.pid)}\n`;
  for (const l of r.lines ?? []) s += `${l}\n`;
  s += 'signal SIGTERM 15\nsignal SIGKILL 9\nsignal SIGUSR1 10\n';
  for (const [k, t] of Object.entries(r.texts ?? { alive: 'ALIVE\n', stopped: 'STOPPED\n' })) s += `text ${k} ${Buffer.byteLength(t)}\n${t}\n`;
  for (const f of r.files ?? []) s += `file ${f.verb} ${f.name} ${Buffer.byteLength(f.text)}\n${f.text}\n`;
  if (!r.noEnd) s += 'end\n';
  writeFileSync(join(dir, 'state.front'), s);
  return dir;
}

const R = () => ['--root', root];

describe('ns-front state', () => {
  it('prints the text for a live process, a frozen one and a gone one', () => {
    const c = sleeper();
    const probe = join(work, 'freezer.state');
    writeFileSync(probe, 'THAWED\n');
    record('a', { pid: c.pid!, lines: [`frozen-if ${probe}\tFROZEN`], texts: { alive: 'ALIVE\n', frozen: 'FROZEN\n', stopped: 'STOPPED\n' } });
    expect(ns([...R(), 'state', 'a'])).toMatchObject({ status: 0, stdout: 'ALIVE\n' });
    writeFileSync(probe, 'FROZEN\n');
    expect(ns([...R(), 'state', 'a'])).toMatchObject({ status: 0, stdout: 'FROZEN\n' });
    record('b', { pid: deadPid(), startTime: '1' });
    expect(ns([...R(), 'state', 'b'])).toMatchObject({ status: 0, stdout: 'STOPPED\n' });
  });

  it('takes a reused pid (another start time) as stopped', () => {
    const c = sleeper();
    record('a', { pid: c.pid!, startTime: String(Number(startTime(c.pid!)) + 1) });
    expect(ns([...R(), 'state', 'a']).stdout).toBe('STOPPED\n');
  });

  it("parses runc's global options as the CLI does, and opens --log as Node would (created 0644)", () => {
    const c = sleeper();
    record('a', { pid: c.pid! });
    const log = join(work, 'log.json');
    rmSync(log, { force: true });
    for (const args of [
      ['--root', root, '--log', log, '--log-format', 'json', '--systemd-cgroup', '--rootless', 'true', 'state', 'a'],
      [`--root=${root}`, '--log-format=text', '--rootless=auto', 'state', 'a'],
      ['--root', '/nonexistent', 'state', 'a', '--root', root],
    ]) {
      expect(ns(args), args.join(' ')).toMatchObject({ status: 0, stdout: 'ALIVE\n' });
    }
    expect(statSync(log).mode & 0o777).toBe(0o644);
  });

  it('leaves to Node, argv unchanged, whatever it does not parse exactly or has no record for', () => {
    const c = sleeper();
    record('a', { pid: c.pid! });
    const cases = [
      ['state', 'nosuch'],
      ['list'],
      ['--debug', 'state', 'a'],
      ['-h'],
      ['--version'],
      ['state', 'a', '--'],
      ['state', 'a', 'b'],
      ['state'],
      ['state', '-h', 'a'],
      ['state', '../a'],
      ['--log-format', 'xml', 'state', 'a'],
      ['--rootless', 'maybe', 'state', 'a'],
      ['--root', `${root}/../root`, 'state', 'a'],
      ['--root', '', 'state', 'a'],
      ['--log', '', 'state', 'a'],
      ['--root'],
      ['kill', '-a', 'a'],
      ['kill', 'a', 'NOSUCH'],
      ['kill', 'a', '65'],
      ['kill', 'a', 'térm'],
      ['exec', 'a', 'true'],
    ];
    for (const args of cases) {
      const full = args[0] === '--root' || args[0] === '-h' || args[0] === '--version' ? args : [...R(), ...args];
      const r = ns(full);
      expect(r.node, full.join(' ')).toEqual(full);
      expect(r.status).toBe(42);
    }
    expect(c.exitCode).toBeNull(); // no kill reached it
  });

  it('leaves to Node a record it does not understand: another version, cut short', () => {
    const c = sleeper();
    record('v2', { pid: c.pid!, header: 'ns-front-record 2' });
    record('cut', { pid: c.pid!, noEnd: true });
    record('unknown', { pid: c.pid!, lines: ['hooks prestart'] });
    for (const id of ['v2', 'cut', 'unknown']) expect(ns([...R(), 'state', id]).node, id).toEqual([...R(), 'state', id]);
  });
});

describe('ns-front kill', () => {
  const exited = (c: ChildProcess) => new Promise<NodeJS.Signals | null>((resolve) => c.once('exit', (_code, sig) => resolve(sig)));

  it('signals the recorded process: SIGTERM by default, by number, by name in any case with or without SIG', async () => {
    for (const [args, want] of [
      [[], 'SIGTERM'],
      [['9'], 'SIGKILL'],
      [['kill'], 'SIGKILL'],
      [['SigUsr1'], 'SIGUSR1'],
      [['USR1'], 'SIGUSR1'],
    ] as const) {
      const c = sleeper();
      record('a', { pid: c.pid! });
      const gone = exited(c);
      expect(ns([...R(), 'kill', 'a', ...args])).toMatchObject({ status: 0, stdout: '' });
      expect(await gone).toBe(want);
    }
  });

  it('never signals a process that is not the recorded one: Node reports it', () => {
    const c = sleeper();
    record('a', { pid: c.pid!, startTime: '1' });
    expect(ns([...R(), 'kill', 'a', '9']).node).toEqual([...R(), 'kill', 'a', '9']);
    expect(c.exitCode).toBeNull();
    expect(c.signalCode).toBeNull();
  });
});

describe('ns-front start', () => {
  /** A "created container": blocks opening the FIFO for writing, then writes its byte. */
  function created(id: string, extra: Partial<Rec> = {}) {
    const dir = join(root, id);
    mkdirSync(dir, { recursive: true });
    const fifo = join(dir, 'exec.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const c = spawn('/bin/sh', ['-c', `printf x > '${fifo}'; exec sleep 60`], { stdio: 'ignore' });
    children.push(c);
    record(id, {
      pid: c.pid!,
      lines: [`fifo ${fifo}`, ...(extra.lines ?? [])],
      files: extra.files ?? [
        { verb: 'start', name: 'state.json', text: '{"status":"running"}\n' },
        { verb: 'start', name: 'state.front', text: 'NEXT\n' },
      ],
    });
    return { c, dir, fifo };
  }

  it("takes the process's byte from exec.fifo, then writes the files the record gives, and unlocks", () => {
    const { dir, fifo } = created('a');
    expect(ns([...R(), 'start', 'a'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(existsSync(fifo)).toBe(false);
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{"status":"running"}\n');
    expect(readFileSync(join(dir, 'state.front'), 'utf8')).toBe('NEXT\n');
    expect(readdirSync(dir).sort()).toEqual(['state.front', 'state.json']);
  });

  it('leaves it to Node when the lock is held, when the record says so, or without a state.json to write', () => {
    const { dir } = created('a');
    mkdirSync(join(dir, '.lock'));
    expect(ns([...R(), 'start', 'a']).node).toEqual([...R(), 'start', 'a']);
    expect(existsSync(join(dir, '.lock'))).toBe(true); // not ours to remove
    created('b', { lines: ['node start'] });
    expect(ns([...R(), 'start', 'b']).node).toEqual([...R(), 'start', 'b']);
    created('c', { files: [] });
    expect(ns([...R(), 'start', 'c']).node).toEqual([...R(), 'start', 'c']);
    for (const id of ['b', 'c']) expect(existsSync(join(root, id, '.lock')), id).toBe(false);
  });
});

describe('ns-front delete', () => {
  it("removes a stopped container's cgroup directories, then its folder", () => {
    const cg = [join(work, 'cg1'), join(work, 'cg2')];
    for (const d of cg) mkdirSync(d, { recursive: true });
    const dir = record('a', { pid: deadPid(), startTime: '1', lines: [...cg.map((d) => `rmdir ${d}`), `rmdir ${join(work, 'gone')}`] });
    writeFileSync(join(dir, 'state.json'), '{}\n');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'f'), '');
    expect(ns([...R(), 'delete', 'a'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(existsSync(dir)).toBe(false);
    for (const d of cg) expect(existsSync(d)).toBe(false);
    record('b', { pid: deadPid(), startTime: '1' });
    expect(ns([...R(), 'rm', '--force', 'b']).status).toBe(0);
    expect(existsSync(join(root, 'b'))).toBe(false);
  });

  it('leaves to Node a live container, a busy cgroup, hooks, and a held lock; keeping the folder and releasing its own lock', () => {
    const busy = join(work, 'busy');
    mkdirSync(join(busy, 'child'), { recursive: true });
    const c = sleeper();
    const cases: [string, Rec][] = [
      ['live', { pid: c.pid! }],
      ['busy', { pid: deadPid(), startTime: '1', lines: [`rmdir ${busy}`] }],
      ['hooks', { pid: deadPid(), startTime: '1', lines: ['node delete'] }],
    ];
    for (const [id, rec] of cases) {
      const dir = record(id, rec);
      expect(ns([...R(), 'delete', '-f', id]).node, id).toEqual([...R(), 'delete', '-f', id]);
      expect(readdirSync(dir), id).toEqual(['state.front']);
    }
    const dir = record('locked', { pid: deadPid(), startTime: '1' });
    mkdirSync(join(dir, '.lock'));
    expect(ns([...R(), 'delete', 'locked']).node).toEqual([...R(), 'delete', 'locked']);
    expect(existsSync(busy)).toBe(true);
    rmSync(busy, { recursive: true });
  });
});
