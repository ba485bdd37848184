/**
 * Networking of a new network namespace (issue 12): the kernel makes `lo` down; ns brings it
 * up, as runc does, so that 127.0.0.1 answers inside, also in a user namespace. A network
 * namespace that is joined is left as it is.
 */
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, isRoot, run } from './helpers.js';

const PROBE = ['/bin/sh', '-c', 'cat /sys/class/net/lo/flags; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo ping-ok || echo ping-failed'];

describe.skipIf(!isRoot || !ROOTFS)('lo in a new network namespace (root)', () => {
  it('is up, and 127.0.0.1 answers', async () => {
    const r = await run(rootfsContainer(ROOTFS, { id: 'net-lo', args: PROBE }));
    const [flags, ping] = r.stdout.trim().split('\n');
    expect(Number(flags) & 1).toBe(1); // IFF_UP
    expect(ping).toBe('ping-ok');
  });

  it('is up in a user namespace too (CAP_NET_ADMIN there)', async () => {
    const c: Container = rootfsContainer(ROOTFS, { id: 'net-lo-userns', args: PROBE });
    c.namespaces = [...c.namespaces, { type: 'user' }];
    c.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const r = await run(c);
    expect(r.stderr).toBe('');
    expect(Number(r.stdout.split('\n')[0]) & 1).toBe(1);
  });

  it('a joined network namespace keeps its own lo state (one `unshare --net` made, still down)', async () => {
    const holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
    try {
      // Wait until the holder has its own network namespace.
      const own = readlinkSync('/proc/self/ns/net');
      for (let i = 0; i < 200 && readlinkSync(`/proc/${holder.pid}/ns/net`) === own; i++) await new Promise((r) => setTimeout(r, 10));
      const c = rootfsContainer(ROOTFS, { id: 'net-joined', args: PROBE });
      c.namespaces = c.namespaces.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${holder.pid}/ns/net` } : n));
      const r = await run(c);
      const [flags, ping] = r.stdout.trim().split('\n');
      expect(Number(flags) & 1).toBe(0);
      expect(ping).toBe('ping-failed');
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
