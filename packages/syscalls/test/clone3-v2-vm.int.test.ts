/**
 * clone3.int.test.ts (a front's clone into the cgroup included) and bpf.int.test.ts again on
 * cgroup v2 alone, with every controller (the EBUSY fallback needs one): in a throwaway QEMU
 * VM (scripts/vm-vitest.mjs over ../shared/vm/run-in-vm). Here (a v1/v2 hybrid) they run
 * against the controller-less /sys/fs/cgroup/unified. Skips (with the reason) when not root or when the VM cannot boot.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script of the repository, no types
import { failuresOf, loadFailuresOf, runVitestInVm } from '../../../scripts/vm-vitest.mjs';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const root = process.getuid?.() === 0;

describe.skipIf(!root)('clone3 CLONE_INTO_CGROUP and device filters on cgroup v2, in a VM (root)', () => {
  it('clone3.int.test.ts and bpf.int.test.ts pass in a cgroup-v2-only VM', async (ctx) => {
    const r = await runVitestInVm({ pkgDir, include: ['test/clone3.int.test.ts', 'test/bpf.int.test.ts'] });
    if (r.skipped) return ctx.skip(r.skipped);
    expect(r.report, `no report from the VM (exit ${r.status}):\n${r.output.slice(-3000)}`).toBeDefined();
    expect(loadFailuresOf(r.report), r.output.slice(-3000)).toEqual([]);
    expect(failuresOf(r.report), r.output.slice(-3000)).toEqual([]);
    expect(r.report.numPassedTests, r.output.slice(-3000)).toBe(12);
    expect(r.report.numPendingTests, 'skipped in the VM').toBe(0);
    expect(r.status).toBe(0);
  }, 300_000);
});
