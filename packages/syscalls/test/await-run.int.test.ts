// The awaitRun step (native/init/pool.cc): a set-up process that waits for its command.
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRunRecord, native, RUN_REPLY, spawnAsync, type Child, type Plan, type RunRecord } from '../src/index.js';

const root = process.getuid?.() === 0;
const opened: number[] = [];
const children: Child[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill(9);
    await c.exited;
  }
  for (const fd of opened.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // closed by the test
    }
  }
});

function pipe(): [number, number] {
  const p = native().pipe();
  opened.push(...p);
  return p;
}

/** A member waiting for its run, with its stdout (and stderr) on a pipe; `receiveStdio`: the record on a SOCK_SEQPACKET socket. */
async function member(idleTimeoutMs = 0, receiveStdio = false) {
  const [outR, outW] = pipe();
  const [recR, recW] = receiveStdio ? native().seqpacketPair() : pipe();
  if (receiveStdio) opened.push(recR, recW);
  const [repR, repW] = pipe();
  const nul = openSync('/dev/null', 'r');
  opened.push(nul);
  const plan: Plan = {
    cloneFlags: 0,
    steps: [
      { op: 'stdio', fds: [nul, outW, outW, recR, repW] },
      { op: 'closeFrom', first: 5 },
      { op: 'detach', keepFds: 2 },
      { op: 'awaitRun', recordFd: 3, replyFd: 4, idleTimeoutMs, receiveStdio },
    ],
  };
  const child = await spawnAsync(plan);
  children.push(child);
  // Ours only from here: the member holds its own copies.
  for (const fd of [outW, recR, repW]) closeSync(fd);
  opened.splice(0, opened.length, ...opened.filter((fd) => ![outW, recR, repW].includes(fd)));
  return { child, outR, recW, repR };
}

/** The replies until end of file: [step, code, value] each. */
function replies(fd: number): number[][] {
  const out: number[][] = [];
  const buf = Buffer.alloc(12);
  for (;;) {
    let got = 0;
    while (got < 12) {
      const n = readSync(fd, buf, got, 12 - got, null);
      if (n === 0) return out;
      got += n;
    }
    out.push([buf.readInt32LE(0), buf.readInt32LE(4), buf.readInt32LE(8)]);
  }
}

function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) chunks.push(Buffer.from(buf.subarray(0, n)));
  return Buffer.concat(chunks).toString();
}

const run = (r: Partial<RunRecord>): Buffer => encodeRunRecord({ cwd: '/', paths: ['/bin/sh'], argv: ['sh', '-c', 'true'], envp: [], ...r });

describe.skipIf(!root)('awaitRun step (as root)', () => {
  it('reads the record, changes directory and executes it; no descriptor of the pool reaches the program', async () => {
    const m = await member();
    writeSync(m.recW, run({ cwd: '/tmp', argv: ['sh', '-c', 'pwd; echo "$X"; ls /proc/self/fd; exit 3'], envp: ['X=from the record'] }));
    expect(replies(m.repR)).toEqual([]);
    expect(readAll(m.outR)).toBe('/tmp\nfrom the record\n0\n1\n2\n3\n'); // 3: ls's own directory
    expect((await m.child.exited).exitCode).toBe(3);
  });

  it('tries the candidates as execvp does and reports a missing program and a bad cwd with their errno', async () => {
    const a = await member();
    writeSync(a.recW, run({ paths: ['/nope/sh', '/bin/sh'], argv: ['sh', '-c', 'echo second'] }));
    expect(replies(a.repR)).toEqual([]);
    expect(readAll(a.outR)).toBe('second\n');
    const b = await member();
    writeSync(b.recW, run({ paths: ['/nope/a', '/nope/b'] }));
    expect(replies(b.repR)).toEqual([[3, 2 /* ENOENT */, RUN_REPLY.execve]]);
    expect((await b.child.exited).exitCode).toBe(1);
    const c = await member();
    writeSync(c.recW, run({ cwd: '/nope' }));
    expect(replies(c.repR)).toEqual([[3, 2, RUN_REPLY.chdir]]);
    const d = await member();
    writeSync(d.recW, run({ paths: ['/etc/passwd'] }));
    expect(replies(d.repR)).toEqual([[3, 13 /* EACCES */, RUN_REPLY.execve]]);
  });

  it('refuses a record past its bounds, in the encoder and in ns-init', async () => {
    expect(() => run({ envp: ['X='.padEnd(70000, 'x')] })).toThrow(/more than the 65536 a pool member reads/);
    expect(() => run({ argv: ['a\0b'] })).toThrow(/args\[0\]: contains a NUL byte/);
    const m = await member();
    const head = Buffer.alloc(4);
    head.writeUInt32LE(1 << 20);
    writeSync(m.recW, head);
    expect(replies(m.repR)).toEqual([[3, 7 /* E2BIG */, RUN_REPLY.record]]);
    const t = await member();
    const cut = run({});
    writeSync(t.recW, cut.subarray(0, cut.length - 3)); // short: then end of file
    closeSync(t.recW);
    expect(replies(t.repR)).toEqual([[3, 71 /* EPROTO */, RUN_REPLY.record]]);
  });

  it('goes away unused past its idle timeout, or when the pool closes its end', async () => {
    const idle = await member(100);
    expect(await idle.child.exited).toEqual({ exitCode: RUN_REPLY.idleExit, signal: null });
    expect(replies(idle.repR)).toEqual([[3, RUN_REPLY.unused, 0]]);
    const closed = await member();
    closeSync(closed.recW);
    expect(await closed.child.exited).toEqual({ exitCode: 0, signal: null });
    expect(replies(closed.repR)).toEqual([[3, RUN_REPLY.unused, 0]]);
  });

  it('is waiting as ns-init, not yet the program', async () => {
    const m = await member();
    expect(readFileSync(`/proc/${m.child.pid}/comm`, 'utf8')).toBe('ns-init\n');
    expect(m.child.status).toBeUndefined();
  });

  it('with receiveStdio, puts the descriptors sent with the record on 0, 1, 2 as its mask says', async () => {
    const m = await member(0, true);
    const [runOutR, runOutW] = pipe();
    // Descriptor 1 replaced by the run's pipe; 2 stays the member's own.
    native().sendFds(m.recW, [runOutW], run({ argv: ['sh', '-c', 'echo to-run; echo to-member >&2; ls /proc/self/fd'], stdio: 0b010 }));
    closeSync(runOutW);
    opened.splice(opened.indexOf(runOutW), 1);
    expect(replies(m.repR)).toEqual([]);
    expect(readAll(runOutR)).toBe('to-run\n0\n1\n2\n3\n');
    expect(readAll(m.outR)).toBe('to-member\n');
    // Without descriptors the record still reads as one message.
    const plain = await member(0, true);
    native().sendFds(plain.recW, [], run({ argv: ['sh', '-c', 'echo plain'] }));
    expect(replies(plain.repR)).toEqual([]);
    expect(readAll(plain.outR)).toBe('plain\n');
  });

  it('with receiveStdio, refuses a mask the descriptors sent do not match, and goes away at end of file', async () => {
    const m = await member(0, true);
    const nul = openSync('/dev/null', 'w');
    opened.push(nul);
    native().sendFds(m.recW, [nul], run({ stdio: 0b110 }));
    expect(replies(m.repR)).toEqual([[3, 71 /* EPROTO */, RUN_REPLY.record]]);
    expect((await m.child.exited).exitCode).toBe(1);
    const extra = await member(0, true);
    native().sendFds(extra.recW, [nul, nul], run({ stdio: 0b001 }));
    expect(replies(extra.repR)).toEqual([[3, 71, RUN_REPLY.record]]);
    const closed = await member(0, true);
    closeSync(closed.recW);
    expect(await closed.child.exited).toEqual({ exitCode: 0, signal: null });
    expect(replies(closed.repR)).toEqual([[3, RUN_REPLY.unused, 0]]);
  });
});
