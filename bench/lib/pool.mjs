// The warm pool (issue 14, @ns/namespaces createPool): pre-created containers, each waiting in
// ns-init just before execve. Measured in the same Node process, interleaved round by round
// with a cold exec() + wait() and an execAsync() + wait() of the same container (/bin/true on
// the busybox rootfs, piped stdio, default namespaces, seccomp and mounts):
//   - pool.exec() + wait() with the pool full again before each start (a request arriving at a
//     warm pool: the refill happens between requests, as a server's idle time);
//   - the hand-over alone: pool.exec() called → resolved (the program has exec'd), wall clock:
//     the caller's code, the member's wake-up and its execve(2) of the program (about 0.15 ms of
//     kernel work loading /bin/true here, the program's own start), and the caller's wake-up;
//   - the caller's time in that hand-over: the CPU time Node spends from the call to its
//     resolving (process.cpuUsage(), every thread of the process: the event loop's JavaScript
//     and system calls; the member's and the kernel's exec work is not in it), the goal
//     of <= 0.2 ms "of the caller's time";
//   - the floor of that hand-over (bench/handoff.c, when built): a child forked ahead, asleep
//     in read(2), woken by a pipe write, execs the same /bin/true, its end of file seen; the
//     program's own start, with nothing of a container or of Node, run in chunks between the
//     rounds. The hand-over's wall clock less this is the caller's time over the program's
//     own start (the other reading of its goal);
//   - back to back (throughput): pool.exec() + wait() in a loop, the refill competing for the
//     same 2 cores, as ms per run (1000/x runs per second).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** Section title of these rows in docs/benchmarks.md. */
export const POOL_SECTION = 'warm pool (createPool): start + wait';

/** Read a run's output away and wait for it; throws unless it exited 0. */
export async function drain(p) {
  p.stdout?.resume();
  p.stderr?.resume();
  const exit = await p.wait();
  if (exit.exitCode !== 0) throw new Error(`pool bench: /bin/true ended ${JSON.stringify(exit)}`);
}

/**
 * One `pool.exec()` of /bin/true, waited for: [start + wait ms, call → resolved ms, the
 * caller's CPU ms from call to resolve (process.cpuUsage(): all of Node's threads)].
 */
export async function viaPool(pool) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const p = await pool.exec({ args: ['/bin/true'] });
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  await drain(p);
  return [performance.now() - t0, t1 - t0, (c.user + c.system) / 1000];
}

/** Resolve once the pool has `n` members ready (polled on timers, the event loop stays free). */
async function full(pool, n) {
  for (let k = 0; pool.idle < n; k++) {
    if (k > 5000) throw new Error('pool bench: the pool does not refill');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** `m` rounds of bench/handoff.c (the hand-over's floor) of ROOTFS/bin/true; appends their ms to `into`. */
function handOffFloor(bin, rootfs, m, into) {
  const r = spawnSync(bin, [String(m), join(rootfs, 'bin/true')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${bin}: exit ${r.status}`);
  for (const ns of JSON.parse(r.stdout).handoff_ns) into.push(ns / 1e6);
}

/**
 * @param {{ ns: any, rootfs: string, runs: number, warmup: number, size?: number, backToBack: number, handOffBin?: string | null }} o
 * @returns {Promise<{ measurements: { id: string, label: string, kind: string, samples: number[], floorId?: string }[], ratios: Record<string, number> }>}
 */
export async function poolCost({ ns, rootfs, runs, warmup, size = 4, backToBack, handOffBin = null }) {
  const container = ns.validatedContainer(ns.rootfsContainer(rootfs, { args: ['/bin/true'] }));
  const stdio = ['ignore', 'pipe', 'pipe'];
  const pool = await ns.createPool(container, { size, stdio });
  try {
    const cold = [];
    const async_ = [];
    const warm = [];
    const handOver = [];
    const handOverCpu = [];
    const handOffFloorMs = [];
    const chunk = Math.max(1, Math.ceil(runs / 10));
    const time = async (f) => {
      const t0 = performance.now();
      await f();
      return performance.now() - t0;
    };
    for (let i = 0; i < warmup + runs; i++) {
      const c = await time(() => drain(ns.exec(container, { stdio })));
      const a = await time(async () => drain(await ns.execAsync(container, { stdio })));
      await full(pool, size);
      const [w, h, hc] = await viaPool(pool);
      if (i >= warmup) {
        cold.push(c);
        async_.push(a);
        warm.push(w);
        handOver.push(h);
        handOverCpu.push(hc);
        // The floor in chunks of a tenth of the runs, between the rounds.
        if (handOffBin && (i - warmup + 1) % chunk === 0) handOffFloor(handOffBin, rootfs, chunk, handOffFloorMs);
      }
    }
    // Back to back: the pool refilling while it is used.
    await full(pool, size);
    const loop = [];
    for (let b = 0; b < 5; b++) {
      const t0 = performance.now();
      for (let i = 0; i < backToBack; i++) await viaPool(pool);
      loop.push((performance.now() - t0) / backToBack);
    }
    const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
    return {
      measurements: [
        { id: 'pool.cold', label: 'cold exec() + wait() (interleaved with the next rows)', kind: 'ns', samples: cold },
        { id: 'pool.async', label: 'execAsync() + wait()', kind: 'ns', samples: async_, floorId: 'pool.cold' },
        { id: 'pool.warm', label: `pool.exec() + wait(), pool of ${size} full again before each start`, kind: 'ns', samples: warm, floorId: 'pool.cold' },
        { id: 'pool.handover', label: 'pool.exec() alone: call → resolved after execve, wall clock (the member’s wake-up and execve of the program included)', kind: 'ns', samples: handOver, floorId: 'pool.cold' },
        { id: 'pool.handover.cpu', label: 'pool.exec() alone: the caller’s CPU time from the call to resolved (process.cpuUsage(), all of Node’s threads)', kind: 'ns', samples: handOverCpu, floorId: 'pool.cold' },
        { id: 'pool.loop', label: `pool.exec() + wait() back to back, refill competing: ms per run (1000/x runs/s)`, kind: 'ns', samples: loop, floorId: 'pool.cold' },
        ...(handOffFloorMs.length
          ? [{ id: 'pool.handover.floor', label: 'C floor of the hand-over: a forked child asleep in read(2), woken by a pipe write, execs /bin/true; its end of file seen (the program’s own start; bench/handoff.c, between the rounds)', kind: 'floor', samples: handOffFloorMs }]
          : []),
      ],
      ratios: {
        coldOverWarm: med(cold) / med(warm),
        asyncOverWarm: med(async_) / med(warm),
        coldOverLoop: med(cold) / med(loop),
        handOverMs: med(handOver),
        handOverCpuMs: med(handOverCpu),
        ...(handOffFloorMs.length ? { handOverFloorMs: med(handOffFloorMs) } : {}),
        warmMinusHandOverMs: med(warm) - med(handOver),
      },
    };
  } finally {
    await pool.close();
  }
}

/**
 * Limited runs from a warm pool (@ns/sandbox createSandboxPool) against run() with the same
 * limits, interleaved: the verdict's whole cost (two cgroups made and removed, watching,
 * captured output) with the set-up done in advance or not.
 * @param {{ ns: any, sandbox: any, rootfs: string, limits: object, runs: number, warmup: number, cgroupParent: string, size?: number }} o
 */
export async function sandboxPoolCost({ ns, sandbox, rootfs, limits, runs, warmup, cgroupParent, size = 4 }) {
  const container = ns.validatedContainer(ns.rootfsContainer(rootfs, { args: ['/bin/true'] }));
  const pool = await sandbox.createSandboxPool(container, limits, { size, cgroupParent });
  try {
    const cold = [];
    const warm = [];
    const check = (v, what) => {
      if (v.status !== 'OK') throw new Error(`${what}: ${v.status} ${v.message}`);
    };
    for (let i = 0; i < warmup + runs; i++) {
      let t0 = performance.now();
      check(await sandbox.run(container, limits, { cgroupParent }), 'sandbox run');
      const c = performance.now() - t0;
      await full(pool, size);
      t0 = performance.now();
      check(await pool.run(), 'sandbox pool run');
      const w = performance.now() - t0;
      if (i >= warmup) {
        cold.push(c);
        warm.push(w);
      }
    }
    return {
      measurements: [
        { id: 'pool.sandbox.run', label: 'sandbox run() of /bin/true, every limit (interleaved with the next)', kind: 'ns', samples: cold },
        { id: 'pool.sandbox.pool', label: `sandbox pool.run(), same limits, pool of ${size} full again before each run`, kind: 'ns', samples: warm, floorId: 'pool.sandbox.run' },
      ],
    };
  } finally {
    await pool.close();
  }
}
