import { execFileSync, spawn as spawnProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnAsync, unixAccept, unixListen, type Plan } from '../src/index.js';

// A cgroup2 mount: /sys/fs/cgroup alone (v2 hosts, the VM) or /sys/fs/cgroup/unified (hybrid, here).
const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' - ')[1]?.startsWith('cgroup2 '));
const cgroup2 = mounts.map((l) => l.split(' ')[4]!).find((m) => m === '/sys/fs/cgroup/unified' || m === '/sys/fs/cgroup');
const root = process.getuid?.() === 0;
// A kernel with CLONE_INTO_CGROUP: Linux >= 5.7.
const [major, minor] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number) as [number, number];
const intoCgroupKernel = major > 5 || (major === 5 && minor >= 7);

/** The cgroup2 path of a process (the `0::` line of /proc/PID/cgroup). */
function cgroup2Of(pid: number): string | undefined {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
}

const plan: Plan = { cloneFlags: 0, steps: [{ op: 'sync', name: 'cgroup' }, { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }] };

describe.skipIf(!root || !cgroup2)('spawn with cgroupFd (clone3 CLONE_INTO_CGROUP)', () => {
  // A parent cgroup of the test's own (never the host's), with one child cgroup to start in.
  const parent = `${cgroup2}/ns-test-clone3-${process.pid}`;
  const dir = `${parent}/c`;
  beforeAll(() => mkdirSync(dir, { recursive: true }));
  afterAll(() => {
    for (const d of [dir, parent]) if (existsSync(d)) rmdirSync(d);
  });

  it.skipIf(!intoCgroupKernel)('the child is in the cgroup from its start: at the first sync step, before anyone wrote cgroup.procs', async () => {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    const seen: { cgroup: string | undefined; into: boolean }[] = [];
    try {
      const child = spawn(plan, { cgroupFd: fd, onSync: (_s, _i, pid, _v, into) => void seen.push({ cgroup: cgroup2Of(pid), into }) });
      expect((await child.exited).exitCode).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(seen).toEqual([{ cgroup: `/ns-test-clone3-${process.pid}/c`, into: true }]);
  });

  it.skipIf(!intoCgroupKernel)('spawnAsync() too', async () => {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    const seen: { cgroup: string | undefined; into: boolean }[] = [];
    let pending: Promise<unknown>;
    try {
      pending = spawnAsync(plan, { cgroupFd: fd, onSync: (_s, _i, pid, _v, into) => void seen.push({ cgroup: cgroup2Of(pid), into }) });
    } finally {
      closeSync(fd); // the clone is made within the call
    }
    const child = (await pending) as Awaited<ReturnType<typeof spawnAsync>>;
    expect((await child.exited).exitCode).toBe(0);
    expect(seen).toEqual([{ cgroup: `/ns-test-clone3-${process.pid}/c`, into: true }]);
  });

  it.skipIf(!intoCgroupKernel)('through a front (cloneVia, as ns serve creates): the front clones into the cgroup too, and falls back where it cannot', async () => {
    // The front's side (front/clone.c) as a test executable that carries out a server's messages.
    const FRONT = fileURLToPath(new URL('../front', import.meta.url));
    const tmp = mkdtempSync(join(tmpdir(), 'ns-clone3-front-'));
    try {
      const bin = join(tmp, 'clone-test');
      execFileSync('cc', ['-O2', '-o', bin, join(FRONT, 'handoff.c'), join(FRONT, 'clone.c'), join(FRONT, 'clone-main.c')]);
      const seen: { cgroup: string | undefined; into: boolean; front: boolean }[] = [];
      for (const target of [dir, '/']) {
        const path = join(tmp, 'front.sock');
        const listener = unixListen(path);
        const front = spawnProcess(bin, [path], { stdio: 'ignore' });
        const ended = new Promise<number | null>((resolve) => front.on('exit', resolve));
        const conn = unixAccept(listener, 10_000)!;
        closeSync(listener);
        rmSync(path);
        const fd = openSync(target, constants.O_RDONLY | constants.O_DIRECTORY);
        try {
          const onSync = (_s: unknown, _i: number, pid: number, _v: number, into: boolean) => {
            const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
            seen.push({ cgroup: cgroup2Of(pid), into, front: ppid === front.pid });
          };
          // The front's child, not ours: never watched here (the front reaps it).
          spawn(plan, { cloneVia: conn, cgroupFd: fd, onSync }).release();
          const end = Buffer.alloc(9);
          end.write('X', 0, 'latin1');
          writeSync(conn, end); // status 0, no container to leave alone: the front reaps it
        } finally {
          closeSync(fd);
          closeSync(conn);
        }
        expect(await ended).toBe(0);
      }
      expect(seen).toEqual([
        { cgroup: `/ns-test-clone3-${process.pid}/c`, into: true, front: true },
        { cgroup: cgroup2Of(process.pid), into: false, front: true }, // `/`: no cgroup2 directory, a plain clone
      ]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('falls back to clone(2) where the descriptor is no cgroup2 directory (EBADF): the child stays in ours, intoCgroup false', async () => {
    const ours = cgroup2Of(process.pid);
    const fd = openSync('/', constants.O_RDONLY | constants.O_DIRECTORY);
    const seen: { cgroup: string | undefined; into: boolean }[] = [];
    try {
      const child = spawn(plan, { cgroupFd: fd, earlySync: true, onSync: (_s, _i, pid, _v, into) => void seen.push({ cgroup: cgroup2Of(pid), into }) });
      expect((await child.exited).exitCode).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(seen).toEqual([{ cgroup: ours, into: false }]);
  });

  it('falls back where the cgroup may not hold processes (a parent with controllers in its subtree_control: EBUSY)', async () => {
    // A cgroup with a child cgroup and a domain controller (memory: not a threaded one, which
    // would let it be a thread root) enabled for it: no internal processes.
    const controllers = readFileSync(`${parent}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (!controllers.includes('memory')) return; // hybrid hosts: no controller on v2 (nothing to enable)
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${parent}/cgroup.subtree_control`, '+memory');
    const fd = openSync(parent, constants.O_RDONLY | constants.O_DIRECTORY);
    const seen: boolean[] = [];
    try {
      const child = spawn(plan, { cgroupFd: fd, onSync: (_s, _i, _pid, _v, into) => void seen.push(into) });
      expect((await child.exited).exitCode).toBe(0);
    } finally {
      closeSync(fd);
      writeFileSync(`${parent}/cgroup.subtree_control`, '-memory');
    }
    expect(seen).toEqual([false]);
  });

  it('into a cgroup whose memory runs out before ns-init is exec\'d: the start fails, the OOM killer does not take this process', async () => {
    // The child shares our memory until it execs ns-init (CLONE_VM): were it the OOM killer's
    // victim (this process's mm, the largest in the cgroup), every process sharing that mm
    // would be killed, this one too, and the test run with it. Cloned in the middle of a vfork
    // it is never picked: its charge fails instead.
    const controllers = readFileSync(`${parent}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (!controllers.includes('memory')) return; // hybrid hosts: no controller on v2 (no limit to run out of)
    const { writeFileSync } = await import('node:fs');
    const tiny = `${parent}/tiny`;
    writeFileSync(`${parent}/cgroup.subtree_control`, '+memory');
    mkdirSync(tiny);
    const fd = openSync(tiny, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      writeFileSync(`${tiny}/memory.max`, '4096');
      writeFileSync(`${tiny}/memory.swap.max`, '0');
      let outcome: unknown;
      try {
        const child = spawn(plan, { cgroupFd: fd });
        outcome = await child.exited;
      } catch (err) {
        outcome = (err as { code?: string }).code;
      }
      expect(outcome).not.toEqual({ exitCode: 0, signal: null });
      expect(readFileSync(`/proc/${process.pid}/stat`, 'utf8')).toMatch(/^\d+ /); // still here, of course: the point
      expect(readFileSync(`${tiny}/cgroup.procs`, 'utf8')).toBe('');
    } finally {
      closeSync(fd);
      rmdirSync(tiny);
      writeFileSync(`${parent}/cgroup.subtree_control`, '-memory');
    }
  });

  it('without cgroupFd: intoCgroup is false', async () => {
    const seen: boolean[] = [];
    const child = spawn(plan, { onSync: (_s, _i, _pid, _v, into) => void seen.push(into) });
    expect((await child.exited).exitCode).toBe(0);
    expect(seen).toEqual([false]);
  });
});
