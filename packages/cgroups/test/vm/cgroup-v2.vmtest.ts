/**
 * cgroup v2 for real, run inside the cgroup-v2-only VM by v2-vm.int.test.ts (not picked up by
 * the normal test projects: the name does not end in .test.ts). Root, /sys/fs/cgroup is cgroup2
 * with every controller enabled at the root, this process lives in /init.scope. Each test makes
 * its cgroup under /ns-test-<pid>-<random>, places a plain `sh` in it through cgroup.procs
 * before the shell runs its command, and checks what the kernel does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectLayout } from '../../src/layout.js';
import { Cgroup, type CgroupOptions } from '../../src/manager.js';
import type { LinuxResources } from '../../src/types.js';
import { attachWith } from '../helpers/bpf-attach.js';
import { holdShell, killStarted, removeParent, sleepMs, testParent } from '../helpers/held.js';

const root = process.getuid?.() === 0;
const layout = root ? detectLayout() : undefined;
const unified = layout?.mode === 'unified';
const MiB = 1024 * 1024;
const parent = testParent();
const loader = process.env.NS_BPF_ATTACH;
let n = 0;

function setup(resources: LinuxResources, cmd: string, options: CgroupOptions = {}) {
  const cg = Cgroup.create(`${parent}/c${n++}`, resources, { layout: layout!, devices: false, ...options });
  const held = holdShell(cmd);
  cg.addProcess(held.pid);
  return { cg, held };
}
const read = (cg: Cgroup, file: string): string => readFileSync(join(cg.dirs.unified!, file), 'utf8').trim();

describe.skipIf(!root || !unified)('cgroup v2 for real (root, cgroup2 only)', () => {
  afterAll(async () => {
    killStarted();
    await removeParent(parent, { layout: layout! });
    expect(existsSync(join(layout!.unified!.mountPoint, parent))).toBe(false);
  });

  it('create enables the controllers below the top and writes memory.max / memory.swap.max / cpu.weight', async () => {
    const { cg, held } = setup({ memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { shares: 512 } }, 'true');
    expect(read(cg, 'cgroup.controllers').split(' ')).toEqual(expect.arrayContaining(['cpu', 'memory', 'pids', 'io']));
    expect(read(cg, 'memory.max')).toBe(String(64 * MiB));
    expect(read(cg, 'memory.swap.max')).toBe('0');
    expect(read(cg, 'cpu.weight')).toBe('59');
    held.release();
    await held.exited;
    await cg.destroy();
  });

  it('memory.max 32 MiB: a process allocating 64 MiB is OOM-killed; memory.events counts it', async () => {
    const { cg, held } = setup({ memory: { limit: 32 * MiB, swap: 32 * MiB } }, 'exec dd if=/dev/zero of=/dev/null bs=64M count=1');
    held.release();
    expect(await held.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const mem = cg.stats().memory!;
    expect(mem.oomKills).toBeGreaterThanOrEqual(1);
    expect(mem.oomEvents).toBeGreaterThanOrEqual(1);
    expect(mem.limit).toBe(32 * MiB);
    await cg.destroy();
  });

  it('pids.max 16 stops a fork loop', async () => {
    const { cg, held } = setup({ pids: { limit: 16 } }, 'i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); done; wait');
    held.release();
    await held.exited;
    expect(held.stderr()).toMatch(/fork/i);
    expect(read(cg, 'pids.events')).toMatch(/^max [1-9]/m);
    expect(cg.stats().pids!.current).toBeLessThanOrEqual(16);
    await cg.destroy();
  });

  it('cpu.max of half a core keeps a busy loop well under one core', async () => {
    const { cg, held } = setup({ cpu: { quota: 50_000, period: 100_000 } }, 'while :; do :; done');
    expect(read(cg, 'cpu.max')).toBe('50000 100000');
    held.release();
    await sleepMs(300);
    const t0 = process.hrtime.bigint();
    const u0 = cg.stats().cpu!.usageNs;
    await sleepMs(1500);
    const ratio = (cg.stats().cpu!.usageNs - u0) / Number(process.hrtime.bigint() - t0);
    expect(ratio).toBeGreaterThan(0.05);
    expect(ratio).toBeLessThan(0.8);
    expect(cg.stats().cpu!.throttledPeriods).toBeGreaterThan(0);
    await cg.destroy();
  });

  it('cgroup.freeze stops a busy loop (cgroup.events frozen 1), thaw resumes it', async () => {
    const { cg, held } = setup({}, 'while :; do :; done');
    held.release();
    await sleepMs(200);
    await cg.freeze(20_000);
    expect(cg.freezerState()).toBe('FROZEN');
    expect(read(cg, 'cgroup.events')).toMatch(/^frozen 1$/m);
    const u0 = cg.stats().cpu!.usageNs;
    await sleepMs(500);
    const frozen = cg.stats().cpu!.usageNs - u0;
    expect(frozen).toBeLessThan(30_000_000);
    cg.thaw();
    await sleepMs(500);
    expect(cg.freezerState()).toBe('THAWED');
    expect(cg.stats().cpu!.usageNs - u0 - frozen).toBeGreaterThan(30_000_000);
    await cg.destroy();
  });

  it('cgroup.kill ends every process at once; destroy leaves nothing', async () => {
    const { cg, held } = setup({}, 'sleep 60 & sleep 60 & sleep 60 & wait');
    held.release();
    await sleepMs(300);
    expect(cg.pids()).toHaveLength(4);
    expect(existsSync(join(cg.dirs.unified!, 'cgroup.kill'))).toBe(true);
    await cg.killAll();
    expect((await held.exited).signal).toBe('SIGKILL');
    expect(cg.pids()).toEqual([]);
    expect(read(cg, 'cgroup.events')).toMatch(/^populated 0$/m);
    await cg.destroy();
    expect(existsSync(cg.dirs.unified!)).toBe(false);
  });

  it('io weight: io.bfq.weight when BFQ is there, else io.weight converted', () => {
    const cg = Cgroup.create(`${parent}/io`, { blockIO: { weight: 500 } }, { layout: layout!, devices: false });
    if (existsSync(join(cg.dirs.unified!, 'io.bfq.weight'))) expect(read(cg, 'io.bfq.weight')).toMatch(/500/);
    else expect(read(cg, 'io.weight')).toBe('default 4950');
  });

  it('hugetlb, rdma-free unified keys and memory.low; an unknown unified key is ERR_NS_CONFIG naming it', () => {
    const cg = Cgroup.create(`${parent}/misc`, {
      memory: { reservation: 8 * MiB },
      hugepageLimits: [{ pageSize: '2MB', limit: 8 * MiB }],
      unified: { 'memory.high': String(100 * MiB), 'cgroup.max.descendants': '5' },
    }, { layout: layout!, devices: false });
    expect(read(cg, 'memory.low')).toBe(String(8 * MiB));
    expect(read(cg, 'hugetlb.2MB.max')).toBe(String(8 * MiB));
    expect(read(cg, 'memory.high')).toBe(String(100 * MiB));
    expect(read(cg, 'cgroup.max.descendants')).toBe('5');
    expect(() => Cgroup.create(`${parent}/bogus`, { unified: { 'memory.bogus': '1' } }, { layout: layout!, devices: false })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: 'linux.resources.unified["memory.bogus"]' }),
    );
    expect(existsSync(join(layout!.unified!.mountPoint, parent, 'bogus'))).toBe(false);
    expect(() => Cgroup.create(`${parent}/swp`, { memory: { swappiness: 10 } }, { layout: layout!, devices: false })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: 'linux.resources.memory.swappiness' }),
    );
  });

  it('checkBeforeUpdate refuses a memory.max below what the process uses; the process lives on', async () => {
    const { cg, held } = setup({}, "x=$(head -c 12000000 /dev/zero | tr '\\0' a); echo ready; sleep 60");
    held.release();
    for (let i = 0; i < 200 && !held.stdout().includes('ready'); i++) await sleepMs(50);
    expect(cg.stats().memory!.usage).toBeGreaterThan(4 * MiB);
    expect(() => cg.update({ memory: { limit: 4 * MiB, checkBeforeUpdate: true } })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: 'linux.resources.memory.checkBeforeUpdate' }),
    );
    expect(read(cg, 'memory.max')).toBe('max');
    expect(cg.pids()).toContain(held.pid);
    await cg.destroy();
  });

  it('devices: the BPF filter through attachDeviceFilter allows /dev/null and denies /dev/kmsg', async (ctx) => {
    if (!loader) return ctx.skip('NS_BPF_ATTACH (the test-only BPF loader) not given: no C compiler on the host');
    const probe = 'for d in null kmsg; do ( : < /dev/$d ) 2>&-; echo $d=$?; done';
    const { cg, held } = setup({ devices: [{ allow: false, access: 'rwm' }] }, probe, { devices: true, attachDeviceFilter: attachWith(loader) });
    held.release();
    await held.exited;
    expect(held.stdout()).toBe('null=0\nkmsg=2\n');
    await cg.destroy();
    expect(() => Cgroup.create(`${parent}/nohook`, {}, { layout: layout! })).toThrow(expect.objectContaining({ jsonPath: 'linux.resources.devices' }));
    expect(existsSync(join(layout!.unified!.mountPoint, parent, 'nohook'))).toBe(false);
  });
});
