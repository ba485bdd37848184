/**
 * cgroup.int.test.ts and cgroup-refusals.int.test.ts again, for real on cgroup v2: in a throwaway QEMU VM whose only cgroup
 * mount is cgroup2 with every controller (scripts/vm-vitest.mjs over ../shared/vm/run-in-vm).
 * This machine is a v1/v2 hybrid, where that file tests v1; most users run v2 only. Skips (with
 * the reason) when not root, without the test rootfs, or when run-in-vm is missing or cannot boot.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script of the repository, no types
import { failuresOf, loadFailuresOf, runVitestInVm } from '../../../scripts/vm-vitest.mjs';
import { ROOTFS, isRoot } from './helpers.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe.skipIf(!isRoot || !ROOTFS)('linux.resources on cgroup v2, in a VM (root)', () => {
  it('cgroup.int.test.ts and cgroup-refusals.int.test.ts pass in a cgroup-v2-only VM', async (ctx) => {
    const r = await runVitestInVm({ pkgDir, include: ['test/cgroup.int.test.ts', 'test/cgroup-refusals.int.test.ts'], env: { NS_TEST_ROOTFS: ROOTFS } });
    if (r.skipped) return ctx.skip(r.skipped);
    expect(r.report, `no report from the VM (exit ${r.status}):\n${r.output.slice(-3000)}`).toBeDefined();
    expect(loadFailuresOf(r.report), r.output.slice(-3000)).toEqual([]);
    expect(failuresOf(r.report), r.output.slice(-3000)).toEqual([]);
    expect(r.report.numPassedTests, r.output.slice(-3000)).toBeGreaterThanOrEqual(10); // the rootless delegation test included
    expect(r.report.numPendingTests, 'skipped in the VM: no v2 controllers?').toBe(0);
    expect(r.status).toBe(0);
  }, 300_000);
});
