/**
 * Issue 15, fault injection: the creating Node process is SIGKILLed before each step of a
 * container's set-up in turn (the test-only hook of src/process/fault.ts: NODE_ENV=test and
 * NS_TEST_FAULT_AT=<step>), for a plain container with a cgroup and for one with a user
 * namespace (after the id maps, before and after pivot_root ...), by exec() and by
 * createContainer() (during create, before start). Afterwards: no process of the container, no
 * mount on the host; a created container's state is absent or stopped and deleteContainer()
 * removes it and its cgroup. A library exec() whose creator dies after making the cgroup leaves
 * it, empty and claimed (container/orphans.ts): the next cgroup any ns process makes removes
 * it, which the test checks with a run of its own.
 *
 * Each point runs a Node process of its own on the built library (dist/), so `pnpm build` first.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateStore, currentStatus, deleteContainer, describeStep, planContainer, rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

const DIST = new URL('../dist/index.js', import.meta.url).pathname;
const MARK = `NS_TEST_MARK=fault-${randomBytes(6).toString('hex')}`;

/** The container of each point: a cgroup of its own (a pids limit), optionally a user namespace. */
function config(id: string, userns: boolean): Container {
  const c = rootfsContainer(ROOTFS, { id, args: ['/bin/sh', '-c', 'echo started; sleep 60'], env: ['PATH=/bin:/usr/bin', MARK] });
  c.resources = { pids: { limit: 64 } };
  if (userns) {
    c.namespaces = [...c.namespaces, { type: 'user' }];
    c.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    c.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
  }
  return c;
}

/** Node, on the built library, starting `container` by `mode` with the fault before step `at`. */
function child(mode: 'exec' | 'create', container: Container, at: number, stateRoot: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const script = `
    const ns = await import(${JSON.stringify(DIST)});
    const c = JSON.parse(process.env.CONFIG);
    if (process.env.MODE === 'exec') {
      const p = ns.exec(c, { stdio: ['ignore', 'inherit', 'inherit'] });
      process.stdout.write('spawned\\n');
      p.kill('SIGKILL');
      await p.wait();
    } else {
      const { process: p } = ns.createContainer(c, { store: new ns.StateStore(process.env.STATE), stdio: ['ignore', 'ignore', 'ignore'] });
      process.stdout.write('created\\n');
      p.unref?.();
    }`;
  return new Promise((done) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NODE_ENV: 'test', NS_TEST_FAULT_AT: String(at), MODE: mode, CONFIG: JSON.stringify(container), STATE: stateRoot },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code, signal) => done({ code, signal, out }));
  });
}

/** Live processes carrying this file's marker variable. */
function marked(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      return readFileSync(`/proc/${n}/environ`, 'latin1').split('\0').includes(MARK);
    } catch {
      return false;
    }
  }).map(Number);
}

/** The container's cgroup directories (`ns/<id>` in every hierarchy that has one). */
function cgroupDirs(id: string): string[] {
  const top = '/sys/fs/cgroup';
  const roots = existsSync(join(top, 'cgroup.controllers')) ? [top] : readdirSync(top).map((h) => join(top, h));
  return roots.map((r) => join(r, 'ns', id)).filter((d) => existsSync(d));
}

async function settle(check: () => unknown[], ms = 3000): Promise<unknown[]> {
  const deadline = Date.now() + ms;
  let left = check();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = check();
  }
  return left;
}

describe.skipIf(!isRoot || !ROOTFS || !existsSync(DIST))('the creating Node process killed at each step of set-up (as root)', () => {
  let work: string;
  let mountsBefore: string[];
  const leftCgroups: string[] = [];
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ns-faults-'));
    mountsBefore = hostMounts();
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const userns of [false, true]) {
    const kind = userns ? 'with a user namespace' : 'plain, with a cgroup';
    const steps = ROOTFS ? planContainer(config('faults-plan', userns)).plan.steps : [];
    it(`exec() ${kind}: killed before each of its ${steps.length} steps, nothing of the container survives`, async () => {
      const seen: string[] = [];
      for (let at = 0; at < steps.length; at++) {
        const id = `fault-${userns ? 'u' : 'p'}-${at}`;
        const point = `before step ${at} (${describeStep(steps[at]!)})`;
        const r = await child('exec', config(id, userns), at, join(work, 'state'));
        expect({ point, signal: r.signal, out: r.out }).toEqual({ point, signal: 'SIGKILL', out: '' });
        expect(await settle(marked), point).toEqual([]);
        expect(hostMounts(), point).toEqual(mountsBefore);
        const left = cgroupDirs(id);
        for (const dir of left) {
          // Made by the parent at the cgroup step, left when the parent died after it: empty
          // once the set-up helper (ns-init, which has no marker yet) has died too.
          const procs = () => readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
          expect(await settle(procs), `${point}: ${dir}`).toEqual([]);
        }
        if (left.length > 0) {
          // It was claimed: the next cgroup made (by any ns process) removes it.
          leftCgroups.push(point);
          const next = await run({ ...rootfsContainer(ROOTFS, { id: 'fault-sweeper', args: ['/bin/true'] }), resources: { pids: { limit: 8 } } });
          expect(next.exitCode, `${point}: the sweeping run`).toBe(0);
          expect(cgroupDirs(id), `${point}: swept`).toEqual([]);
        }
        seen.push(steps[at]!.op);
      }
      // The points include what the issue names: the cgroup, the id maps, pivot_root, execve.
      expect(seen).toContain('pivotRoot');
      expect(seen).toContain('execve');
      expect(seen.filter((op) => op === 'sync').length).toBeGreaterThanOrEqual(userns ? 2 : 1);
      expect(leftCgroups.length).toBeGreaterThan(0); // the sweep was exercised
    }, 600_000);
  }

  it('createContainer(): killed during create (each sync point and pivot_root), the state is absent or stopped and deleteContainer() removes it and its cgroup', async () => {
    const steps = planContainer(config('faults-plan', true)).plan.steps;
    // Up to the last step before execve: a created container's set-up ends there (it then
    // waits for `start` at the exec fifo, and createContainer() has returned).
    const last = steps.findIndex((s) => s.op === 'closeFrom');
    const points = [...new Set(steps.flatMap((s, i) => (s.op === 'sync' || s.op === 'pivotRoot' || s.op === 'pivotRootKeep' ? [i, i + 1] : [])))].filter((i) => i < last);
    expect(points.length).toBeGreaterThanOrEqual(6);
    const store = new StateStore(join(work, 'state'));
    for (const at of points) {
      const id = `fault-c-${at}`;
      const point = `create, before step ${at}${steps[at] ? ` (${describeStep(steps[at]!)})` : ''}`;
      const r = await child('create', config(id, true), at, join(work, 'state'));
      expect({ point, signal: r.signal }).toEqual({ point, signal: 'SIGKILL' });
      expect(await settle(marked), point).toEqual([]);
      expect(hostMounts(), point).toEqual(mountsBefore);
      if (store.list().includes(id)) {
        expect(currentStatus(store.read(id)), point).toBe('stopped');
        await deleteContainer(store, id, { force: true });
      }
      expect(store.list(), point).not.toContain(id);
      expect(cgroupDirs(id), point).toEqual([]);
    }
  }, 600_000);
});
