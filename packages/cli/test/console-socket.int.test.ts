/**
 * runc's `--console-socket` (issue 12): `ns create -t`, `ns run -d -t` and `ns exec -d -t` send
 * the pty master over the unix socket (SCM_RIGHTS, data `/dev/ptmx`, as runc's SendRawFd), the
 * way conmon and containerd's shim take it. The receiver is this test, with the addon's raw
 * calls (Node's net cannot take a descriptor). Bad input names --console-socket and leaves
 * nothing behind. Each test has its own `--root` and removes what it made.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { native, recvFd, unixAccept, unixListen } from '@ns/syscalls';
import { hostMounts } from './leftovers.js';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

let dir: string;
let opened: number[];
function ns(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return nsWith([], ...args);
}
/** `ns` with `extra` as its descriptors 3, 4 ... */
function nsWith(extra: number[], ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--root', join(dir, 'state'), ...args], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe', ...extra] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Listen at DIR/NAME; `take()` accepts the runtime's connection and receives the master. */
function receiver(name = 'console.sock') {
  const path = join(dir, name);
  const listening = unixListen(path);
  opened.push(listening);
  return {
    path,
    take(): { fd: number; name: string } {
      const conn = unixAccept(listening, 10_000);
      expect(conn).not.toBeNull();
      opened.push(conn!);
      const msg = recvFd(conn!);
      expect(msg).not.toBeNull();
      expect(msg!.fd).toBeGreaterThan(2);
      opened.push(msg!.fd);
      return { fd: msg!.fd, name: msg!.data.toString() };
    },
  };
}

/** Write `input` to the master and read it until `until` shows up (or 10 s pass). */
async function talk(master: number, input: string, until: RegExp): Promise<string> {
  writeSync(master, input);
  let out = '';
  for (let i = 0; i < 500 && !until.test(out); i++) {
    const b = native().readAvailable(master);
    if (b) out += b.toString();
    else await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

function stateIds(): string[] {
  const state = join(dir, 'state');
  return existsSync(state) ? readdirSync(state, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name) : [];
}

describe.skipIf(!isRoot || !ROOTFS)('--console-socket (root)', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-console-'));
    opened = [];
  });
  afterEach(() => {
    for (const fd of opened) closeSync(fd);
    for (const id of stateIds()) ns('delete', '-f', id);
    rmSync(dir, { recursive: true, force: true });
  });

  it('create -t: the receiver gets the master, types a command after start and reads its output', async () => {
    const r = receiver();
    const c = ns('create', '-t', '--console-socket', r.path, '--rootfs', ROOTFS!, 'cs1', '--', 'sh');
    expect(c).toMatchObject({ status: 0, stderr: '' });
    const master = r.take();
    expect(master.name).toBe('/dev/ptmx');
    expect(JSON.parse(ns('state', 'cs1').stdout)).toMatchObject({ status: 'created' });
    expect(ns('start', 'cs1').status).toBe(0);
    // The console is a pty of the container's own devpts (as runc makes it), and /dev/console is it.
    const out = await talk(master.fd, 'tty; ls /dev/pts | tr "\\n" " "; stat -c %t:%T /dev/console; echo hello-$((6*7)); exit 3\n', /hello-42\r\n/);
    expect(out).toMatch(/\/dev\/pts\/0\r\n0 ptmx 88:0\r\nhello-42\r\n/);
  });

  it('--preserve-fds with a terminal: descriptor 3 reaches the container beside the console', async () => {
    writeFileSync(join(dir, 'in'), 'through fd 3\n');
    const three = openSync(join(dir, 'in'), 'r');
    opened.push(three);
    const r = receiver();
    const c = nsWith([three], 'run', '-d', '-t', '--console-socket', r.path, '--preserve-fds', '1', '--rootfs', ROOTFS!, 'cs6', '--', 'sh');
    expect(c).toMatchObject({ status: 0, stderr: '' });
    const master = r.take();
    const got = await talk(master.fd, 'cat <&3; echo end-$((1+1))\n', /end-2\r\n/);
    expect(got).toMatch(/through fd 3\r\nend-2\r\n/);
  });

  it('run -d -t, then exec -d -t into it: each console reaches its own receiver', async () => {
    const r = receiver();
    expect(ns('run', '-d', '-t', '--console-socket', r.path, '--rootfs', ROOTFS!, 'cs2', '--', 'sh')).toMatchObject({ status: 0, stderr: '' });
    const init = r.take();
    expect(await talk(init.fd, 'echo init-$((1+1))\n', /init-2\r\n/)).toMatch(/init-2\r\n/);
    const e = receiver('exec.sock');
    expect(ns('exec', '-d', '-t', '--console-socket', e.path, 'cs2', 'sh')).toMatchObject({ status: 0, stderr: '' });
    const other = e.take();
    expect(other.name).toBe('/dev/pts/ptmx');
    const out = await talk(other.fd, 'tty; echo exec-$((2+3)); exit\n', /exec-5\r\n/);
    expect(out).toMatch(/\/dev\/pts\/\d+\r\n/); // the container's own devpts
    expect(out).toMatch(/exec-5\r\n/);
  });

  it("runc's rules: a tty when detaching needs a console socket, a console socket needs both", () => {
    const before = hostMounts();
    const r1 = ns('run', '-d', '-t', '--rootfs', ROOTFS!, 'cs3', '--', 'sh');
    expect(r1.status).toBe(125);
    expect(r1.stderr).toMatch(/cannot allocate tty if ns will detach without setting console socket/);
    const r2 = ns('create', '-t', '--rootfs', ROOTFS!, 'cs3', '--', 'sh');
    expect(r2.status).toBe(125);
    expect(r2.stderr).toMatch(/cannot allocate tty if ns will detach without setting console socket/);
    const r3 = ns('run', '-d', '--console-socket', join(dir, 'x.sock'), '--rootfs', ROOTFS!, 'cs3', '--', 'true');
    expect(r3.status).toBe(125);
    expect(r3.stderr).toMatch(/cannot use console socket if ns will not detach or allocate tty/);
    // The console is the output: --stdout with a terminal is refused detached too.
    const r6 = ns('run', '-d', '-t', '--console-socket', join(dir, 'x.sock'), '--stdout', join(dir, 'out'), '--rootfs', ROOTFS!, 'cs3', '--', 'sh');
    expect(r6.status).toBe(125);
    expect(r6.stderr).toMatch(/--stdout and --stderr cannot be used with a terminal/);
    expect(ns('run', '-d', '--rootfs', ROOTFS!, '--stdout', '/dev/null', '--stderr', '/dev/null', 'cs4', '--', 'sleep', '60').status).toBe(0);
    const r4 = ns('exec', '-t', '--console-socket', join(dir, 'x.sock'), 'cs4', 'sh');
    expect(r4.status).toBe(125);
    expect(r4.stderr).toMatch(/cannot use console socket if ns will not detach or allocate tty/);
    const r5 = ns('exec', '-d', '-t', 'cs4', 'sh');
    expect(r5.status).toBe(125);
    expect(r5.stderr).toMatch(/cannot allocate tty if ns will detach without setting console socket/);
    expect(stateIds()).toEqual(['cs4']);
    expect(hostMounts()).toEqual(before);
  });

  it('a console socket that does not exist, is not a socket, or that nobody listens on: an error naming it, nothing left', () => {
    const before = hostMounts();
    const plain = join(dir, 'plain');
    writeFileSync(plain, '');
    const stale = join(dir, 'stale.sock');
    closeSync(unixListen(stale)); // its listener is gone
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.sock'), /--console-socket .*missing\.sock: does not exist/],
      [plain, /--console-socket .*plain: not a unix socket/],
      [stale, /--console-socket .*stale\.sock: cannot connect: nobody listens on it/],
    ];
    for (const [path, message] of cases) {
      for (const verb of [['create'], ['run', '-d']]) {
        const r = ns(...verb, '-t', '--console-socket', path, '--rootfs', ROOTFS!, 'cs5', '--', 'sh');
        expect(r.status, `${verb.join(' ')} ${path}`).toBe(125);
        expect(r.stderr).toMatch(message);
        expect(stateIds()).toEqual([]);
      }
    }
    expect(hostMounts()).toEqual(before);
  });
});
