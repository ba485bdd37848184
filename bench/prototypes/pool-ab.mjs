// Prototype (issue 14): two builds of @ns/namespaces' warm pool side by side in one process,
// round by round with a cold exec() + wait() (of the second build), as bench/lib/pool.mjs does:
// pool.exec() + wait() (both pools full again before each start: the other pool's refill,
// on libuv's threads, is not in this one's CPU time), the hand-over's wall clock
// and the caller's CPU time in it (process.cpuUsage()), then 50 runs back to back, twice each.
//   node bench/prototypes/pool-ab.mjs RUNS OLD_DIST NEW_DIST
// e.g. the previous build compiled into packages/namespaces/dist-old (tsc --outDir dist-old
// with the old sources) against packages/namespaces/dist. Needs root and NS_TEST_ROOTFS. When
// @ns/syscalls changed too, give dist-old its own node_modules/@ns/syscalls (the old dist, a
// package.json, and symlinks to the addon's build/ and node_modules/), or both share the new one.
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { drain, viaPool } from '../lib/pool.mjs';
const runs = +(process.argv[2] ?? 200);
const stdio = ['ignore', 'pipe', 'pipe'];
const [oldDist, newDist] = process.argv.slice(3).map((d) => pathToFileURL(resolve(d, 'index.js')).href);
if (!oldDist || !newDist) throw new Error('usage: pool-ab.mjs RUNS OLD_DIST NEW_DIST');
const mods = { old: await import(oldDist), new: await import(newDist) };
const ns = mods.new;
const container = ns.validatedContainer(ns.rootfsContainer(process.env.NS_TEST_ROOTFS, { args: ['/bin/true'] }));
const pools = {};
for (const [k, m] of Object.entries(mods)) pools[k] = await m.createPool(m.validatedContainer(m.rootfsContainer(process.env.NS_TEST_ROOTFS, { args: ['/bin/true'] })), { size: 4, stdio });
const full = async (pool) => { for (let k = 0; pool.idle < 4; k++) { if (k > 5000) throw new Error('no refill'); await new Promise((r) => setTimeout(r, 1)); } };
const r = { cold: [], old: { h: [], c: [], w: [] }, new: { h: [], c: [], w: [] } };
const l0 = loadavg();
for (let i = 0; i < runs + 20; i++) {
  const t0 = performance.now();
  await drain(ns.exec(container, { stdio }));
  const cold = performance.now() - t0;
  const order = i % 2 ? ['new', 'old'] : ['old', 'new'];
  const got = {};
  // Both pools full before each start: the other pool's refill (on libuv's threads) is not in this one's CPU time.
  for (const k of order) { await full(pools.old); await full(pools.new); got[k] = await viaPool(pools[k]); }
  if (i >= 20) { r.cold.push(cold); for (const k of ['old', 'new']) { r[k].w.push(got[k][0]); r[k].h.push(got[k][1]); r[k].c.push(got[k][2]); } }
}
const loops = {};
for (const k of ['old', 'new', 'old', 'new']) {
  await full(pools[k]);
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) await viaPool(pools[k]);
  (loops[k] ??= []).push((performance.now() - t0) / 50);
}
const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const f = (x) => x.toFixed(3);
const q = (xs, p) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * p)];
console.log(`runs ${runs}, load ${l0.map((x) => x.toFixed(2)).join(' ')} -> ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`cold exec()+wait()        ${f(med(r.cold))}`);
for (const k of ['old', 'new']) console.log(`${k}: pool.exec()+wait() ${f(med(r[k].w))}  ratio ${(med(r.cold) / med(r[k].w)).toFixed(2)}x  hand-over wall ${f(med(r[k].h))}  caller CPU ${f(med(r[k].c))} (p25 ${f(q(r[k].c, 0.25))}, p75 ${f(q(r[k].c, 0.75))})  back-to-back ms/run ${loops[k].map(f).join(' ')}`);
await Promise.all(Object.values(pools).map((p) => p.close()));
