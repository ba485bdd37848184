/**
 * spawn() with `cloneVia`: what the server side does when the front at the other end of the
 * socket answers wrongly (packages/syscalls/src/native/spawn_via.cc). The real front
 * (front/clone.c) is tried end to end by packages/cli/test/serve.int.test.ts; here a stand-in
 * front in a Node process of its own answers what each case needs.
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnAsync, unixAccept, unixListen, type Plan } from '../src/index.js';

const root = process.getuid?.() === 0;
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ns-clone-via-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The stand-in front: reads the request, answers as `mode` says, prints what it got. */
const FRONT = `
import { closeSync, writeSync } from 'node:fs';
import { native, recvFds, sendFd, unixConnect } from ${JSON.stringify(DIST)};
const [path, mode] = process.argv.slice(2);
const s = unixConnect(path);
let got = null;
for (let i = 0; i < 1000 && !got; i++) {
  got = recvFds(s, 65536, 16);
  if (!got) await new Promise((r) => setTimeout(r, 5));
}
for (const fd of got.fds) closeSync(fd);
const answer = Buffer.alloc(5);
if (mode === 'notchild') {
  // A process that is not this front's child (init): the server must refuse to take it.
  answer.write('P', 0, 'latin1');
  answer.writeInt32LE(1, 1);
  sendFd(s, native().pidfdOpen(1), answer);
} else if (mode === 'errno' || mode === 'quit-errno') {
  answer.write('E', 0, 'latin1');
  answer.writeInt32LE(1, 1); // EPERM
  // A front whose 3 s wait for 'R' ran out as it came sends 'Q' before it reads 'R'.
  if (mode === 'quit-errno') writeSync(s, Buffer.from('Q'));
  writeSync(s, answer);
} else if (mode === 'quit-errno-joined') {
  writeSync(s, Buffer.from('QE\x01\x00\x00\x00', 'latin1'));
} else if (mode === 'quit-close') {
  writeSync(s, Buffer.from('Q'));
}
process.stdout.write(JSON.stringify({ tag: got.data.toString('latin1', 0, 1), fds: got.fds.length }));
closeSync(s);
`;
const script = join(dir, 'front.mjs');
writeFileSync(script, FRONT);

const plan: Plan = { cloneFlags: 0, steps: [{ op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }] };

/** Start the stand-in front in `mode`; returns the server's end of its connection and what it printed. */
function front(mode: string): { conn: number; printed: Promise<string>; child: ChildProcess } {
  const path = join(dir, `${mode}.sock`);
  const listener = unixListen(path);
  try {
    const child = spawnProcess(process.execPath, [script, path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const printed = new Promise<string>((resolve) => child.on('exit', () => resolve(out)));
    const conn = unixAccept(listener, 10_000);
    if (conn === null) throw new Error('the stand-in front did not connect');
    return { conn, printed, child };
  } finally {
    closeSync(listener);
    rmSync(path, { force: true });
  }
}

describe.skipIf(!root)('spawn() through a front (cloneVia)', () => {
  it.each([
    ['notchild', 'EPROTO'],
    ['errno', 'EPERM'],
    ['close', 'EPIPE'],
    // A 'Q' before the answer (the front gave up as the server's 'R' came, then read it and
    // went on): skipped, the answer is what counts (it was EPROTO).
    ['quit-errno', 'EPERM'],
    ['quit-errno-joined', 'EPERM'],
    ['quit-close', 'EPIPE'],
  ])('a front that answers %s: %s, and nothing is watched or signalled', async (mode, code) => {
    const f = front(mode);
    try {
      expect(() => spawn(plan, { cloneVia: f.conn })).toThrow(expect.objectContaining({ code }));
      // It was asked: an S message with the descriptors ns-init inherits (error pipe, sync
      // pipe, plan memfd, ns-init's image, our pidfd).
      expect(JSON.parse(await f.printed)).toEqual({ tag: 'S', fds: 5 });
    } finally {
      closeSync(f.conn);
      f.child.kill('SIGKILL');
    }
  });

  it('refuses cloneVia where it cannot be honoured: spawnAsync(), a bad descriptor', () => {
    expect(() => spawnAsync(plan, { cloneVia: 3 })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
    expect(() => spawn(plan, { cloneVia: -2 })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
    expect(() => spawn(plan, { cloneVia: 1.5 })).toThrow(/cloneVia/);
  });
});
