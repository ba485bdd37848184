// Run vitest on some test files of a package inside a throwaway cgroup-v2-only VM
// (../shared/vm/run-in-vm, see ../shared/TOOLCHAIN.md), for the tests that need cgroup v2 for
// real: this machine is a v1/v2 hybrid, most users' machines are v2 only.
//
// The VM sees this machine's files read-only at the same paths, with fresh tmpfs on /tmp,
// /run and /var/tmp: vitest's config, cache and JSON report go to a scratch folder passed with
// --rw, and a checkout that lives under one of those tmpfs paths is passed with --rw too (else
// the VM could not see it).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** run-in-vm: $NS_RUN_IN_VM, beside the repository (../shared), or this workplace's; null when none. */
export function findRunInVm() {
  if (process.env.NS_RUN_IN_VM) return process.env.NS_RUN_IN_VM;
  return [resolve(ROOT, '../shared/vm/run-in-vm'), '/work/shared/vm/run-in-vm'].find((p) => existsSync(p)) ?? null;
}

function run(cmd, args, cwd) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d.toString()));
    child.stderr.on('data', (d) => (output += d.toString()));
    child.on('close', (status) => done({ status, output }));
  });
}

/**
 * Run `include` (globs relative to `pkgDir`) with vitest in the VM, as root.
 * @param {{ pkgDir: string, include: string[], env?: Record<string, string>, timeoutSeconds?: number, rw?: string[] }} o
 * @returns {Promise<{ skipped?: string, status: number | null, output: string, report?: any }>}
 *   `skipped` says why nothing ran (no run-in-vm, the VM did not boot); `report` is vitest's JSON report.
 */
export async function runVitestInVm({ pkgDir, include, env = {}, timeoutSeconds = 240, rw = [] }) {
  const runInVm = findRunInVm();
  if (!runInVm) return { skipped: 'run-in-vm not found (set NS_RUN_IN_VM)', status: null, output: '' };
  const scratch = mkdtempSync(join(tmpdir(), 'ns-vm-vitest-'));
  try {
    const config = join(scratch, 'vitest.vm.config.mjs');
    const report = join(scratch, 'report.json');
    writeFileSync(
      config,
      `export default { cacheDir: ${JSON.stringify(join(scratch, 'vite'))}, test: { root: ${JSON.stringify(pkgDir)}, include: ${JSON.stringify(include)}, pool: 'forks', fileParallelism: false, testTimeout: 60000, hookTimeout: 60000 } };\n`,
    );
    const vitest = join(dirname(createRequire(join(pkgDir, 'package.json')).resolve('vitest/package.json')), 'vitest.mjs');
    const hidden = ['/tmp', '/run', '/var/tmp'].some((t) => ROOT === t || ROOT.startsWith(`${t}/`));
    const rwArgs = [scratch, ...(hidden ? [ROOT] : []), ...rw].flatMap((d) => ['--rw', d]);
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const args = [...rwArgs, '--timeout', String(timeoutSeconds), '--', 'env', ...envArgs, process.execPath, vitest, 'run', '--config', config, '--root', pkgDir, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
    // A test file that failed to load (no test collected, a transform error) is retried once:
    // seen once in CI as a parse error of an unchanged source file read over 9p under TCG,
    // which the next boot did not repeat. A test that ran and failed is never retried.
    let earlier = '';
    for (let attempt = 1; ; attempt++) {
      rmSync(report, { force: true });
      const { status, output } = await run(runInVm, args, pkgDir);
      if (status === 125 && !existsSync(report)) return { skipped: `run-in-vm could not boot the VM: ${output.slice(-400)}`, status, output };
      const parsed = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : undefined;
      if (attempt === 1 && parsed && loadFailuresOf(parsed).length > 0 && failuresOf(parsed).length === 0) {
        process.stderr.write(`vm-vitest: a test file failed to load in the VM, booting it once more:\n${loadFailuresOf(parsed).join('\n')}\n`);
        earlier = `[first boot: ${loadFailuresOf(parsed).join('; ')}]\n`;
        continue;
      }
      return { status, output: earlier + output, ...(parsed ? { report: parsed } : {}) };
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The failures of a vitest JSON report, one line each (test name: message). */
export function failuresOf(report) {
  return report.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${a.fullName}: ${a.failureMessages.join('\n').slice(0, 800)}`));
}

/** The test files of a vitest JSON report that failed before any of their tests ran (name: message). */
export function loadFailuresOf(report) {
  return report.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).map((f) => `${f.name}: ${String(f.message ?? '').slice(0, 300)}`);
}
