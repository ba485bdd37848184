// linux.rootfsPropagation with real mount events (issue 19, runc#5192), as root. The rootfs and
// a volume are shared mounts on the host, made here; while the container runs, the host mounts
// a tmpfs in each and the container mounts one in the volume. With slave, the host's events
// reach the container and none go back; with shared, the volume's go both ways (the root gets
// the host's too); with private, nothing. Every mount made here is undone; nothing is left.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, exec, rootfsContainer } from '../src/index.js';
import { ROOTFS, gone, hostMounts, isRoot } from './helpers.js';

const sh = (script: string) => execFileSync('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

describe.skipIf(!isRoot || !ROOTFS)('rootfsPropagation with mount events of the host (as root)', () => {
  let dir: string;
  let before: string[];
  beforeAll(() => {
    before = hostMounts();
    dir = mkdtempSync(join(tmpdir(), 'ns-propagation-'));
    mkdirSync(join(dir, 'root'));
    mkdirSync(join(dir, 'vol'));
    // The rootfs as a shared mount point of its own, and a shared tmpfs as the volume.
    sh(`mount --bind ${ROOTFS} ${dir}/root && mount --make-shared ${dir}/root && mount -t tmpfs vol ${dir}/vol && mount --make-shared ${dir}/vol`);
  });
  afterAll(() => {
    try {
      sh(`umount -R ${dir}/vol; umount -R ${dir}/root`);
      expect(hostMounts()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /**
   * Start a container with `propagation`, wait until it runs, mount on the host, let it look
   * and mount itself; returns what it saw and whether its mount reached the host.
   */
  async function events(propagation: string): Promise<{ rootEvent: boolean; volumeEvent: boolean; backToHost: boolean; exitCode: number | null }> {
    mkdirSync(join(dir, 'vol', 'from-host'), { recursive: true });
    mkdirSync(join(dir, 'vol', 'from-container'), { recursive: true });
    const script = [
      'echo ready',
      'i=0; while [ ! -e /home/go ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i+1)); done',
      '[ -e /tmp/host-mark ] && echo root-event',
      '[ -e /home/from-host/mark ] && echo volume-event',
      'mount -t tmpfs from-container /home/from-container && touch /home/from-container/mark; echo mounted',
      'i=0; while [ ! -e /home/done ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i+1)); done',
    ].join('\n');
    const c = rootfsContainer(join(dir, 'root'), {
      args: ['sh', '-c', script],
      capabilities: ['CAP_SYS_ADMIN'],
      rootfsPropagation: propagation,
      mounts: [...DEFAULT_MOUNTS, { destination: '/home', type: 'bind', source: join(dir, 'vol'), options: ['rbind'] }],
    });
    const p = exec(c, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
      // Mount events on the host: in the rootfs (on its /tmp) and in the volume.
      sh(`mount -t tmpfs host-root ${dir}/root/tmp && touch ${dir}/root/tmp/host-mark && mount -t tmpfs host-vol ${dir}/vol/from-host && touch ${dir}/vol/from-host/mark`);
      writeFileSync(join(dir, 'vol', 'go'), '');
      while (!out.includes('mounted')) await new Promise((r) => setTimeout(r, 10));
      const backToHost = existsSync(join(dir, 'vol', 'from-container', 'mark'));
      writeFileSync(join(dir, 'vol', 'done'), '');
      const exit = await p.wait();
      expect(gone(p.pid)).toBe(true);
      return { rootEvent: out.includes('root-event'), volumeEvent: out.includes('volume-event'), backToHost, exitCode: exit.exitCode };
    } finally {
      p.kill('SIGKILL');
      await p.wait();
      sh(`umount ${dir}/root/tmp; umount ${dir}/vol/from-host; umount ${dir}/vol/from-container 2>/dev/null; rm -rf ${dir}/vol/*`);
    }
  }

  it.each([
    ['rslave', { rootEvent: true, volumeEvent: true, backToHost: false }],
    ['slave', { rootEvent: true, volumeEvent: true, backToHost: false }],
    ['rshared', { rootEvent: true, volumeEvent: true, backToHost: true }],
    ['shared', { rootEvent: true, volumeEvent: true, backToHost: true }],
    ['rprivate', { rootEvent: false, volumeEvent: false, backToHost: false }],
    ['private', { rootEvent: false, volumeEvent: false, backToHost: false }],
    ['runbindable', { rootEvent: false, volumeEvent: false, backToHost: false }],
  ])('%s', async (propagation, want) => {
    const mountsNow = hostMounts();
    expect(await events(propagation)).toEqual({ ...want, exitCode: 0 });
    // Nothing of the container stays on the host (its own mount was undone above).
    expect(hostMounts()).toEqual(mountsNow);
  });
});
