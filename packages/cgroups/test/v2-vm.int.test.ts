/**
 * The cgroup v2 tests (test/vm/*.vmtest.ts) for real, in a throwaway QEMU VM whose only cgroup
 * mount is cgroup2 with every controller (scripts/vm-vitest.mjs over ../shared/vm/run-in-vm):
 * this machine is a v1/v2 hybrid, most users' machines are v2 only. Skips (with the reason)
 * when not root or run-in-vm is missing or cannot boot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script of the repository, no types
import { failuresOf, loadFailuresOf, runVitestInVm } from '../../../scripts/vm-vitest.mjs';
import { buildBpfAttach } from './helpers/bpf-attach.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const root = process.getuid?.() === 0;

describe.skipIf(!root)('cgroup v2 in a VM (root)', () => {
  it('the v2 tests pass in a cgroup-v2-only VM', async (ctx) => {
    const scratch = mkdtempSync(join(tmpdir(), 'ns-cgroups-vm-'));
    try {
      const loader = buildBpfAttach(scratch);
      const env: Record<string, string> = 'path' in loader ? { NS_BPF_ATTACH: loader.path } : {};
      const r = await runVitestInVm({ pkgDir, include: ['test/vm/**/*.vmtest.ts'], env, rw: [scratch] });
      if (r.skipped) return ctx.skip(r.skipped);
      expect(r.report, `no report from the VM (exit ${r.status}):\n${r.output.slice(-3000)}`).toBeDefined();
      expect(loadFailuresOf(r.report), r.output.slice(-3000)).toEqual([]);
      expect(failuresOf(r.report), r.output.slice(-3000)).toEqual([]);
      expect(r.report.numPassedTests, r.output.slice(-3000)).toBeGreaterThanOrEqual('path' in loader ? 10 : 9);
      expect(r.status).toBe(0);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 300_000);
});
