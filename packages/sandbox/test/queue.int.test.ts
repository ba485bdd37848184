// runMany() and SandboxQueue for real: verdicts in order, at most `concurrency` runs at once,
// each run with its own fresh /tmp over the read-only rootfs, nothing left behind.
import { afterAll, describe, expect, it } from 'vitest';
import { hostCgroupLayout } from '@ns/namespaces';
import { SandboxQueue, runMany, type Job } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, leftoverCgroups, removeParent, sh } from './helpers.js';

const parent = `/ns-sandbox-test-q-${process.pid}`;
const ready = isRoot && !!hostCgroupLayout().controllers.pids;

describe.skipIf(!isRoot || !ROOTFS || !ready)('runMany / SandboxQueue for real', () => {
  const mountsBefore = isRoot ? hostMounts() : [];
  afterAll(async () => {
    expect(leftoverCgroups(parent)).toEqual([]);
    await removeParent(parent);
    expect(hostMounts()).toEqual(mountsBefore);
  });

  it('verdicts in the order of the jobs, each run on a fresh /tmp over a read-only rootfs', async () => {
    const script = (i: number) =>
      `sleep 0.$((${(7 - i) % 4} + 1)); test -e /tmp/mark && echo dirty || echo clean; echo ${i} > /tmp/mark; touch /bin/x 2>/dev/null && echo rw || echo ro; echo job ${i}; exit ${i % 3}`;
    const jobs: Job[] = Array.from({ length: 6 }, (_, i) => ({ container: sh(script(i)), limits: { wallTimeMs: 10_000 } }));
    const verdicts = await runMany(jobs, { concurrency: 3, cgroupParent: parent });
    expect(verdicts.map((v) => v.stdout.toString())).toEqual(jobs.map((_, i) => `clean\nro\njob ${i}\n`));
    expect(verdicts.map((v) => v.status)).toEqual(['OK', 'RE', 'RE', 'OK', 'RE', 'RE']);
    expect(leftoverCgroups(parent)).toEqual([]);
  });

  it('never more than `concurrency` runs at once', async () => {
    const queue = new SandboxQueue({ concurrency: 2, cgroupParent: parent });
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, queue.active)), 2);
    try {
      const all = Array.from({ length: 5 }, () => queue.push({ container: sh('sleep 0.15'), limits: { wallTimeMs: 10_000 } }));
      expect(queue.active + queue.pending).toBe(5);
      const verdicts = await Promise.all(all);
      expect(verdicts.every((v) => v.status === 'OK')).toBe(true);
    } finally {
      clearInterval(timer);
    }
    expect(most).toBe(2);
  });

  it('a malformed limit of one job rejects the batch before any run starts', async () => {
    const jobs: Job[] = [{ container: sh('true') }, { container: sh('true'), limits: { processes: -1 } }];
    await expect(runMany(jobs, { cgroupParent: parent })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'jobs[1].limits.processes' });
    expect(() => new SandboxQueue({ concurrency: 0 })).toThrow(/concurrency/);
    const queue = new SandboxQueue({ concurrency: 1, cgroupParent: parent });
    await expect(queue.push({ container: sh('true'), limits: { wallTimeMs: 'soon' } as never })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'limits.wallTimeMs' });
    expect(queue.active + queue.pending).toBe(0);
  });
});
