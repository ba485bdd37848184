/**
 * run.int.test.ts, queue.int.test.ts and pool.int.test.ts again, for real on cgroup v2: in a throwaway QEMU VM
 * whose only cgroup mount is cgroup2 with every controller (scripts/vm-vitest.mjs over
 * ../shared/vm/run-in-vm). This machine is a v1/v2 hybrid, where those files test v1 (cpuacct,
 * memory.max_usage_in_bytes); on v2 the run's cpu time comes from cpu.stat and its peak from
 * memory.peak. Skips (with the reason) when not root, without the test rootfs, or when
 * run-in-vm is missing or cannot boot.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script of the repository, no types
import { failuresOf, loadFailuresOf, runVitestInVm } from '../../../scripts/vm-vitest.mjs';
import { ROOTFS, isRoot } from './helpers.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe.skipIf(!isRoot || !ROOTFS)('run() on cgroup v2, in a VM (root)', () => {
  it('run.int.test.ts, queue.int.test.ts and pool.int.test.ts pass in a cgroup-v2-only VM', async (ctx) => {
    const r = await runVitestInVm({ pkgDir, include: ['test/run.int.test.ts', 'test/queue.int.test.ts', 'test/pool.int.test.ts'], env: { NS_TEST_ROOTFS: ROOTFS }, timeoutSeconds: 400 });
    if (r.skipped) return ctx.skip(r.skipped);
    const tail = r.output.slice(-4000);
    expect(r.report, `no report from the VM (exit ${r.status}):\n${tail}`).toBeDefined();
    expect(loadFailuresOf(r.report), tail).toEqual([]);
    expect(failuresOf(r.report), tail).toEqual([]);
    expect(r.report.numPassedTests, tail).toBeGreaterThanOrEqual(26);
    expect(r.report.numPendingTests, 'skipped in the VM: no v2 controllers?').toBe(0);
    expect(r.status).toBe(0);
  }, 480_000);
});
