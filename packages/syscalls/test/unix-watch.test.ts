/** peerCred, recvFds and the readable watchers `ns serve` is built on (no root needed). */
import { closeSync, mkdtempSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native, peerCred, recvFds, refWatch, unixAccept, unixConnect, unixListen, unwatchFd, watchData, watchReadable } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-unix-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A connected pair through a listener at a fresh path. */
function pair(name: string): { client: number; server: number } {
  const listener = unixListen(join(dir, name));
  const client = unixConnect(join(dir, name));
  const server = unixAccept(listener, 5000)!;
  closeSync(listener);
  return { client, server };
}

describe('peer credentials and several descriptors', () => {
  it('names the peer (SO_PEERCRED) on both ends', () => {
    const { client, server } = pair('cred.sock');
    try {
      const me = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };
      expect(peerCred(server)).toEqual(me);
      expect(peerCred(client)).toEqual(me);
    } finally {
      closeSync(client);
      closeSync(server);
    }
  });

  it('receives without waiting: null when nothing is there, data and descriptors, an empty end of file', () => {
    const { client, server } = pair('fds.sock');
    const [r, w] = native().pipe();
    try {
      expect(recvFds(server, 64, 3)).toBeNull();
      native().sendFd(client, w, Buffer.from('hello'));
      const got = recvFds(server, 64, 3)!;
      expect(got.data.toString()).toBe('hello');
      expect(got.fds).toHaveLength(1);
      writeSync(got.fds[0]!, 'via copy');
      closeSync(got.fds[0]!);
      const buf = Buffer.alloc(16);
      expect(buf.subarray(0, readSync(r, buf)).toString()).toBe('via copy');
      // maxFds 0: the descriptor sent is closed, not handed over.
      native().sendFd(client, w, Buffer.from('x'));
      expect(recvFds(server, 64, 0)).toEqual({ data: Buffer.from('x'), fds: [] });
      closeSync(client);
      expect(recvFds(server, 64, 3)).toEqual({ data: Buffer.alloc(0), fds: [] });
    } finally {
      for (const fd of [server, r, w]) closeSync(fd);
    }
  });
});

describe('readable watchers', () => {
  it('calls back each time the descriptor can be read, until unwatched (which closes it)', async () => {
    const { client, server } = pair('watch.sock');
    const seen: string[] = [];
    let wake: () => void = () => {};
    watchReadable(server, () => {
      const got = recvFds(server, 64, 0);
      if (got) seen.push(got.data.toString());
      wake();
    });
    expect(() => watchReadable(server, () => {})).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    for (const word of ['one', 'two']) {
      const next = new Promise<void>((resolve) => (wake = resolve));
      writeSync(client, word);
      await next;
    }
    expect(seen).toEqual(['one', 'two']);
    expect(unwatchFd(server)).toBe(true);
    expect(unwatchFd(server)).toBe(false);
    // Closed once libuv let go of it: the peer sees the end.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(recvFds(client, 8, 0)).toEqual({ data: Buffer.alloc(0), fds: [] });
    closeSync(client);
  });

  it('reads for the caller (watchData): data, then null at end of file, the watcher stopped and the pipe closed', async () => {
    const [r, w] = native().pipe();
    const seen: (string | null)[] = [];
    let wake: () => void = () => {};
    watchData(r, (data) => {
      seen.push(data === null ? null : data.toString());
      wake();
    }, 3);
    // Not keeping the event loop alive is the caller's choice (a pool's idle member), and back.
    expect(refWatch(r, false)).toBe(true);
    expect(refWatch(r, true)).toBe(true);
    let next = new Promise<void>((resolve) => (wake = resolve));
    writeSync(w, 'abcd'); // more than readMax: two calls
    await next;
    while (seen.length < 2) await new Promise<void>((resolve) => (wake = resolve));
    next = new Promise<void>((resolve) => (wake = resolve));
    closeSync(w);
    await next;
    expect(seen).toEqual(['abc', 'd', null]);
    // Stopped by itself: no longer watched, and its descriptor is closed once libuv let go.
    expect(unwatchFd(r)).toBe(false);
    expect(refWatch(r, true)).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(() => readSync(r, Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => watchData(r, () => {}, 0)).toThrow(/readMax/);
  });
});
