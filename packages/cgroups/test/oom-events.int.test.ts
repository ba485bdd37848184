/**
 * watchOomV1 on the real kernel (root, cgroup v1 memory): the eventfd is signalled when a
 * process of the cgroup hits its limit and when the cgroup is removed; close() wakes the
 * pending read and closes the descriptor. The eventfd comes from the built addon of
 * @ns/syscalls (pnpm build first), as `ns events` gets it.
 */
import { existsSync, readlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { detectLayout } from '../src/layout.js';
import { Cgroup } from '../src/manager.js';
import { oomProbeV1, watchOomV1 } from '../src/oom-events.js';
import { allDirs } from '../src/path.js';
import { holdShell, killStarted, removeParent, sleepMs, testParent } from './helpers/held.js';

const root = process.getuid?.() === 0;
const layout = root ? detectLayout() : undefined;
const v1 = layout?.controllers.memory?.version === 1;
const MiB = 1024 * 1024;
const parent = testParent();
const syscalls = (await import(new URL('../../syscalls/dist/index.js', import.meta.url).href)) as { native(): { eventfd(): number; readAvailable(fd: number, max?: number): Buffer | null } };
const eventfd = (): number => syscalls.native().eventfd();
const readAvailable = (fd: number): Buffer | null => syscalls.native().readAvailable(fd, 8);

/** The eventfds this process holds. */
function eventfds(): number[] {
  const out: number[] = [];
  for (let fd = 0; fd < 1024; fd++) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]') out.push(fd);
    } catch {
      // not open
    }
  }
  return out;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await sleepMs(10);
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!root || !v1)('watchOomV1 (root, cgroup v1 memory)', () => {
  afterAll(async () => {
    killStarted();
    await removeParent(parent, { layout: layout! });
    for (const dir of allDirs(Cgroup.open(parent, { layout: layout! }).dirs)) expect(existsSync(dir), dir).toBe(false);
  });

  it('notifies an OOM of the cgroup, then its removal, once each', async () => {
    const cg = Cgroup.create(`${parent}/oom`, { memory: { limit: 32 * MiB, swap: 32 * MiB } }, { layout: layout!, devices: false, hierarchies: 'needed' });
    const before = eventfds();
    let ooms = 0;
    let gone = 0;
    watchOomV1(cg.dirs.v1.memory!, eventfd, () => ooms++, () => gone++);
    expect(eventfds().length).toBe(before.length + 1);
    const held = holdShell('exec dd if=/dev/zero of=/dev/null bs=64M count=1');
    cg.addProcess(held.pid);
    held.release();
    expect(await held.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await until('the OOM notification', () => ooms > 0);
    expect(gone).toBe(0);
    await cg.destroy();
    await until('the removal notification', () => gone === 1);
    expect(eventfds()).toEqual(before); // closed after the removal
  });

  it('close() wakes the pending read: no callback, the eventfd closed', async () => {
    const cg = Cgroup.create(`${parent}/closed`, { memory: { limit: 32 * MiB } }, { layout: layout!, devices: false, hierarchies: 'needed' });
    const before = eventfds();
    let calls = 0;
    const w = watchOomV1(cg.dirs.v1.memory!, eventfd, () => calls++, () => calls++);
    w.close();
    await until('the eventfd closed', () => eventfds().length === before.length);
    await cg.destroy();
    await sleepMs(50);
    expect(calls).toBe(0);
  });

  it('a directory without memory.oom_control throws ENOENT and leaves no eventfd', () => {
    const before = eventfds();
    expect(() => watchOomV1(`${layout!.controllers.memory!.mountPoint}/no-such-cgroup-${process.pid}`, eventfd, () => {}, () => {})).toThrow(/ENOENT/);
    expect(eventfds()).toEqual(before);
  });

  it('oomProbeV1: no OOM, no notification; an OOM of the cgroup, mayHaveKilled; close() closes the eventfd and answers true', async () => {
    const cg = Cgroup.create(`${parent}/probe`, { memory: { limit: 32 * MiB, swap: 32 * MiB } }, { layout: layout!, devices: false, hierarchies: 'needed' });
    const before = eventfds();
    const probe = oomProbeV1(cg.dirs.v1.memory!, eventfd, readAvailable);
    expect(eventfds().length).toBe(before.length + 1);
    const quiet = holdShell('exit 0');
    cg.addProcess(quiet.pid);
    quiet.release();
    await quiet.exited;
    expect(probe.mayHaveKilled()).toBe(false);
    const held = holdShell('exec dd if=/dev/zero of=/dev/null bs=64M count=1');
    cg.addProcess(held.pid);
    held.release();
    expect(await held.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(probe.mayHaveKilled()).toBe(true);
    expect(cg.oomKills()).toBe(1);
    probe.close();
    probe.close();
    expect(eventfds()).toEqual(before);
    expect(probe.mayHaveKilled()).toBe(true);
    await cg.destroy();
  });

  it('oomProbeV1 of a directory without memory.oom_control throws ENOENT and leaves no eventfd', () => {
    const before = eventfds();
    expect(() => oomProbeV1(`${layout!.controllers.memory!.mountPoint}/no-such-cgroup-${process.pid}`, eventfd, readAvailable)).toThrow(/ENOENT/);
    expect(eventfds()).toEqual(before);
  });
});
