// `bridge` networking for real (net/bridge.ts over rtnetlink): the container reaches the bridge's
// address through its veth, and nothing of it is left (no veth, no address record) after a
// foreground run, after delete, and after a failed start.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IPAM_DIR, StateStore, deleteContainer, hostVethName, rootfsContainer, rtnetlink, runContainer, type Container } from '../src/index.js';
import { netlinkRequest } from '@ns/syscalls';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

const BRIDGE = { name: 'nstest0', subnet: '10.199.77.0/24' };

/** Whether the host has a link named `name` (RTM_GETLINK). */
function hasLink(name: string): boolean {
  const replies = rtnetlink.parseReplies(netlinkRequest(rtnetlink.getLink(1, name)));
  return rtnetlink.replyErrno(replies, 1) === 0;
}

function records(): string[] {
  const dir = join(IPAM_DIR, BRIDGE.name);
  return existsSync(dir) ? readdirSync(dir) : [];
}

function container(id: string, script: string): Container {
  const c = rootfsContainer(ROOTFS, { id, args: ['/bin/sh', '-c', script] });
  c.bridge = { ...BRIDGE };
  return c;
}

describe.skipIf(!isRoot || !ROOTFS)('bridge network (root)', () => {
  afterAll(() => {
    if (hasLink(BRIDGE.name)) netlinkRequest(rtnetlink.delLink(1, BRIDGE.name));
    rmSync(join(IPAM_DIR, BRIDGE.name), { recursive: true, force: true });
  });

  it('the container pings the bridge through eth0 (address from the range, default route); nothing left after it exits', async () => {
    const r = await run(container('bridge-ping', 'ip -4 -o addr show eth0; ip route; ping -c 1 -W 3 10.199.77.1 >/dev/null && echo pinged'));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/eth0\s+inet 10\.199\.77\.2\/24 /);
    expect(r.stdout).toMatch(/^default via 10\.199\.77\.1 dev eth0/m);
    expect(r.stdout).toMatch(/pinged\n$/);
    expect(hasLink(BRIDGE.name)).toBe(true); // the bridge stays, as CNI's
    expect(hasLink(hostVethName('bridge-ping'))).toBe(false);
    expect(records()).toEqual([]);
    expect(execFileSync('ip', ['-o', 'link', 'show', 'master', BRIDGE.name], { encoding: 'utf8' })).toBe('');
  });

  it('a detached container keeps its veth and address until delete', async () => {
    const store = new StateStore(mkdtempSync(join(tmpdir(), 'ns-bridge-state-')));
    try {
      const { process: p } = runContainer(container('bridge-detached', 'sleep 30'), { store, detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
      expect(p.pid).toBeGreaterThan(0);
      expect(hasLink(hostVethName('bridge-detached'))).toBe(true);
      expect(records()).toEqual(['10.199.77.2']);
      await deleteContainer(store, 'bridge-detached', { force: true });
      expect(hasLink(hostVethName('bridge-detached'))).toBe(false);
      expect(records()).toEqual([]);
    } finally {
      rmSync(store.root, { recursive: true, force: true });
    }
  });

  it('a host link that is not a bridge is refused, and left as it was', async () => {
    const c = container('bridge-lo', 'true');
    c.bridge = { name: 'lo', subnet: '10.199.78.0/24' };
    const before = execFileSync('ip', ['-o', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
    await expect(run(c)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', message: 'bridge lo: the host has a link of that name that is not a bridge (a device)' });
    expect(execFileSync('ip', ['-o', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' })).toBe(before);
    expect(hasLink(hostVethName('bridge-lo'))).toBe(false);
  });

  it('a second bridge on a subnet the first one routes is refused, and nothing of it is left', async () => {
    await run(container('bridge-first', 'true')); // the first bridge exists, with its route
    const c = rootfsContainer(ROOTFS, { id: 'bridge-clash', args: ['/bin/true'] });
    c.bridge = { name: 'nstest1', subnet: '10.199.77.0/24' };
    await expect(run(c)).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'bridge.subnet', message: expect.stringContaining('routed through nstest0') });
    expect(hasLink('nstest1')).toBe(false);
    expect(hasLink(hostVethName('bridge-clash'))).toBe(false);
  });

  it('a start that fails after the network step leaves no veth and no address', async () => {
    const mounts = hostMounts();
    const c = container('bridge-fails', 'true');
    c.args = ['/no/such/program'];
    await expect(run(c)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(hasLink(hostVethName('bridge-fails'))).toBe(false);
    expect(records()).toEqual([]);
    expect(hostMounts()).toEqual(mounts);
  });
});
