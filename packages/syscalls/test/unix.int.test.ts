import { closeSync, mkdtempSync, readSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native, pidfdGetfd, recvFd, seccompNotifRecv, seccompNotifSend, sendFd, spawn, unixAccept, unixConnect, unixListen, type Step } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-unix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('descriptors over unix sockets', () => {
  it('sends a descriptor with its payload and receives both', () => {
    const path = join(dir, 'a.sock');
    const listener = unixListen(path);
    const client = unixConnect(path);
    const server = unixAccept(listener, 5000)!;
    const [r, w] = native().pipe();
    try {
      sendFd(client, w, '/dev/ptmx');
      const got = recvFd(server)!;
      expect(got.data.toString()).toBe('/dev/ptmx');
      expect(got.fd).toBeGreaterThan(2);
      expect(got.fd).not.toBe(w);
      writeSync(got.fd, 'through the copy');
      closeSync(got.fd);
      const buf = Buffer.alloc(64);
      expect(buf.subarray(0, readSync(r, buf)).toString()).toBe('through the copy');
      closeSync(client);
      expect(recvFd(server)).toBeNull(); // end of file
    } finally {
      for (const fd of [listener, server, r, w]) closeSync(fd);
    }
  });

  it('names the cause when nobody can take it', () => {
    expect(() => unixConnect(join(dir, 'missing.sock'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    expect(() => unixConnect(file)).toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    // A socket file whose listener is gone.
    const stale = join(dir, 'stale.sock');
    closeSync(unixListen(stale));
    expect(() => unixConnect(stale)).toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    const idle = unixListen(join(dir, 'idle.sock'), 0);
    expect(unixAccept(idle, 0)).toBeNull();
    // A listener that never accepts: once its queue is full the connect fails, it does not wait.
    const queued: number[] = [];
    let full: unknown;
    try {
      for (let i = 0; i < 64 && !full; i++) queued.push(unixConnect(join(dir, 'idle.sock')));
    } catch (err) {
      full = err;
    }
    for (const fd of [...queued, idle]) closeSync(fd);
    expect(full).toMatchObject({ code: 'EAGAIN' });
  });
});

const root = process.getuid?.() === 0;
const x64 = process.arch === 'x64';

/** A classic-BPF filter as plan words: notify on mkdir (83) and mkdirat (258), allow the rest (x86_64, no arch check: a test only). */
function notifyMkdirWords(): number[] {
  const ins = (code: number, jt: number, jf: number, k: number) => [code | (jt << 16) | (jf << 24), k >>> 0];
  return [
    ...ins(0x20, 0, 0, 0), // ld [nr]
    ...ins(0x15, 1, 0, 83), // jeq mkdir -> notify
    ...ins(0x15, 0, 1, 258), // jeq mkdirat -> notify, else allow
    ...ins(0x06, 0, 0, 0x7fc00000), // ret USER_NOTIF
    ...ins(0x06, 0, 0, 0x7fff0000), // ret ALLOW
  ];
}

describe.skipIf(!root || !x64)('seccompNotify step', () => {
  it('hands the listener to onSync, and a listener answers the container process', async () => {
    const [r, w] = native().pipe();
    let listener = -1;
    const target = join(dir, 'made-by-notify');
    const steps: Step[] = [
      { op: 'stdio', fds: [0, w, w] },
      { op: 'closeFrom', first: 3 },
      { op: 'seccompNotify', flags: 0, filter: notifyMkdirWords(), name: 'seccomp-listener' },
      { op: 'execve', paths: ['/bin/sh'], argv: ['sh', '-c', `mkdir ${target} 2>/dev/null; echo rc=$?`], envp: ['PATH=/usr/bin:/bin'] },
    ];
    const child = spawn({ cloneFlags: 0, steps }, {
      onSync: (step, _index, pid, value) => {
        expect(step.op).toBe('seccompNotify');
        listener = pidfdGetfd(pid, value);
      },
    });
    closeSync(w);
    try {
      expect(listener).toBeGreaterThan(2);
      const n = seccompNotifRecv(listener, 10_000)!;
      expect(n).not.toBeNull();
      expect([83, 258]).toContain(n.nr);
      seccompNotifSend(listener, n.id, { error: 13 }); // EACCES
      await child.exited;
      const buf = Buffer.alloc(64);
      expect(buf.subarray(0, readSync(r, buf)).toString()).toBe('rc=1\n');
    } finally {
      closeSync(r);
      if (listener >= 0) closeSync(listener);
    }
  });
});

describe.skipIf(!root)('openConsole step: refuses what is not a devpts ptmx, before any mount', () => {
  const fails = (ptmx: string) => {
    let synced = false;
    const steps: Step[] = [
      { op: 'procRoot', path: '/proc' },
      { op: 'openConsole', ptmx, console: join(dir, 'console'), cols: 80, rows: 24, uid: -1, gid: -1, name: 'console' },
      { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] },
    ];
    try {
      spawn({ cloneFlags: 0, steps }, { onSync: () => void (synced = true) });
    } catch (err) {
      expect(synced).toBe(false);
      return err as { code: string; message: string };
    }
    throw new Error('the step did not fail');
  };

  it('a file elsewhere (EXDEV), a symlink on the way (ELOOP), a missing ptmx (ENOENT)', () => {
    expect(fails('/dev/null')).toMatchObject({ code: 'EXDEV' });
    symlinkSync('/dev/pts/ptmx', join(dir, 'ptmx-link'));
    expect(fails(join(dir, 'ptmx-link'))).toMatchObject({ code: 'ELOOP' });
    expect(fails(join(dir, 'none'))).toMatchObject({ code: 'ENOENT', message: expect.stringMatching(/console: a pty of/) });
  });
});
