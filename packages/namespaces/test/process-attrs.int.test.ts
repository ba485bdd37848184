// process.ioPriority, process.scheduler and linux.personality on real containers (as root):
// what the container's process reads of itself, and what the host reads of it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore, exec, execIn, fromOciSpec, rootfsContainer, runContainer, type Container } from '../src/index.js';
import { ROOTFS, isRoot, run } from './helpers.js';

const sh = (script: string, o: Partial<Container> = {}) => rootfsContainer(ROOTFS, { args: ['/bin/sh', '-c', script], ...o });
/** Fields of /proc/self/stat of a `cat` started by the container's shell (it inherits them): policy, rt_priority, nice. */
const STAT = 'cat /proc/self/stat';
const statFields = (line: string) => {
  const f = line.slice(line.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return { nice: Number(f[19 - 3]), rtPriority: Number(f[40 - 3]), policy: Number(f[41 - 3]) };
};

describe.skipIf(!isRoot || !ROOTFS)('process attributes (as root)', () => {
  it('ioPriority: busybox ionice in the container shows the class and level', async () => {
    expect((await run(sh('ionice', { ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 } }))).stdout).toBe('idle\n');
    expect((await run(sh('ionice', { ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 6 } }))).stdout).toBe('best-effort: prio 6\n');
    expect((await run(sh('ionice', { ioPriority: { class: 'IOPRIO_CLASS_RT', priority: 2 } }))).stdout).toBe('realtime: prio 2\n');
    // Without the field, the default (none: it follows the CPU nice level).
    expect((await run(sh('ionice'))).stdout).toBe('none: prio 0\n');
  });

  it('ioPriority: the host reads it of the container process (util-linux ionice -p), also with init', async () => {
    const p = exec(sh('sleep 30', { ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 7 }, init: true }));
    try {
      const out = spawnSync('ionice', ['-p', String(p.pid)], { encoding: 'utf8' });
      expect(out.stdout).toBe('best-effort: prio 7\n');
    } finally {
      p.kill('SIGKILL');
      await p.wait();
    }
  });

  it('scheduler: policy, nice and real-time priority as /proc/self/stat shows them', async () => {
    const batch = statFields((await run(sh(STAT, { scheduler: { policy: 'SCHED_BATCH', nice: 7 } }))).stdout);
    expect(batch).toEqual({ nice: 7, rtPriority: 0, policy: 3 });
    const idle = statFields((await run(sh(STAT, { scheduler: { policy: 'SCHED_IDLE' } }))).stdout);
    expect(idle.policy).toBe(5);
    const fifo = statFields((await run(sh(STAT, { scheduler: { policy: 'SCHED_FIFO', priority: 10 } }))).stdout);
    expect(fifo).toMatchObject({ rtPriority: 10, policy: 1 });
    const rr = statFields((await run(sh(`${STAT}; true`, { scheduler: { policy: 'SCHED_RR', priority: 3, flags: ['SCHED_FLAG_RESET_ON_FORK'] } }))).stdout);
    // RESET_ON_FORK: the shell is SCHED_RR, its child `cat` (forked: not the last command) is back to SCHED_OTHER.
    expect(rr).toMatchObject({ rtPriority: 0, policy: 0 });
    const rrSelf = (await run(sh('read -r l < /proc/self/stat; echo "$l"', { scheduler: { policy: 'SCHED_RR', priority: 3, flags: ['SCHED_FLAG_RESET_ON_FORK'] } }))).stdout;
    expect(statFields(rrSelf)).toMatchObject({ rtPriority: 3, policy: 2 });
  });

  it('scheduler: the host reads it of the container process (chrt -p)', async () => {
    const p = exec(sh('sleep 30', { scheduler: { policy: 'SCHED_RR', priority: 5 } }));
    try {
      const out = spawnSync('chrt', ['-p', String(p.pid)], { encoding: 'utf8' });
      expect(out.stdout).toMatch(/scheduling policy: SCHED_RR\n.*scheduling priority: 5\n/s);
    } finally {
      p.kill('SIGKILL');
      await p.wait();
    }
  });

  it('scheduler, ioPriority and personality from a config.json apply to exec too (as runc exec)', async () => {
    const spec = {
      ociVersion: '1.2.0',
      root: { path: ROOTFS },
      process: { args: ['sleep', '30'], cwd: '/', scheduler: { policy: 'SCHED_BATCH', nice: 5 }, ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 } },
      linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'uts' }, { type: 'ipc' }], personality: { domain: 'LINUX32' } },
    };
    const root = mkdtempSync(join(tmpdir(), 'ns-attrs-'));
    const c = fromOciSpec(spec, { bundle: root, id: `attrs-${process.pid}` });
    const { process: p, state } = runContainer(c, { store: new StateStore(root), stdio: 'ignore' });
    try {
      const q = execIn(state, { args: ['/bin/sh', '-c', `${STAT}; ionice; uname -m`] }, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      q.stdout!.on('data', (d: Buffer) => (out += d));
      expect((await q.wait()).exitCode).toBe(0);
      const [stat, ionice, machine] = out.split('\n');
      expect(statFields(stat!)).toMatchObject({ nice: 5, policy: 3 });
      expect(ionice).toBe('idle');
      if (arch() === 'x64') expect(machine).toBe('i686');
    } finally {
      p.kill('SIGKILL');
      await p.wait();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('SCHED_DEADLINE: the program runs with it (no fork); ns exec refuses it; with the init it needs SCHED_FLAG_RESET_ON_FORK', async () => {
    const dl = { policy: 'SCHED_DEADLINE', runtime: 1_000_000, deadline: 10_000_000, period: 100_000_000 };
    const r = await run(sh('read -r l < /proc/self/stat; echo "$l"', { scheduler: dl }));
    expect(r.stderr).toBe('');
    expect(statFields(r.stdout).policy).toBe(6);
    expect(() => exec(sh('true', { scheduler: dl, init: true }))).toThrow(/^scheduler\.policy: a SCHED_DEADLINE process may not fork/);
    const root = mkdtempSync(join(tmpdir(), 'ns-attrs-'));
    const { process: p, state } = runContainer(sh('sleep 30', { id: `attrs-dl-${process.pid}`, scheduler: { ...dl, flags: ['SCHED_FLAG_RESET_ON_FORK'] }, init: true }), { store: new StateStore(root), stdio: 'ignore' });
    try {
      expect(() => execIn(state, { args: ['true'] })).toThrow(/^scheduler\.policy: SCHED_DEADLINE is not applied to a process started in a running container/);
    } finally {
      p.kill('SIGKILL');
      await p.wait();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('ns exec with SCHED_FLAG_RESET_ON_FORK: the process itself has the policy, its children not', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ns-attrs-'));
    const { process: p, state } = runContainer(sh('sleep 30', { id: `attrs-rr-${process.pid}`, scheduler: { policy: 'SCHED_RR', priority: 3, flags: ['SCHED_FLAG_RESET_ON_FORK'] } }), { store: new StateStore(root), stdio: 'ignore' });
    try {
      const q = execIn(state, { args: ['/bin/sh', '-c', `read -r l < /proc/self/stat; echo "$l"; ${STAT}; true`] }, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      q.stdout!.on('data', (d: Buffer) => (out += d));
      expect((await q.wait()).exitCode).toBe(0);
      const [self, child] = out.trim().split('\n');
      expect(statFields(self!)).toMatchObject({ policy: 2, rtPriority: 3 });
      expect(statFields(child!)).toMatchObject({ policy: 0, rtPriority: 0 });
    } finally {
      p.kill('SIGKILL');
      await p.wait();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.skipIf(arch() !== 'x64')('personality LINUX32: uname -m says i686 on x86_64; LINUX keeps x86_64', async () => {
    expect((await run(sh('uname -m', { personality: { domain: 'LINUX32' } }))).stdout).toBe('i686\n');
    expect((await run(sh('uname -m', { personality: { domain: 'LINUX' } }))).stdout).toBe('x86_64\n');
    // Under the init too: the persona is inherited by the forked program.
    expect((await run(sh('uname -m', { personality: { domain: 'LINUX32' }, init: true }))).stdout).toBe('i686\n');
  });

  it('bad values are refused naming the field, before anything runs', () => {
    expect(() => exec(sh('true', { ioPriority: { class: 'IOPRIO_CLASS_NONE', priority: 0 } }))).toThrow(/^ioPriority\.class: expected one of IOPRIO_CLASS_RT/);
    expect(() => exec(sh('true', { scheduler: { policy: 'SCHED_FIFO', priority: 0 } }))).toThrow(/^scheduler\.priority: expected an integer 1\.\.99 with SCHED_FIFO/);
    expect(() => exec(sh('true', { personality: { domain: 'LINUX64' } }))).toThrow(/^personality\.domain: expected LINUX or LINUX32/);
  });
});
