/**
 * The cgroup v2 tests (test/vm/*.vmtest.ts) for real, in a throwaway QEMU VM whose only cgroup
 * mount is cgroup2 with every controller (../shared/vm/run-in-vm, see TOOLCHAIN.md): this
 * machine is a v1/v2 hybrid, most users' machines are v2 only. The VM sees this machine's files
 * read-only, so vitest runs there with its config, cache and JSON report in a scratch folder
 * passed with --rw. Skips (with the reason) when not root or run-in-vm is missing or cannot boot.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildBpfAttach } from './helpers/bpf-attach.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
// Beside the repository (../shared), or where this workplace keeps it (a clone elsewhere).
const runInVm = process.env.NS_RUN_IN_VM ?? [resolve(pkgDir, '../../../shared/vm/run-in-vm'), '/work/shared/vm/run-in-vm'].find((p) => existsSync(p)) ?? resolve(pkgDir, '../../../shared/vm/run-in-vm');
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const root = process.getuid?.() === 0;

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: Array<{ assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
}

function run(cmd: string, args: string[], cwd: string): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (status) => done({ status, output }));
  });
}

describe.skipIf(!root)('cgroup v2 in a VM (root)', () => {
  it('the v2 tests pass in a cgroup-v2-only VM', async (ctx) => {
    if (!existsSync(runInVm)) return ctx.skip(`run-in-vm not found at ${runInVm} (set NS_RUN_IN_VM)`);
    const scratch = mkdtempSync(join(tmpdir(), 'ns-cgroups-vm-'));
    try {
      const config = join(scratch, 'vitest.vm.config.mjs');
      const report = join(scratch, 'report.json');
      writeFileSync(
        config,
        `export default { cacheDir: ${JSON.stringify(join(scratch, 'vite'))}, test: { root: ${JSON.stringify(pkgDir)}, include: ['test/vm/**/*.vmtest.ts'], pool: 'forks', fileParallelism: false, testTimeout: 60000, hookTimeout: 60000 } };\n`,
      );
      const loader = buildBpfAttach(scratch);
      const env = 'path' in loader ? [`NS_BPF_ATTACH=${loader.path}`] : [];
      const args = ['--rw', scratch, '--timeout', '240', '--', 'env', ...env, process.execPath, vitest, 'run', '--config', config, '--root', pkgDir, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
      const { status, output } = await run(runInVm, args, pkgDir);
      if (status === 125 && !existsSync(report)) return ctx.skip(`run-in-vm could not boot the VM: ${output.slice(-400)}`);
      expect(existsSync(report), `no report from the VM (exit ${status}):\n${output.slice(-3000)}`).toBe(true);
      const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
      const failed = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${a.fullName}: ${a.failureMessages.join('\n').slice(0, 800)}`));
      expect(failed, output.slice(-3000)).toEqual([]);
      expect(r.numPassedTests, output.slice(-3000)).toBeGreaterThanOrEqual('path' in loader ? 10 : 9);
      expect(status).toBe(0);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 300_000);
});
