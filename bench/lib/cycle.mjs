// A client's cycle (issue 17): what podman's conmon or containerd's shim make a runtime do per
// container, `create --bundle B --pid-file P ID` + `start ID` + `state ID` + wait + `delete ID`
// of a /bin/true bundle, and `exec ID /bin/true` into a running container, for ns, runc and crun
// side by side, with `node -e 0` as Node's floor for one call. ns runs as clients run it (the
// installed `ns`, through its native front), and all in Node for comparison. bench/cycle.c does the timing
// (a subreaper, so every runtime's container is waited for the same way).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { specBundle } from './bundle.mjs';

export const CYCLE_SECTION = 'client cycle: create + start + state + wait + delete (whole processes)';
export const CYCLE_PHASES = ['create', 'start', 'state', 'wait', 'delete'];

/** A `runc spec` bundle running `args`, read-only root, in an absolute cgroup of its own. */
function bundle(dir, rootfs, args, cgroupsPath) {
  return specBundle(dir, (c) => {
    c.process.terminal = false;
    c.process.args = args;
    // runc spec's ambient set is not in its inheritable set: runc drops it silently, ns warns.
    delete c.process.capabilities.ambient;
    c.root = { path: rootfs, readonly: true };
    c.linux.cgroupsPath = cgroupsPath;
  });
}

/** Run bench/cycle.c once; returns its lines as arrays of numbers, or { error }. */
function harness(bin, args) {
  const r = spawnSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  if (r.status !== 0) return { error: (r.stderr || `exit ${r.status}`).trim().split('\n').slice(0, 3).join(' ') };
  return { lines: r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number)) };
}

/**
 * Measure the client cycle and exec for each runtime found, in `rounds` rounds of `runs /
 * rounds` cycles each (runtimes in turn within a round, so they share the machine's noise).
 *
 * @param o.cycleBin  bench/cycle.c built
 * @param o.runtimes  [{ name, argv: [binary, ...global flags], hideUnified?: boolean }]; `ns`
 *   is labelled the native front, `ns-serve` the front with a warm `ns serve` on its root,
 *   `ns-node` all in Node
 * @param o.node      the node binary (for the `node -e 0` floor)
 * @param o.handoff   optional: the argv of ns through the front's hand-off to a running
 *                    `ns serve` on ns-serve's root ([handoff-test, ROOT, '--root', ROOT]): rows for
 *                    `state ID` and `kill ID CONT` of the running container handed over
 * @returns {{ measurements: object[], notes: string[], cleanups: Function[] }}
 */
export function clientCycle({ cycleBin, runtimes, node, rootfs, tmp, prefix, runs, rounds, handoff }) {
  const notes = [];
  const cleanups = [];
  const per = Math.max(2, Math.ceil(runs / rounds));
  const samples = new Map(); // id -> number[]
  const push = (id, v) => (samples.get(id) ?? samples.set(id, []).get(id)).push(v);
  const failed = new Set();
  const sleepers = new Map();

  const live = runtimes.filter((rt) => {
    const b = bundle(join(tmp, `cycle-${rt.name}`), rootfs, ['/bin/true'], `/${prefix}-cycle-${rt.name}`);
    rt.bundle = b;
    // A running container for exec: created and started through the harness (for crun, in
    // its mount namespace without the v2 hierarchy), deleted at the end.
    const sb = bundle(join(tmp, `cycle-${rt.name}-sleep`), rootfs, ['/bin/sleep', '3600'], `/${prefix}-cycle-${rt.name}-sleep`);
    const id = `${prefix}-cycle-${rt.name}-sleep`;
    const pre = rt.hideUnified ? ['--hide-unified'] : [];
    const made = harness(cycleBin, [...pre, 'cmd', '1', '--', ...rt.argv, 'run', '-d', '--bundle', sb, id]);
    if (made.error) {
      notes.push(`${rt.name} run -d for the exec rows failed: ${made.error}`);
    } else {
      sleepers.set(rt.name, id);
      cleanups.push(() => harness(cycleBin, [...pre, 'cmd', '1', '--', ...rt.argv, 'delete', '--force', id]));
    }
    return true;
  });

  // One cycle of each first, not recorded: every runtime's files in the page cache, and a warm
  // `ns serve` warm (its first create loads what the later ones reuse).
  for (const rt of live) {
    const pre = rt.hideUnified ? ['--hide-unified'] : [];
    const w = harness(cycleBin, [...pre, 'cycle', '1', rt.bundle, `${prefix}-warm-${rt.name}`, '--', ...rt.argv]);
    if (w.error) harness(cycleBin, [...pre, 'cmd', '1', '--', ...rt.argv, 'delete', '--force', `${prefix}-warm-${rt.name}-0`]);
  }

  for (let round = 0; round < rounds; round++) {
    const f = harness(cycleBin, ['cmd', String(per), '--', node, '-e', '0']);
    if (!f.error) for (const [ms] of f.lines) push('cycle.node0', ms);
    for (const rt of live) {
      const pre = rt.hideUnified ? ['--hide-unified'] : [];
      if (!failed.has(rt.name)) {
        const r = harness(cycleBin, [...pre, 'cycle', String(per), rt.bundle, `${prefix}-c${round}-${rt.name}`, '--', ...rt.argv]);
        if (r.error) {
          failed.add(rt.name);
          notes.push(`${rt.name}: the client cycle failed, skipped: ${r.error}`);
          // A create that failed half-way may have left its container: delete every id of this round.
          for (let k = 0; k < per; k++) harness(cycleBin, [...pre, 'cmd', '1', '--', ...rt.argv, 'delete', '--force', `${prefix}-c${round}-${rt.name}-${k}`]);
        } else {
          for (const phases of r.lines) {
            push(`cycle.${rt.name}`, phases.reduce((a, b) => a + b, 0));
            CYCLE_PHASES.forEach((p, k) => push(`cycle.${rt.name}.${p}`, phases[k]));
          }
        }
      }
      const sid = sleepers.get(rt.name);
      if (sid && !failed.has(`${rt.name}.exec`)) {
        const e = harness(cycleBin, [...pre, 'exec', String(per), sid, '--', ...rt.argv]);
        if (e.error) {
          failed.add(`${rt.name}.exec`);
          notes.push(`${rt.name} exec failed, skipped: ${e.error}`);
        } else for (const [ms] of e.lines) push(`cycle.${rt.name}.exec`, ms);
      }
      if (sid && !failed.has(`${rt.name}.execd`)) {
        const e = harness(cycleBin, [...pre, 'execd', String(per), sid, '--', ...rt.argv]);
        if (e.error) {
          failed.add(`${rt.name}.execd`);
          notes.push(`${rt.name} exec --detach failed, skipped: ${e.error}`);
        } else for (const [ms] of e.lines) push(`cycle.${rt.name}.execd`, ms);
      }
      // `state ID` and `kill ID CONT` (harmless) of the running container, alone; for ns also
      // handed to `ns serve` by the front's hand-off (docs/cli-start.md option C).
      const single = [[rt.name, rt.argv, pre]];
      if (rt.name === 'ns-serve' && handoff) single.push(['ns-handoff', handoff, []]);
      for (const [name, argv, flags] of sid ? single : []) {
        for (const [verb, extra] of [['state', []], ['kill', ['CONT']]]) {
          if (failed.has(`${name}.${verb}`)) continue;
          const r = harness(cycleBin, [...flags, 'cmd', String(per), '--', ...argv, verb, sid, ...extra]);
          if (r.error) {
            failed.add(`${name}.${verb}`);
            notes.push(`${name} ${verb} of a running container failed, skipped: ${r.error}`);
          } else for (const [ms] of r.lines) push(`single.${name}.${verb}`, ms);
        }
      }
    }
  }

  const measurements = [];
  const add = (id, label, kind, floorId) => samples.has(id) && measurements.push({ id, section: CYCLE_SECTION, label, kind, samples: samples.get(id), floorId });
  add('cycle.node0', 'node -e 0 (Node\'s floor for one call; a cycle makes 4)', 'node');
  for (const rt of live) {
    const kind = rt.name.startsWith('ns') ? 'ns' : 'ref';
    const name = rt.name === 'ns' ? 'ns (native front)' : rt.name === 'ns-serve' ? 'ns (native front + `ns serve`)' : rt.name === 'ns-node' ? 'ns (all in Node)' : rt.name;
    add(`cycle.${rt.name}`, `${name}: create + start + state + wait + delete`, kind, rt.name === 'runc' ? undefined : 'cycle.runc');
    for (const p of CYCLE_PHASES) {
      add(`cycle.${rt.name}.${p}`, `${name}: ${p === 'wait' ? 'wait (the container exits)' : p}`, kind, rt.name === 'runc' || p === 'wait' ? undefined : `cycle.runc.${p}`);
    }
    add(`cycle.${rt.name}.exec`, `${name}: exec ID /bin/true`, kind, rt.name === 'runc' ? undefined : 'cycle.runc.exec');
    add(`cycle.${rt.name}.execd`, `${name}: exec --detach --pid-file P ID /bin/true, waited for (as conmon and the shim)`, kind, rt.name === 'runc' ? undefined : 'cycle.runc.execd');
  }
  for (const name of [...live.map((rt) => rt.name), 'ns-handoff']) {
    const kind = name.startsWith('ns') ? 'ns' : 'ref';
    const label = name === 'ns-handoff' ? 'ns through the front\'s hand-off to `ns serve`' : name;
    add(`single.${name}.state`, `${label}: state ID (a running container)`, kind, name === 'runc' ? undefined : 'single.runc.state');
    add(`single.${name}.kill`, `${label}: kill ID CONT`, kind, name === 'runc' ? undefined : 'single.runc.kill');
  }
  return { measurements, notes, cleanups };
}
