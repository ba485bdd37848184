// Reading profiles: V8 .cpuprofile files (node --cpu-prof) and `strace -c` summaries.
import { readFileSync } from 'node:fs';

function frameName(cf) {
  const url = cf.url.replace(/^file:\/\//, '');
  const short = url.includes('/packages/')
    ? url.slice(url.indexOf('/packages/') + 10).replace('/dist/', '/')
    : url.includes('node_modules/')
      ? url.slice(url.lastIndexOf('node_modules/') + 13)
      : url;
  const fn = cf.functionName || '(anonymous)';
  return short ? `${fn} (${short}:${cf.lineNumber + 1})` : fn;
}

/** Who a sample's time belongs to: the innermost JavaScript frame with a known origin. */
function originOf(stack) {
  for (const n of stack) {
    const { url, functionName } = n.callFrame;
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (!url) continue;
    const nm = url.lastIndexOf('node_modules/');
    if (nm >= 0) {
      const rest = url.slice(nm + 13).split('/');
      return `node_modules/${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
    }
    const pk = /\/packages\/([^/]+)\//.exec(url);
    if (pk) return `@ns/${pk[1]}`;
    if (url.startsWith('node:')) return 'node internals (loader, fs, ...)';
    return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
  }
  return 'native / VM';
}

/**
 * Self and inclusive time per function of a .cpuprofile, in ms. `within(callFrame)` restricts
 * the totals to samples whose stack passes through a matching frame (e.g. the time under
 * exec() only). `byOrigin`: self time per origin (node internals, each node_modules package,
 * each @ns package, GC).
 */
export function summarizeCpuProfile(file, { top = 15, within = null, ours = /\/packages\// } = {}) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const incl = new Map();
  const origin = new Map();
  let totalUs = 0;
  let withinUs = 0;
  p.samples.forEach((id, k) => {
    const dt = p.timeDeltas[k + 1] ?? p.timeDeltas[k] ?? 0; // time until the next sample
    const stack = [];
    for (let at = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at));
    const leaf = stack[0];
    const leafName = frameName(leaf.callFrame);
    if (leaf.callFrame.functionName === '(idle)' || leaf.callFrame.functionName === '(program)') return;
    totalUs += dt;
    if (within && !stack.some((n) => within(n.callFrame))) return;
    withinUs += dt;
    self.set(leafName, (self.get(leafName) ?? 0) + dt);
    const o = originOf(stack);
    origin.set(o, (origin.get(o) ?? 0) + dt);
    const seen = new Set();
    for (const n of stack) {
      const name = frameName(n.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      incl.set(name, (incl.get(name) ?? 0) + dt);
    }
  });
  const ms = (us) => us / 1000;
  const sort = (m, filter = () => true) =>
    [...m]
      .filter(([name]) => filter(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: ms(us) }));
  return {
    totalMs: ms(totalUs),
    withinMs: ms(withinUs),
    self: sort(self),
    byOrigin: sort(origin),
    inclusiveOurs: sort(incl, (name) => ours.test(name) || /\((namespaces|syscalls|capabilities|cli)\//.test(name)),
  };
}

/**
 * Parse `strace -c` output (with or without -w) into rows { syscall, calls, errors, seconds }.
 */
export function parseStraceSummary(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d*)\s*(\w+)\s*$/.exec(line);
    if (!m || m[5] === 'total') continue;
    rows.push({ syscall: m[5], seconds: Number(m[1]), calls: Number(m[3]), errors: Number(m[4] || 0) });
  }
  return rows.sort((a, b) => b.calls - a.calls);
}
