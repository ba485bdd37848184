/**
 * cgroup v1 for real, on this machine's v1/v2 hybrid (root only): each test makes its cgroup
 * under its own parent /ns-test-<pid>-<random> in every hierarchy, places a plain `sh` started
 * with child_process in it (through cgroup.procs, before the shell runs its command), and
 * checks the kernel enforces the limit. afterAll kills what the file started and removes the
 * parent everywhere, even after a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceRules, v1DeviceWrites } from '../src/devices.js';
import { detectLayout } from '../src/layout.js';
import { Cgroup } from '../src/manager.js';
import { allDirs } from '../src/path.js';
import type { LinuxResources } from '../src/types.js';
import { holdShell, killStarted, removeParent, sleepMs, testParent } from './helpers/held.js';

const root = process.getuid?.() === 0;
const layout = root ? detectLayout() : undefined;
const v1 = !!layout && ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer'].every((c) => layout.controllers[c]?.version === 1);
const MiB = 1024 * 1024;
const parent = testParent();
let n = 0;

/** A new cgroup under the test parent, and a held shell placed in it. */
function setup(resources: LinuxResources, cmd: string, options: { devices?: boolean } = {}) {
  const cg = Cgroup.create(`${parent}/c${n++}`, resources, { layout: layout!, devices: options.devices ?? false });
  const held = holdShell(cmd);
  cg.addProcess(held.pid);
  return { cg, held };
}

describe.skipIf(!root || !v1)('cgroup v1 for real (root, v1 controllers)', () => {
  afterAll(async () => {
    killStarted();
    await removeParent(parent, { layout: layout! });
    for (const dir of allDirs(Cgroup.open(parent, { layout: layout! }).dirs)) expect(existsSync(dir), dir).toBe(false);
  });

  it('memory limit 32 MiB: a process allocating 64 MiB is OOM-killed and stats count the kill', async () => {
    const { cg, held } = setup({ memory: { limit: 32 * MiB, swap: 32 * MiB } }, 'exec dd if=/dev/zero of=/dev/null bs=64M count=1');
    expect(readFileSync(join(cg.dirs.v1.memory!, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(32 * MiB));
    held.release();
    expect(await held.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const mem = cg.stats().memory!;
    expect(mem.oomKills).toBeGreaterThanOrEqual(1);
    expect(mem.limit).toBe(32 * MiB);
    expect(mem.maxUsage).toBeLessThanOrEqual(32 * MiB);
    await cg.destroy();
  });

  it('pids.limit 16 stops a fork loop at 16', async () => {
    const { cg, held } = setup({ pids: { limit: 16 } }, 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; wait');
    held.release();
    await held.exited;
    expect(held.stderr()).toMatch(/fork/i);
    expect(readFileSync(join(cg.dirs.v1.pids!, 'pids.events'), 'utf8')).toMatch(/^max [1-9]/m);
    const { pids } = cg.stats();
    expect(pids!.limit).toBe(16);
    expect(pids!.current).toBeLessThanOrEqual(16);
    expect(pids!.current).toBeGreaterThanOrEqual(10); // the sleeps that did start
    await cg.killAll();
    expect(cg.pids()).toEqual([]);
    await cg.destroy();
  });

  it('cpu quota of half a core keeps a busy loop well under one core', async () => {
    const { cg, held } = setup({ cpu: { quota: 50_000, period: 100_000 } }, 'while :; do :; done');
    held.release();
    await sleepMs(200);
    const t0 = process.hrtime.bigint();
    const u0 = cg.stats().cpu!.usageNs;
    await sleepMs(1000);
    const u1 = cg.stats().cpu!.usageNs;
    const wall = Number(process.hrtime.bigint() - t0);
    const ratio = (u1 - u0) / wall;
    expect(ratio).toBeGreaterThan(0.05); // it ran
    expect(ratio).toBeLessThan(0.8); // but capped near 0.5 of a core
    expect(cg.stats().cpu!.throttledPeriods).toBeGreaterThan(0);
    await cg.killAll();
    await cg.destroy();
  });

  it('cpuset pins to one CPU', async () => {
    const { cg, held } = setup({ cpu: { cpus: '0', mems: '0' } }, 'grep Cpus_allowed_list /proc/self/status');
    expect(readFileSync(`/proc/${held.pid}/status`, 'utf8')).toMatch(/^Cpus_allowed_list:\s+0$/m);
    held.release();
    await held.exited;
    expect(held.stdout()).toMatch(/^Cpus_allowed_list:\s+0$/m);
    await cg.destroy();
  });

  it('a CPU outside the host set fails with the errno, naming the field and file, and leaves no cgroup', () => {
    const path = `${parent}/badcpu`;
    expect(() => Cgroup.create(path, { cpu: { cpus: '63' } }, { layout: layout!, devices: false })).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^E(RANGE|INVAL)$/), jsonPath: 'linux.resources.cpu.cpus', path: `${layout!.controllers.cpuset!.mountPoint}${path}/cpuset.cpus` }),
    );
    expect(allDirs(Cgroup.open(path, { layout: layout! }).dirs).filter((d) => existsSync(d))).toEqual([]);
  });

  it("devices: runc's defaults allow /dev/null and deny /dev/kmsg; a config rule opens it", async () => {
    const probe = '( : < /dev/null ) 2>/dev/null; echo null=$?; ( : < /dev/kmsg ) 2>/dev/null; echo kmsg=$?; ( : > /dev/full ) 2>/dev/null; echo full=$?';
    const a = setup({ devices: [{ allow: false, access: 'rwm' }] }, probe, { devices: true });
    const list = readFileSync(join(a.cg.dirs.v1.devices!, 'devices.list'), 'utf8');
    expect(list).toContain('c 1:3 rwm');
    // The allow rules go through one descriptor (CgroupSys.openWriter), one write(2) each: the
    // kernel parses each alone, so every rule is there, not just the first.
    expect(list.trim().split('\n').sort()).toEqual(v1DeviceWrites(deviceRules([{ allow: false, access: 'rwm' }], { defaults: true })).filter((w) => w.file === 'devices.allow').map((w) => w.value).sort());
    a.held.release();
    await a.held.exited;
    expect(a.held.stdout()).toBe('null=0\nkmsg=2\nfull=0\n');
    const b = setup({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }] }, probe, { devices: true });
    b.held.release();
    await b.held.exited;
    expect(b.held.stdout()).toBe('null=0\nkmsg=0\nfull=0\n');
    await a.cg.destroy();
    await b.cg.destroy();
  });

  it('freeze stops a busy loop (FROZEN), thaw lets it run again', async () => {
    const { cg, held } = setup({}, 'while :; do :; done');
    held.release();
    await sleepMs(100);
    await cg.freeze();
    expect(cg.freezerState()).toBe('FROZEN');
    const u0 = cg.stats().cpu!.usageNs;
    await sleepMs(300);
    const frozenUse = cg.stats().cpu!.usageNs - u0;
    expect(frozenUse).toBeLessThan(20_000_000); // < 20 ms of CPU in 300 ms
    cg.thaw();
    expect(cg.freezerState()).toBe('THAWED');
    await sleepMs(300);
    expect(cg.stats().cpu!.usageNs - u0 - frozenUse).toBeGreaterThan(20_000_000);
    await cg.killAll();
    await cg.destroy();
  });

  it('update re-applies limits on a live cgroup', async () => {
    const { cg, held } = setup({ memory: { limit: 64 * MiB }, pids: { limit: 100 } }, 'sleep 30');
    held.release();
    cg.update({ memory: { limit: 48 * MiB, swap: 48 * MiB }, pids: { limit: 50 } });
    expect(readFileSync(join(cg.dirs.v1.memory!, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(48 * MiB));
    expect(readFileSync(join(cg.dirs.v1.pids!, 'pids.max'), 'utf8').trim()).toBe('50');
    cg.update({ memory: { limit: 96 * MiB, swap: 128 * MiB } }); // raising both: memsw first, then the limit
    expect(readFileSync(join(cg.dirs.v1.memory!, 'memory.memsw.limit_in_bytes'), 'utf8').trim()).toBe(String(128 * MiB));
    await cg.destroy(); // kills the sleep
    expect((await held.exited).signal).toBe('SIGKILL');
  });

  it('kill-all and destroy: every process gone (cgroup.kill on the hybrid cgroup2 side), every directory removed', async () => {
    const { cg, held } = setup({}, 'sleep 30 & sleep 30 & sleep 30 & wait');
    held.release();
    await sleepMs(100);
    if (cg.dirs.unified) expect(readFileSync(join(cg.dirs.unified, 'cgroup.procs'), 'utf8')).toContain(String(held.pid));
    expect(cg.pids().length).toBe(4);
    await cg.destroy();
    expect((await held.exited).signal).toBe('SIGKILL');
    for (const dir of allDirs(cg.dirs)) expect(existsSync(dir), dir).toBe(false);
  });

  it('hugepageLimits: not honourable here (hugetlb not enabled below the cgroup2 root) is ERR_NS_CONFIG naming it', () => {
    if (layout!.controllers.hugetlb?.version !== 2) return;
    expect(() => Cgroup.create(`${parent}/huge`, { hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }, { layout: layout!, devices: false })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: 'linux.resources.hugepageLimits[0].limit' }),
    );
  });
});
