// linux.resources through exec() and the lifecycle (issue 10), for real: on this machine's
// cgroup v1 (hybrid), and in a cgroup-v2-only VM by cgroup-v2-vm.int.test.ts, which runs this
// same file there. Every container's cgroup lives under a parent of this file's own
// (/ns-test-<pid>), removed at the end; nothing is written to the host's own cgroups.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Cgroup, allDirs, cgroupDirs, neededHierarchies, type LinuxResources } from '@ns/cgroups';
import {
  StateStore,
  containerPids,
  containerStats,
  currentStatus,
  deleteContainer,
  exec,
  execAsync,
  execIn,
  execInAsync,
  hostCgroupLayout,
  killContainer,
  pauseContainer,
  resumeContainer,
  rootfsContainer,
  runContainer,
  updateContainer,
  validatedContainer,
  type Container,
} from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

const MiB = 1024 * 1024;
const parent = `/ns-test-${process.pid}`;
const layout = isRoot ? hostCgroupLayout() : undefined;
const v2 = layout?.mode === 'unified';
/** The controllers these tests need, wherever the host has them. */
const ready = !!layout && ['memory', 'pids', 'cpu', 'cpuset'].every((c) => layout.controllers[c]);
let n = 0;

/** A busybox container with resources and a cgroup under this file's parent. */
function limited(script: string, resources: LinuxResources, o: Partial<Container> = {}): Container {
  const id = `cg${n++}`;
  return rootfsContainer(ROOTFS, { id, args: ['/bin/sh', '-c', script], resources, cgroupsPath: `${parent}/${id}`, ...o });
}

/** The container's cgroup directories, in every hierarchy. */
const dirsOf = (c: Container) => allDirs(cgroupDirs(layout!, c.cgroupsPath!));

describe.skipIf(!isRoot || !ROOTFS || !ready)(`linux.resources for real (cgroup ${v2 ? 'v2' : 'v1'})`, () => {
  const before = hostMounts();
  afterAll(async () => {
    await Cgroup.open(parent, { layout: layout! })
      .destroy()
      .catch(() => undefined);
    for (const dir of allDirs(cgroupDirs(layout!, parent))) expect(existsSync(dir), dir).toBe(false);
    expect(hostMounts()).toEqual(before);
  });

  it('memory limit 32 MiB: a process allocating 64 MiB is OOM-killed, wait() says oomKilled, the cgroup is gone', async () => {
    const c = limited('exec dd if=/dev/zero of=/dev/null bs=64M count=1', { memory: { limit: 32 * MiB, swap: 32 * MiB } });
    const r = await run(c);
    expect(r).toMatchObject({ exitCode: null, signal: 'SIGKILL', oomKilled: true });
    for (const dir of dirsOf(c)) expect(existsSync(dir), dir).toBe(false);
  });

  it('a process of the container OOM-killed while the container ends well: oomKilled (v1: from the cgroup\'s OOM notification), no descriptor kept', async () => {
    // The probe's eventfd (v1) is closed at the exit (other descriptors come and go: the claim log).
    const eventfds = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]';
      } catch {
        return false; // the directory's own descriptor, gone
      }
    }).length;
    const before = eventfds();
    const c = limited('dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd $?', { memory: { limit: 32 * MiB, swap: 32 * MiB } });
    const r = await run(c);
    expect(r).toMatchObject({ exitCode: 0, signal: null, oomKilled: true, stdout: 'dd 137\n' });
    expect(eventfds()).toBe(before);
  });

  it('a container within its limits exits with oomKilled false', async () => {
    expect(await run(limited('exit 3', { memory: { limit: 64 * MiB } }))).toMatchObject({ exitCode: 3, oomKilled: false });
  });

  it('pids.limit 16 stops a fork loop at 16', async () => {
    // Each fork's number first: the shell (one of the 16) stops at the fork the limit refuses.
    const r = await run(limited('i=0; while [ $i -lt 40 ]; do echo $i; sleep 30 & i=$((i+1)); done', { pids: { limit: 16 } }));
    expect(r.stderr).toMatch(/can't fork/);
    expect(Number(r.stdout.trim().split('\n').at(-1))).toBe(15);
  });

  it('cpu quota of half a core keeps a busy loop well under one core (stats on the handle)', async () => {
    const p = exec(limited('while :; do :; done', { cpu: { quota: 50_000, period: 100_000 } }), { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const t0 = process.hrtime.bigint();
      const u0 = p.stats().cpu!.usageNs;
      await new Promise((r) => setTimeout(r, 1000));
      const ratio = (p.stats().cpu!.usageNs - u0) / Number(process.hrtime.bigint() - t0);
      expect(ratio).toBeGreaterThan(0.05);
      expect(ratio).toBeLessThan(0.8);
    } finally {
      p.kill('SIGKILL');
      await p.wait();
    }
    // Once it has exited: no stats, pause (which would make a freezer cgroup), resume or update.
    const exited = expect.objectContaining({ code: 'ERR_NS_STATE', message: expect.stringMatching(/has exited/) });
    await expect(p.pause()).rejects.toThrow(exited);
    for (const call of [() => p.stats(), () => p.resume(), () => p.update({ pids: { limit: 9 } })]) expect(call).toThrow(exited);
    for (const dir of allDirs(p.cgroup!.dirs)) expect(existsSync(dir), dir).toBe(false);
    expect(existsSync(join(hostCgroupLayout().v1.find((h) => h.controllers.includes('freezer'))?.mountPoint ?? '/nonexistent', p.cgroup!.path))).toBe(false);
  });

  it('cpuset pins the container to one CPU', async () => {
    const r = await run(limited('grep Cpus_allowed_list /proc/self/status', { cpu: { cpus: '0' } }));
    expect(r.stdout).toMatch(/^Cpus_allowed_list:\s+0$/m);
  });

  it('devices: the defaults are made with mknod and open; a host device the rules do not allow does not', async () => {
    // /dev/kmsg bound in with `dev` (no nodev): only the devices cgroup stands in the way.
    const c = limited(
      'echo x > /dev/null && echo null-ok; grep -c " /dev/null " /proc/self/mountinfo; head -c 1 /kmsg >/dev/null 2>&1 && echo kmsg-opened || echo kmsg-denied',
      {},
    );
    c.mounts = [...(c.mounts ?? []), { destination: '/kmsg', type: 'bind', source: '/dev/kmsg', options: ['bind', 'dev'] }];
    const r = await run(c);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['null-ok', '0', 'kmsg-denied']);
  });

  it('SIGKILL into a paused container ends it (v1: thawed after), by the handle and by killContainer()', async () => {
    const p = exec(limited('sleep 30', { pids: { limit: 8 } }), { stdio: 'ignore' });
    await p.pause();
    p.kill('SIGKILL');
    expect(await p.wait()).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    const dir = mkdtempSync(join(tmpdir(), 'ns-cg-kill-'));
    const store = new StateStore(dir);
    const c = limited('sleep 30', { pids: { limit: 8 } });
    try {
      runContainer(c, { store, stdio: 'ignore', detached: true });
      await pauseContainer(store, c.id);
      killContainer(store, c.id, 'SIGKILL', { all: true });
      await vi.waitFor(() => expect(currentStatus(store.read(c.id))).toBe('stopped'), { timeout: 5000, interval: 20 });
    } finally {
      await deleteContainer(store, c.id, { force: true }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pause, resume, update, stats, ps and delete through the store; delete removes the cgroup', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-cg-store-'));
    const store = new StateStore(dir);
    const c = limited('sleep 60 & sleep 60; true', { pids: { limit: 32 } });
    try {
      const { state } = runContainer(c, { store, stdio: 'ignore', detached: true });
      await new Promise((r) => setTimeout(r, 100));
      expect(containerPids(state)).toHaveLength(3); // sh and two sleeps, from the cgroup
      if (!v2) {
        // v1: only the hierarchies it needs (pids for its limit; devices, memory, cpuacct always;
        // freezer once paused), and those its parent exists in (made there for an earlier
        // container, or by the kubelet for a pod: linux.cgroupsPath follows its parent).
        const made = layout!.v1.filter((h) => existsSync(join(h.mountPoint, c.cgroupsPath!))).map((h) => h.controllers.join(','));
        for (const need of ['pids', 'devices', 'memory', 'cpuacct']) expect(made.join(' ')).toContain(need);
        for (const skip of ['blkio', 'cpuset', 'freezer']) {
          const h = layout!.controllers[skip];
          if (h?.version === 1) expect(made.includes(skip)).toBe(existsSync(join(h.mountPoint, parent)));
        }
      }
      await pauseContainer(store, c.id);
      expect(currentStatus(store.read(c.id))).toBe('paused');
      const freezerDir = layout!.v1.find((h) => h.controllers.includes('freezer'));
      if (!v2 && freezerDir) {
        // Made by the pause, with every process in it, frozen.
        const dir = join(freezerDir.mountPoint, c.cgroupsPath!);
        expect(readFileSync(join(dir, 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
        expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number).sort()).toEqual([...containerPids(store.read(c.id))].sort());
      }
      resumeContainer(store, c.id);
      expect(currentStatus(store.read(c.id))).toBe('running');
      updateContainer(store, c.id, { pids: { limit: 8 } });
      expect(containerStats(store, c.id).pids).toMatchObject({ limit: 8, current: 3 });
      // A process started in it joins its cgroup (as runc exec).
      const joined = execIn(store.read(c.id), { args: ['cat', '/proc/self/cgroup'] }, { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      joined.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await joined.wait();
      // No cgroup namespace in rootfsContainer(): the full path.
      expect(out).toMatch(new RegExp(v2 ? `^0::${c.cgroupsPath}$` : `:pids:${c.cgroupsPath}$`, 'm'));
      expect(containerStats(store, c.id).pids!.current).toBe(3);
      await deleteContainer(store, c.id, { force: true });
      for (const d of dirsOf(c)) expect(existsSync(d), d).toBe(false);
    } finally {
      await deleteContainer(store, c.id, { force: true }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('execIn() into a paused container fails at once with ERR_NS_STATE (runc exec), starting nothing; ignorePaused starts it frozen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-cg-paused-'));
    const store = new StateStore(dir);
    const c = limited('sleep 60', { pids: { limit: 32 } });
    try {
      runContainer(c, { store, stdio: 'ignore', detached: true });
      await pauseContainer(store, c.id);
      const pids = containerPids(store.read(c.id));
      // Before the fix the process joined the frozen cgroup, froze there, and the set-up
      // waited for it for good (a frozen process does not die of SIGKILL): execIn() blocked.
      const paused = { code: 'ERR_NS_STATE', message: `cannot exec in a paused container: ${c.id} (resume it first, or pass ignorePaused)` };
      expect(() => execIn(store.read(c.id), { args: ['true'] }, { stdio: 'ignore' })).toThrow(expect.objectContaining(paused));
      await expect(execInAsync(store.read(c.id), { args: ['true'] }, { stdio: 'ignore' })).rejects.toMatchObject(paused);
      expect(containerPids(store.read(c.id))).toEqual(pids);
      // As `runc exec --ignore-paused`: it joins, frozen, and runs once resumed.
      const started = execInAsync(store.read(c.id), { args: ['sh', '-c', 'exit 4'] }, { stdio: 'ignore', ignorePaused: true });
      for (let i = 0; i < 100 && containerPids(store.read(c.id)).length === pids.length; i++) await new Promise((r) => setTimeout(r, 50));
      expect(containerPids(store.read(c.id))).toHaveLength(pids.length + 1);
      resumeContainer(store, c.id);
      expect(await (await started).wait()).toMatchObject({ exitCode: 4 });
    } finally {
      await deleteContainer(store, c.id, { force: true }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('/sys/fs/cgroup inside: its own cgroup only', () => {
    const cgroupMount = (mode: 'ro' | 'rw') => ({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', mode] });
    /** A container with a memory limit listing its /sys/fs/cgroup, with or without a cgroup namespace. */
    const viewer = (cgroupns: boolean, mode: 'ro' | 'rw', script: string) => {
      const c = limited(script, { memory: { limit: 48 * MiB } });
      c.mounts = [...(c.mounts ?? []), cgroupMount(mode)];
      if (cgroupns) c.namespaces = [...c.namespaces, { type: 'cgroup' }];
      return c;
    };
    // Where the memory limit is, as the container sees it.
    const limitFile = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    /** Directories anywhere below /sys/fs/cgroup, other than the hierarchies themselves: none. */
    const LIST = 'ls /sys/fs/cgroup | tr "\\n" " "; echo; find /sys/fs/cgroup -mindepth 2 -type d | wc -l; find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d -exec sh -c "ls {} | wc -l" \\; | grep -c "^0$"';

    for (const cgroupns of [true, false]) {
      it(`${cgroupns ? 'a cgroup namespace: a fresh mount per hierarchy' : 'no cgroup namespace: binds of its cgroup directories'}; read-only; nothing of the host's tree`, async () => {
        const c = viewer(cgroupns, 'ro', `${LIST}; cat ${limitFile}; echo 1 > ${limitFile} && echo wrote; touch /sys/fs/cgroup/x && echo touched; true`);
        const r = await run(c);
        expect(r.exitCode, r.stderr).toBe(0);
        const [names, nested, empty, limit, ...rest] = r.stdout.trim().split('\n');
        if (v2) {
          // cgroup2 alone, as before: the container's cgroup, no child, no host cgroup.
          expect(names).toContain('memory.max');
        } else {
          // The hierarchies it has a cgroup in (pids, devices, freezer, memory, cpuacct always;
          // the limits' own; cgroup2 on a hybrid host only for a limit there); none it has no
          // cgroup in (blkio, cpuset, name=systemd).
          const needed = neededHierarchies(c.resources!, layout!);
          const want = needed.v1.map((h) => h.mountPoint.split('/').pop()).concat(needed.unified ? [layout!.unified!.mountPoint.split('/').pop()] : []);
          expect(names!.trim().split(' ').sort()).toEqual([...want].sort());
          for (const skip of ['blkio', 'cpuset', 'systemd']) expect(names!.split(' ')).not.toContain(skip);
          expect(Number(empty)).toBe(0); // every hierarchy shows the cgroup's files
        }
        expect(Number(nested)).toBe(0); // no cgroup below: nothing of the host's tree
        expect(Number(limit)).toBe(48 * MiB);
        expect(rest).toEqual([]); // neither the write nor the touch went through
        expect(r.stderr).toMatch(/Read-only file system/);
      });
    }

    it('rw when the mount says so: the container may change its own limit', async () => {
      const r = await run(viewer(true, 'rw', `echo ${64 * MiB} > ${limitFile} && cat ${limitFile}`));
      expect(r.exitCode, r.stderr).toBe(0);
      expect(Number(r.stdout.trim())).toBe(64 * MiB);
    });

    it('a container without a cgroup of its own sees an empty /sys/fs/cgroup on a v1 host (not the host tree)', async () => {
      const c = rootfsContainer(ROOTFS, { id: `nocg${n++}`, args: ['/bin/sh', '-c', 'ls -A /sys/fs/cgroup | wc -l'], namespaces: [...viewer(true, 'ro', '').namespaces] });
      c.mounts = [...(c.mounts ?? []), cgroupMount('ro')];
      const r = await run(c);
      expect(r.exitCode, r.stderr).toBe(0);
      if (!v2) expect(Number(r.stdout.trim())).toBe(0);
    });
  });

  it('bad input fails before the process runs, naming the field, and leaves no cgroup', () => {
    const cpus = limited('true', { cpu: { cpus: '99' } });
    expect(() => exec(cpus, { stdio: 'ignore' })).toThrow(/linux\.resources\.cpu\.cpus/);
    for (const d of dirsOf(cpus)) expect(existsSync(d), d).toBe(false);
    expect(() => exec(limited('true', { memory: { limit: -5 } }), { stdio: 'ignore' })).toThrow(/linux\.resources\.memory\.limit/);
    expect(() => exec(rootfsContainer(ROOTFS, { id: 'esc', args: ['true'], resources: {}, cgroupsPath: 'a/../../x' }), { stdio: 'ignore' })).toThrow(
      /cgroupsPath/,
    );
    expect(() => exec(limited('true', { unified: { 'memory.nope': '1' } }), { stdio: 'ignore' })).toThrow(/unified/);
    // Kernel memory limits: none on v2; on v1 Linux 5.16+ takes the write and ignores it (it ran
    // without the limit before: the file reads back unlimited).
    const [major, minor] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number) as [number, number];
    if (v2 || major > 5 || (major === 5 && minor >= 16)) {
      const kmem = limited('true', { memory: { limit: 64 * MiB, kernel: 16 * MiB } });
      expect(() => exec(kmem, { stdio: 'ignore' })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/linux\.resources\.memory\.kernel/) }));
      for (const d of dirsOf(kmem)) expect(existsSync(d), d).toBe(false);
    }
  });

  it(`${v2 ? 'v2: the process is born in its cgroup (clone3 CLONE_INTO_CGROUP), nothing writes its pid to cgroup.procs' : 'v1: the parent adds the process at the cgroup step'}: exec(), execAsync(), execIn()`, async () => {
    const addProcess = vi.spyOn(Cgroup.prototype, 'addProcess');
    const dir = mkdtempSync(join(tmpdir(), 'ns-cg-born-'));
    const store = new StateStore(dir);
    const c = limited('sleep 60', { pids: { limit: 16 } });
    const where = new RegExp(v2 ? `^0::${parent}/cg\\d+$` : `:pids:${parent}/cg\\d+$`, 'm');
    try {
      const a = await run(limited('cat /proc/self/cgroup', { pids: { limit: 16 } }));
      expect(a.stdout).toMatch(where);
      const p = await execAsync(limited('cat /proc/self/cgroup', { pids: { limit: 16 } }), { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      expect(await p.wait()).toMatchObject({ exitCode: 0 });
      expect(out).toMatch(where);
      runContainer(c, { store, stdio: 'ignore', detached: true });
      const joined = execIn(store.read(c.id), { args: ['cat', '/proc/self/cgroup'] }, { stdio: ['ignore', 'pipe', 'ignore'] });
      out = '';
      joined.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await joined.wait();
      expect(out).toMatch(new RegExp(v2 ? `^0::${c.cgroupsPath}$` : `:pids:${c.cgroupsPath}$`, 'm'));
      expect(addProcess).toHaveBeenCalledTimes(v2 ? 0 : 4);
    } finally {
      addProcess.mockRestore();
      await deleteContainer(store, c.id, { force: true }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed start removes the cgroup it made', () => {
    const c = limited('true', { pids: { limit: 8 } });
    c.args = ['/no/such/program'];
    expect(() => exec(c, { stdio: 'ignore' })).toThrow(/ENOENT/);
    for (const d of dirsOf(c)) expect(existsSync(d), d).toBe(false);
  });
});

describe.runIf(isRoot && !!ROOTFS && ready && v2)('rootless with a delegated cgroup v2 subtree (as nobody)', () => {
  afterAll(async () => {
    await Cgroup.open(`${parent}-rl`, { layout: layout! })
      .destroy()
      .catch(() => undefined);
  });

  it('its limits apply in a cgroup made under the delegated parent, without device rules', async () => {
    // What systemd's user@UID.service gives: a subtree owned by the user, controllers enabled,
    // the user's processes in a leaf of it (self).
    const mount = layout!.unified!.mountPoint;
    const deleg = join(mount, `${parent}-rl`, 'deleg');
    mkdirSync(join(deleg, 'self'), { recursive: true });
    writeFileSync(join(mount, `${parent}-rl`, 'cgroup.subtree_control'), '+memory +pids');
    for (const p of [deleg, ...['cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads'].map((f) => join(deleg, f)), join(deleg, 'self'), join(deleg, 'self', 'cgroup.procs')]) {
      chownSync(p, 65534, 65534);
    }
    const work = mkdtempSync(join(tmpdir(), 'ns-cg-rl-'));
    chmodSync(work, 0o755);
    const script = join(work, 'rl.mjs');
    writeFileSync(
      script,
      `import * as ns from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
process.stdin.once('data', async () => {
  const c = ns.rootfsContainer(${JSON.stringify(ROOTFS)}, { id: 'rl', args: ['/bin/sh', '-c', 'exec dd if=/dev/zero of=/dev/null bs=64M count=1'], resources: { memory: { limit: ${32 * MiB}, swap: ${32 * MiB} } } });
  const path = ns.validatedContainer(c).cgroupsPath;
  const exit = await ns.exec(c, { stdio: 'ignore' }).wait();
  console.log(JSON.stringify({ path, exit }));
  process.exit(0);
});`,
    );
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, script], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 300)); // node is up (setpriv exec'd it: same pid)
      writeFileSync(join(deleg, 'self', 'cgroup.procs'), String(child.pid));
      child.stdin.write('go\n');
      await new Promise((r) => child.once('exit', r));
      expect(err).toBe('');
      const r = JSON.parse(out) as { path: string; exit: { signal: string; oomKilled: boolean } };
      expect(r.path).toBe(`${parent}-rl/deleg/ns/rl`);
      expect(r.exit).toMatchObject({ signal: 'SIGKILL', oomKilled: true });
    } finally {
      child.kill('SIGKILL');
      rmSync(work, { recursive: true, force: true });
    }
  });
});

