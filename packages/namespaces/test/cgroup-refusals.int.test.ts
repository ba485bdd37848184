// What a start with a cgroup refuses, for real: here on cgroup v1 (hybrid), and in the
// cgroup-v2-only VM by cgroup-v2-vm.int.test.ts. Every cgroup lives under this file's own
// parent (/ns-test-refuse-<pid>), removed at the end; nothing is written to the host's cgroups.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cgroup, allDirs, cgroupDirs, type LinuxResources } from '@ns/cgroups';
import { exec, hostCgroupLayout, rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, isRoot } from './helpers.js';

const MiB = 1024 * 1024;
const parent = `/ns-test-refuse-${process.pid}`;
const layout = isRoot ? hostCgroupLayout() : undefined;
const ready = !!layout && ['memory', 'pids'].every((c) => layout.controllers[c]);
let n = 0;

/** A busybox container with resources and a cgroup under this file's parent. */
function limited(script: string, resources: LinuxResources, o: Partial<Container> = {}): Container {
  const id = `rf${n++}`;
  return rootfsContainer(ROOTFS, { id, args: ['/bin/sh', '-c', script], resources, cgroupsPath: `${parent}/${id}`, ...o });
}

/** The container's cgroup directories, in every hierarchy. */
const dirsOf = (c: Container) => allDirs(cgroupDirs(layout!, c.cgroupsPath!));

describe.skipIf(!isRoot || !ROOTFS || !ready)('a start with a cgroup refuses, leaving nothing', () => {
  afterAll(async () => {
    await Cgroup.open(parent, { layout: layout! })
      .destroy()
      .catch(() => undefined);
    for (const dir of allDirs(cgroupDirs(layout!, parent))) expect(existsSync(dir), dir).toBe(false);
  });

  it('a cgroupsPath whose existing subtree holds a process is refused; the process and its cgroup are left alone', async () => {
    // A process of the host's in a child cgroup of the path, in one hierarchy only (pids on v1).
    const sleeper = spawn('sleep', ['100'], { stdio: 'ignore' });
    const svc = Cgroup.create(`${parent}/busy/svc`, { pids: { limit: 100 } }, { layout: layout!, devices: false, hierarchies: 'needed' });
    try {
      svc.addProcess(sleeper.pid!);
      const c = limited('true', { memory: { limit: 64 * MiB }, pids: { limit: 8 } }, { cgroupsPath: `${parent}/busy` });
      expect(() => exec(c, { stdio: 'ignore' })).toThrow(expect.objectContaining({ code: 'ERR_NS_STATE', message: expect.stringMatching(new RegExp(`already holds processes, in it or in its child cgroups \\(${sleeper.pid}\\)`)) }));
      expect(sleeper.exitCode).toBeNull();
      expect(svc.pids()).toEqual([sleeper.pid]);
      // What the refused start made is gone; what was there stays.
      const kept = new Set(allDirs(cgroupDirs(layout!, `${parent}/busy`)).filter((d) => allDirs(svc.dirs).some((s) => s.startsWith(`${d}/`))));
      for (const d of dirsOf(c)) expect(existsSync(d), d).toBe(kept.has(d));
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => (sleeper.exitCode === null && sleeper.signalCode === null ? sleeper.once('exit', r) : r(null)));
      await svc.destroy();
      await Cgroup.open(`${parent}/busy`, { layout: layout! }).destroy();
    }
  });

  it('a process in the cgroupsPath of a hierarchy the container would not need (v1 freezer, hybrid cgroup2) is refused too', async () => {
    // Not made by the container, yet its ps, pause, kill --all and delete would act there.
    const mounts = [...layout!.v1.filter((h) => h.controllers.includes('freezer')).map((h) => h.mountPoint), ...(layout!.mode === 'hybrid' && layout!.unified ? [layout!.unified.mountPoint] : [])];
    for (const [k, mount] of mounts.entries()) {
      // At the top: no parent of it exists anywhere (a parent's hierarchies are taken in anyway).
      const path = `${parent}-foreign${k}`;
      const svc = join(mount, path, 'svc');
      const sleeper = spawn('sleep', ['100'], { stdio: 'ignore' });
      try {
        mkdirSync(svc, { recursive: true });
        writeFileSync(join(svc, 'cgroup.procs'), String(sleeper.pid));
        const c = limited('true', { pids: { limit: 8 } }, { cgroupsPath: path });
        expect(() => exec(c, { stdio: 'ignore' }), mount).toThrow(expect.objectContaining({ code: 'ERR_NS_STATE', message: expect.stringMatching(/already holds processes/) }));
        expect(sleeper.exitCode).toBeNull();
        expect(readFileSync(join(svc, 'cgroup.procs'), 'utf8').trim()).toBe(String(sleeper.pid));
        for (const d of dirsOf(c).filter((d) => !d.startsWith(`${mount}/`))) expect(existsSync(d), d).toBe(false);
      } finally {
        sleeper.kill('SIGKILL');
        await new Promise((r) => (sleeper.exitCode === null && sleeper.signalCode === null ? sleeper.once('exit', r) : r(null)));
        for (const d of [svc, join(mount, path)]) if (existsSync(d)) rmdirSync(d);
      }
    }
  });

  it('a memory limit too small for the set-up: ERR_NS_CONFIG naming linux.resources.memory.limit, this process unharmed', () => {
    // On v2 the child is born in the cgroup while it still shares this process's memory (till
    // it execs ns-init): the OOM killer must not take it, and with it this process.
    const c = limited('true', { memory: { limit: 4096, swap: 4096 } });
    expect(() => exec(c, { stdio: 'ignore' })).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'linux.resources.memory.limit', message: expect.stringMatching(/^linux\.resources\.memory\.limit: 4096 bytes \(memory\.(max|limit_in_bytes)\) is too small to start the container/) }),
    );
    for (const d of dirsOf(c)) expect(existsSync(d), d).toBe(false);
    // A limit it can start under runs as before.
    expect(() => exec(limited('true', { memory: { limit: 64 * MiB } }), { stdio: 'ignore' })).not.toThrow();
  });
});
