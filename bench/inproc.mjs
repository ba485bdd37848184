// In-process measurements, run by bench/run.mjs in a fresh Node process per task:
//   node bench/inproc.mjs '<task json>' OUT.json
// Every time is in milliseconds (performance.now()); every container runs /bin/true on the
// busybox rootfs with the library's defaults (rootfsContainer): new mnt/pid/uts/ipc/net
// namespaces, /proc /dev /sys, masked paths, default capabilities.
import { spawn as cpSpawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const ns = await import(new URL('../packages/namespaces/dist/index.js', import.meta.url).href);
const sys = await import(new URL('../packages/syscalls/dist/index.js', import.meta.url).href);
const caps = await import(new URL('../packages/capabilities/dist/index.js', import.meta.url).href);

const task = JSON.parse(process.argv[2]);
const outFile = process.argv[3];
const now = () => performance.now();
const ARGS = ['/bin/true'];

function container() {
  return ns.rootfsContainer(task.rootfs, { args: task.args ?? ARGS });
}

function check(exit, what) {
  if (exit.exitCode !== 0) throw new Error(`${what}: exit ${JSON.stringify(exit)}`);
}

/** One container start + wait; returns [block, total] (ms). */
/**
 * One start + wait: [time the event loop was blocked, total]. With `async`, execAsync(): the
 * call returns after clone(2) and the set-up runs off the loop, so the blocked time is the
 * synchronous part of the call (planning, clone) and the total includes the wait for execve.
 */
async function startOnce(stdio, async = false) {
  const t0 = now();
  if (async) {
    const pending = ns.execAsync(container(), { stdio });
    const t1 = now();
    const p = await pending;
    check(await p.wait(), 'container');
    return [t1 - t0, now() - t0];
  }
  const p = ns.exec(container(), { stdio });
  const t1 = now();
  check(await p.wait(), 'container');
  return [t1 - t0, now() - t0];
}

function childExit(child) {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ exitCode: code, signal }));
  });
}

/** Run the C floor's loop for `m` iterations (argv has {N} for the count); append its ms. */
function runFloor(floor, m, into) {
  const argv = floor.argv.map((a) => (a === '{N}' ? String(m) : a));
  const r = spawnSync(floor.bin, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${floor.bin} ${argv.join(' ')}: exit ${r.status}`);
  const j = JSON.parse(r.stdout);
  for (const [key, field] of [['clone', 'clone_ns'], ['exec', 'exec_ns'], ['total', 'total_ns']]) {
    for (const v of j[field]) into[key].push(v / 1e6);
  }
}

/** The C floor's containers/s: `processes` sequential loops side by side, `n` starts in all. */
async function floorThroughput(floor, n, processes) {
  const per = Math.ceil(n / processes);
  const t0 = now();
  await Promise.all(
    Array.from({ length: processes }, () =>
      new Promise((resolve, reject) => {
        const argv = floor.argv.map((a) => (a === '{N}' ? String(per) : a));
        const p = cpSpawn(floor.bin, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`floor exit ${code}`))));
      }),
    ),
  );
  return (per * processes * 1000) / (now() - t0);
}

function openFds() {
  return readdirSync('/proc/self/fd').length;
}

function eldSummary(h, resolutionMs) {
  // The histogram records the interval between timer ticks: lateness = value - resolution.
  const ms = (v) => v / 1e6 - resolutionMs;
  return { max: ms(h.max), p99: ms(h.percentile(99)), p50: ms(h.percentile(50)), mean: ms(h.mean), count: h.count };
}

const tasks = {
  /**
   * Sequential start + wait. With `floor` ({ bin, argv }), the C floor's own loop runs in
   * between, chunk for chunk (same count), so both see the same machine noise.
   */
  async seq({ n, warmup = 20, stdio = 'inherit', floor = null, floorHelper = null, chunks = 10, async = false }) {
    for (let k = 0; k < warmup; k++) await startOnce(stdio, async);
    const block = [];
    const total = [];
    const floorRuns = { clone: [], exec: [], total: [] };
    const helperRuns = { clone: [], exec: [], total: [] };
    const h = monitorEventLoopDelay({ resolution: 1 });
    const per = Math.ceil(n / chunks);
    for (let done = 0; done < n; ) {
      const m = Math.min(per, n - done);
      h.enable();
      for (let k = 0; k < m; k++) {
        const [b, t] = await startOnce(stdio, async);
        block.push(b);
        total.push(t);
      }
      h.disable();
      if (floor) runFloor(floor, m, floorRuns);
      if (floorHelper) runFloor(floorHelper, m, helperRuns);
      done += m;
    }
    return { block, total, eld: eldSummary(h, 1), floor: floor ? floorRuns : null, floorHelper: floorHelper ? helperRuns : null };
  },

  /**
   * What a cgroup of its own costs a start: the same container with and without memory, pids
   * and cpu limits (`resources`), alternating, so that both see the same machine.
   */
  /**
   * The same container with and without a cgroup, in alternating blocks of `block` starts: a
   * cgroup's removal leaves the kernel work after it (css offline and free, in kworkers and
   * under cgroup_mutex) to land in the next start, which one-by-one alternation charged to
   * the plain row (0.1-0.2 ms of it, measured: plain starts right after a limited one are that
   * much slower than in a block of their own).
   */
  async cgroupCost({ n, warmup = 10, resources, cgroupsPath, block = 10 }) {
    const plainC = container();
    const limitedC = { ...container(), resources, cgroupsPath };
    const once = async (c) => {
      const t0 = now();
      const p = ns.exec(c, { stdio: 'inherit' });
      check(await p.wait(), 'container');
      return now() - t0;
    };
    for (let k = 0; k < warmup; k++) {
      await once(plainC);
      await once(limitedC);
    }
    const plain = [];
    const limited = [];
    while (plain.length < n) {
      const m = Math.min(block, n - plain.length);
      for (let k = 0; k < m; k++) plain.push(await once(plainC));
      for (let k = 0; k < m; k++) limited.push(await once(limitedC));
    }
    return { plain, limited };
  },

  /** Containers/s with `conc` in flight, for each level. */
  async throughput({ levels, perLevel, warmup = 20, floor = null, processes = 2 }) {
    for (let k = 0; k < warmup; k++) await startOnce('inherit');
    const out = [];
    for (const conc of levels) {
      const block = [];
      let started = 0;
      const h = monitorEventLoopDelay({ resolution: 1 });
      const t0 = now();
      h.enable();
      const worker = async () => {
        while (started < perLevel) {
          started++;
          const a = now();
          const p = ns.exec(container(), { stdio: 'inherit' });
          block.push(now() - a);
          check(await p.wait(), 'container');
        }
      };
      await Promise.all(Array.from({ length: conc }, worker));
      const wall = now() - t0;
      h.disable();
      const level = { conc, n: perLevel, wallMs: wall, perSecond: (perLevel * 1000) / wall, block, eld: eldSummary(h, 1) };
      if (floor) level.floorPerSecond = await floorThroughput(floor, perLevel, processes);
      out.push(level);
    }
    return { levels: out };
  },

  /** Sequential execIn (or execInAsync) + wait into a running container (state read from the store), floor interleaved. */
  async execin({ stateRoot, id, n, warmup = 20, floor = null, chunks = 10, async = false }) {
    const state = new ns.StateStore(stateRoot).read(id);
    const once = async () => {
      const t0 = now();
      let p;
      let t1;
      if (async) {
        // The blocking part of execInAsync() is the call up to its first await.
        const pending = ns.execInAsync(state, { args: ARGS }, { stdio: 'inherit' });
        t1 = now();
        p = await pending;
      } else {
        p = ns.execIn(state, { args: ARGS }, { stdio: 'inherit' });
        t1 = now();
      }
      check(await p.wait(), 'execIn');
      return [t1 - t0, now() - t0];
    };
    for (let k = 0; k < warmup; k++) await once();
    const block = [];
    const total = [];
    const floorRuns = { clone: [], exec: [], total: [] };
    const per = Math.ceil(n / chunks);
    for (let done = 0; done < n; ) {
      const m = Math.min(per, n - done);
      for (let k = 0; k < m; k++) {
        const [b, t] = await once();
        block.push(b);
        total.push(t);
      }
      if (floor) runFloor(floor, m, floorRuns);
      done += m;
    }
    return { block, total, pid: state.pid, floor: floor ? floorRuns : null };
  },

  /** child_process.spawn of a command (nsenter, /bin/true ...): what Node users do otherwise. */
  async childProcess({ argv, n, warmup = 10 }) {
    const once = async () => {
      const t0 = now();
      const child = cpSpawn(argv[0], argv.slice(1), { stdio: 'inherit' });
      const t1 = now();
      const exit = await childExit(child);
      check(exit, argv.join(' '));
      return [t1 - t0, now() - t0];
    };
    for (let k = 0; k < warmup; k++) await once();
    const block = [];
    const total = [];
    for (let k = 0; k < n; k++) {
      const [b, t] = await once();
      block.push(b);
      total.push(t);
    }
    return { block, total };
  },

  /** RSS (and heap, descriptors) every `every` runs over `n` runs with `conc` in flight. */
  async rss({ n, every, conc = 4 }) {
    const gc = globalThis.gc;
    const sample = (runs, wallMs) => {
      const m = process.memoryUsage();
      const raw = m.rss;
      if (gc) gc();
      const after = process.memoryUsage();
      return { runs, wallMs, rss: raw, rssAfterGc: after.rss, heapUsed: after.heapUsed, heapTotal: after.heapTotal, external: after.external, fds: openFds() };
    };
    const samples = [sample(0, 0)];
    const t0 = now();
    let done = 0;
    let started = 0;
    let nextSample = every;
    const worker = async () => {
      while (started < n) {
        started++;
        const p = ns.exec(container(), { stdio: 'inherit' });
        check(await p.wait(), 'container');
        done++;
        if (done >= nextSample) {
          nextSample += every;
          samples.push(sample(done, now() - t0));
        }
      }
    };
    await Promise.all(Array.from({ length: conc }, worker));
    return { samples, gc: Boolean(gc) };
  },

  /** Where one start's synchronous time goes: each stage of exec() timed on its own. */
  async phases({ n, floor = null }) {
    const med = (f) => {
      const xs = [];
      for (let k = 0; k < n; k++) {
        const t0 = now();
        f();
        xs.push(now() - t0);
      }
      xs.sort((a, b) => a - b);
      return xs[xs.length >> 1];
    };
    const c = container();
    const validated = ns.validateContainer(c);
    const planned = ns.planContainer(c, { stdio: [0, 1, 2] });
    const out = {
      planSteps: planned.plan.steps.length,
      planBytes: sys.encodePlan(planned.plan).length,
      stages: {},
    };
    const s = out.stages;
    s.rootfsContainer = med(() => container());
    s.validateContainer = med(() => ns.validateContainer(c));
    s.planContainer = med(() => ns.planContainer(c, { stdio: [0, 1, 2] }));
    s.encodePlan = med(() => sys.encodePlan(planned.plan));
    s.readUserFiles = med(() => ns.readUserFiles(validated.rootfs));
    s['resolveUser (parse passwd+group)'] = med(() => ns.resolveUser('0:0', ns.readUserFiles(validated.rootfs)));
    s['read+parse /proc/self/status'] = med(() => caps.parseStatusCapabilities(readFileSync('/proc/self/status', 'utf8')));
    s['read /proc/self/limits'] = med(() => readFileSync('/proc/self/limits', 'utf8'));
    // The native part alone: a ready plan, spawn(), then its exit.
    const spawnBlock = [];
    const spawnTotal = [];
    const execBlock = [];
    const floorRuns = { clone: [], exec: [], total: [] };
    const per = Math.ceil(n / 10);
    for (let k = 0; k < n; k++) {
      if (floor && k % per === 0) runFloor(floor, per, floorRuns);
      let t0 = now();
      const child = sys.spawn(planned.plan);
      spawnBlock.push(now() - t0);
      check(await child.exited, 'spawn');
      spawnTotal.push(now() - t0);
      t0 = now();
      const p = ns.exec(c, { stdio: 'inherit' });
      execBlock.push(now() - t0);
      check(await p.wait(), 'exec');
    }
    const m = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    s['native spawn() (clone to execve)'] = m(spawnBlock);
    s['native spawn() + exit'] = m(spawnTotal);
    s['exec() call (all of the above)'] = m(execBlock);
    if (floor) {
      s['C floor: clone(2) call (interleaved)'] = m(floorRuns.clone);
      s['C floor: clone → execve (interleaved)'] = m(floorRuns.exec);
      s['C floor: + exit (interleaved)'] = m(floorRuns.total);
    }
    return out;
  },
};

const fn = tasks[task.task];
if (!fn) throw new Error(`unknown task ${task.task}`);
const fdsBefore = openFds();
const result = await fn(task);
result.fdsBefore = fdsBefore;
result.fdsAfter = openFds();
result.node = process.version;
writeFileSync(outFile, JSON.stringify(result));
