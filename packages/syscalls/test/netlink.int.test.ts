// netlinkRequest(): the raw AF_NETLINK exchange (native/netlink.cc), here with a hand-made
// RTM_GETLINK, in this thread's network namespace and in another one (made by `unshare -n`),
// the calling thread back in its own afterwards.
import { spawn as spawnProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { netlinkRequest } from '../src/index.js';

const root = process.getuid?.() === 0;

/** RTM_GETLINK of `name` with NLM_F_REQUEST | NLM_F_ACK, sequence number `seq`. */
function getLink(seq: number, name: string): Buffer {
  const ifname = Buffer.concat([Buffer.from(name), Buffer.alloc(1)]);
  const attr = Buffer.alloc((4 + ifname.length + 3) & ~3);
  attr.writeUInt16LE(4 + ifname.length, 0);
  attr.writeUInt16LE(3, 2);
  ifname.copy(attr, 4);
  const h = Buffer.alloc(32);
  h.writeUInt32LE(32 + attr.length, 0);
  h.writeUInt16LE(18, 4);
  h.writeUInt16LE(0x5, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, attr]);
}

/** [type, seq, errno of an NLMSG_ERROR] of each reply message. */
function replies(b: Buffer): [number, number, number | null][] {
  const out: [number, number, number | null][] = [];
  for (let off = 0; off + 16 <= b.length; off += (b.readUInt32LE(off) + 3) & ~3) {
    const type = b.readUInt16LE(off + 4);
    out.push([type, b.readUInt32LE(off + 8), type === 2 ? Math.abs(b.readInt32LE(off + 16)) : null]);
  }
  return out;
}

describe.skipIf(!root)('netlinkRequest (root)', () => {
  it('sends several messages at once and returns every reply, acks and errors alike', () => {
    const r = replies(netlinkRequest(Buffer.concat([getLink(1, 'lo'), getLink(2, 'no-such-link0')])));
    expect(r).toEqual([[16, 1, null], [2, 1, 0], [2, 2, 19 /* ENODEV */]]);
  });

  it('in another network namespace by descriptor; the calling thread stays in its own', async () => {
    const child = spawnProcess('unshare', ['-n', 'sleep', '30'], { stdio: 'ignore' });
    try {
      let fd = -1;
      for (let i = 0; i < 100 && fd < 0; i++) {
        try {
          if (readlinkSync(`/proc/${child.pid}/ns/net`) !== readlinkSync('/proc/self/ns/net') && readlinkSync(`/proc/${child.pid}/exe`).endsWith('sleep')) fd = openSync(`/proc/${child.pid}/ns/net`, 'r');
        } catch {
          // not there yet
        }
        if (fd < 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(fd).toBeGreaterThanOrEqual(0);
      const own = readlinkSync('/proc/thread-self/ns/net');
      try {
        // lo is in every namespace; a host link other than lo is not in the new one.
        expect(replies(netlinkRequest(getLink(1, 'lo'), { netnsFd: fd }))).toEqual([[16, 1, null], [2, 1, 0]]);
        const other = readdirSync('/sys/class/net').find((n) => n !== 'lo');
        if (other !== undefined) {
          expect(replies(netlinkRequest(getLink(2, other)))).toEqual([[16, 2, null], [2, 2, 0]]);
          expect(replies(netlinkRequest(getLink(2, other), { netnsFd: fd }))).toEqual([[2, 2, 19]]);
        }
      } finally {
        closeSync(fd);
      }
      expect(readlinkSync('/proc/thread-self/ns/net')).toBe(own);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
