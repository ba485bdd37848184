// Limited runs (issue 13, @ns/sandbox): what a grader's loop costs per test case. run() of
// /bin/true with every limit (two cgroups made and removed, rlimits, a read-only rootfs with a
// fresh tmpfs, timers, captured output) alternating with a bare execAsync() + wait() of the
// same container with piped output; runMany() batches 2 at once (this machine's cores); and
// the same loop as a shell script around `runc run` (memory and pids limits, read-only root,
// tmpfs /tmp, rlimits), as milliseconds per run (1000 / that = runs per second).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { specBundle } from './bundle.mjs';

/** The limits of the sandbox rows: a typical grader's. */
export const SANDBOX_LIMITS = {
  cpuTimeMs: 1000,
  wallTimeMs: 5000,
  memoryBytes: 256 * 2 ** 20,
  processes: 64,
  openFiles: 64,
  fileSizeBytes: 16 * 2 ** 20,
  outputBytes: 2 ** 20,
};

/** A bare start + wait with stdout/stderr piped and read, as run() does. */
async function bare(ns, container) {
  const p = await ns.execAsync(container, { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.resume();
  p.stderr.resume();
  const exit = await p.wait();
  if (exit.exitCode !== 0) throw new Error(`bare run: ${JSON.stringify(exit)}`);
}

/**
 * A runc bundle of /bin/true with what run() gives a run: memory and pids limits, a read-only
 * root with a tmpfs on /tmp, RLIMIT_NOFILE/FSIZE/CORE, in a cgroup of its own.
 */
function runcBundle(dir, rootfs, cgroupsPath) {
  specBundle(dir, (c) => {
    c.process.terminal = false;
    c.process.args = ['/bin/true'];
    c.process.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: SANDBOX_LIMITS.openFiles, hard: SANDBOX_LIMITS.openFiles },
      { type: 'RLIMIT_FSIZE', soft: SANDBOX_LIMITS.fileSizeBytes, hard: SANDBOX_LIMITS.fileSizeBytes },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
    ];
    c.root = { path: rootfs, readonly: true };
    c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${SANDBOX_LIMITS.memoryBytes}`] });
    c.linux.cgroupsPath = cgroupsPath;
    c.linux.resources = { ...c.linux.resources, memory: { limit: SANDBOX_LIMITS.memoryBytes }, pids: { limit: SANDBOX_LIMITS.processes } };
  });
}

/**
 * Milliseconds per run of `rounds` shell loops of `n` `runc run` each (a grader scripted
 * around runc, without the verdict's bookkeeping), or null with a note when runc fails here.
 */
export function runcLoop({ rootfs, tmp, n, rounds, cgroupsPath }) {
  const bundle = join(tmp, 'bundle-sandbox-runc');
  runcBundle(bundle, rootfs, cgroupsPath);
  const root = join(tmp, 'runc-sandbox-root');
  const script = `i=0; while [ $i -lt ${n} ]; do runc --root "$1" run -b "$2" "sbx-$$-$i" </dev/null >/dev/null || exit 1; i=$((i+1)); done`;
  const samples = [];
  for (let k = 0; k < rounds; k++) {
    const t0 = performance.now();
    const r = spawnSync('sh', ['-c', script, 'sh', root, bundle], { encoding: 'utf8' });
    if (r.status !== 0) return { samples: null, note: `sandbox: the runc loop failed here (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}` };
    samples.push((performance.now() - t0) / n);
  }
  return { samples };
}

/**
 * @param {{ ns: any, sandbox: any, rootfs: string, runs: number, warmup: number, batches: number, batchSize: number, concurrency: number, cgroupParent: string }} o
 * @returns {{ measurements: { id: string, label: string, kind: string, samples: number[], floorId?: string }[] }}
 */
export async function sandboxCost({ ns, sandbox, rootfs, runs, warmup, batches, batchSize, concurrency, cgroupParent }) {
  const container = ns.validatedContainer(ns.rootfsContainer(rootfs, { args: ['/bin/true'] }));
  const limited = async () => {
    const v = await sandbox.run(container, SANDBOX_LIMITS, { cgroupParent });
    if (v.status !== 'OK') throw new Error(`sandbox run: ${v.status} ${v.message}`);
  };
  const time = async (f) => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  };
  for (let i = 0; i < warmup; i++) {
    await bare(ns, container);
    await limited();
  }
  const plain = [];
  const withLimits = [];
  for (let i = 0; i < runs; i++) {
    plain.push(await time(() => bare(ns, container)));
    withLimits.push(await time(limited));
  }
  const perRun = [];
  for (let b = 0; b < batches; b++) {
    const jobs = Array.from({ length: batchSize }, () => ({ container, limits: SANDBOX_LIMITS }));
    const t0 = performance.now();
    const verdicts = await sandbox.runMany(jobs, { concurrency, cgroupParent });
    perRun.push((performance.now() - t0) / batchSize);
    const bad = verdicts.find((v) => v.status !== 'OK');
    if (bad) throw new Error(`sandbox runMany: ${bad.status} ${bad.message}`);
  }
  return {
    measurements: [
      { id: 'sandbox.bare', label: 'execAsync() + wait(), output piped (alternating with the next)', kind: 'ns', samples: plain },
      { id: 'sandbox.run', label: 'sandbox run(): every limit, 2 cgroups, ro rootfs + tmpfs, verdict', kind: 'ns', samples: withLimits, floorId: 'sandbox.bare' },
      { id: 'sandbox.many', label: `sandbox runMany(), ${concurrency} at once: ms per run (1000/x runs/s)`, kind: 'ns', samples: perRun, floorId: 'sandbox.bare' },
    ],
  };
}
