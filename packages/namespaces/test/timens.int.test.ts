// A time namespace of the container's own and linux.timeOffsets, on real containers (as root):
// the container's CLOCK_BOOTTIME (/proc/uptime) and CLOCK_MONOTONIC are shifted, the host's
// are not, and `ns exec` joins the same namespace.
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACES, StateStore, execIn, fromOciSpec, rootfsContainer, runContainer, type Container } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

const DAY = 86400;
const YEAR = 365 * DAY;
const withTime = (o: Partial<Container> = {}): Partial<Container> => ({ namespaces: [...DEFAULT_NAMESPACES, { type: 'time' }], ...o });
const sh = (script: string, o: Partial<Container> = {}) => rootfsContainer(ROOTFS, { args: ['/bin/sh', '-c', script], ...o });
const hostUptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const offsetsOf = (text: string) => text.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));

describe.skipIf(!isRoot || !ROOTFS)('time namespace (as root)', () => {
  it('boottime and monotonic offsets: /proc/uptime shifted, the program is pid 1 of its pid namespace, the host untouched', async () => {
    const mounts = hostMounts();
    const before = hostUptime();
    const r = await run(sh('cat /proc/uptime; cat /proc/self/timens_offsets; echo $$; readlink /proc/self/ns/time', withTime({ timeOffsets: { boottime: { secs: YEAR }, monotonic: { secs: DAY, nanosecs: 5 } } })));
    const after = hostUptime();
    expect(r.stderr).toBe('');
    const [uptime, mono, boot, pid, ns] = r.stdout.trim().split('\n');
    const seen = Number(uptime!.split(' ')[0]);
    expect(seen).toBeGreaterThanOrEqual(before + YEAR - 0.01);
    expect(seen).toBeLessThanOrEqual(after + YEAR + 0.01);
    expect(offsetsOf(`${mono}\n${boot}`)).toEqual([`monotonic ${DAY} 5`, `boottime ${YEAR} 0`]);
    expect(pid).toBe('1');
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/time'));
    expect(hostUptime()).toBeLessThan(YEAR);
    expect(hostMounts()).toEqual(mounts);
  });

  it('a new time namespace without offsets, and one in a user namespace with a negative offset', async () => {
    const plain = await run(sh('cat /proc/self/timens_offsets; readlink /proc/self/ns/time', withTime()));
    const [m, b, ns] = plain.stdout.trim().split('\n');
    expect(offsetsOf(`${m}\n${b}`)).toEqual(['monotonic 0 0', 'boottime 0 0']);
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/time'));

    const map = [{ containerID: 0, hostID: 200000, size: 65536 }];
    const userns = withTime({ timeOffsets: { boottime: { secs: -1 } } });
    userns.namespaces!.push({ type: 'user' });
    const before = hostUptime();
    const r = await run(sh('cat /proc/uptime; id -u', { ...userns, uidMappings: map, gidMappings: map }));
    const after = hostUptime();
    expect(r.stderr).toBe('');
    const [uptime, uid] = r.stdout.trim().split('\n');
    const seen = Number(uptime!.split(' ')[0]);
    expect(seen).toBeGreaterThanOrEqual(before - 1 - 0.01);
    expect(seen).toBeLessThanOrEqual(after - 1 + 0.01);
    expect(uid).toBe('0');
  });

  it('from config.json, and `ns exec` (execIn) joins the same time namespace', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ns-timens-'));
    const spec = {
      ociVersion: '1.2.0',
      root: { path: ROOTFS },
      process: { args: ['sleep', '30'], cwd: '/' },
      linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'time' }], timeOffsets: { boottime: { secs: 2 * YEAR } } },
    };
    const c = fromOciSpec(spec, { bundle: root, id: `timens-${process.pid}` });
    const { process: p, state } = runContainer(c, { store: new StateStore(root), stdio: 'ignore' });
    try {
      const q = execIn(state, { args: ['/bin/sh', '-c', 'cat /proc/uptime; readlink /proc/self/ns/time'] }, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      q.stdout!.on('data', (d: Buffer) => (out += d));
      expect((await q.wait()).exitCode).toBe(0);
      const [uptime, ns] = out.trim().split('\n');
      expect(Number(uptime!.split(' ')[0])).toBeGreaterThan(2 * YEAR);
      expect(ns).toBe(readlinkSync(`/proc/${p.pid}/ns/time`));
      expect(ns).not.toBe(readlinkSync('/proc/self/ns/time'));
    } finally {
      p.kill('SIGKILL');
      await p.wait();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('an offset the kernel refuses (boottime before boot) fails the start naming the write, nothing left', async () => {
    const mounts = hostMounts();
    const c = sh('true', withTime({ timeOffsets: { boottime: { secs: -100 * YEAR } } }));
    await expect(run(c)).rejects.toThrow(/^write \/proc\/self\/timens_offsets: ERANGE/);
    expect(hostMounts()).toEqual(mounts);
  });
});
