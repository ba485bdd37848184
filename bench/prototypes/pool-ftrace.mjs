// Prototype (issue 14): where a warm-pool run's time goes, from kernel trace events. Runs N
// pool.exec() + wait() of /bin/true (pool of 4, full again before each run) with ftrace's
// sched, syscall and workqueue events on, marks each run's call (A), resolved (B), 'exit' (X)
// and wait() resolved (C) in the trace, and prints the median of each phase in µs:
//   A→w the caller's code up to the record's write(2); w→wake the member's wake-up; wake→ex0 its
//   read, chdir up to execve(2); ex0→ex1 the execve of the program; ex1→B the caller's wake-up
//   and code; eg→pe→wn→z the program's exit_group(2) to the parent woken (the exit path: the
//   namespace teardown happens here) and the zombie; z→wid→X→C the caller noticing the exit.
// Needs root and a tracefs of its own (kept out of the host's mount table):
//   unshare -m --propagation private sh -c \
//     'mount -t tracefs nodev /sys/kernel/tracing && node bench/prototypes/pool-ftrace.mjs 100'
// with NS_TEST_ROOTFS set and packages/namespaces built.
import { openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const T = '/sys/kernel/tracing/';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ns = await import(pathToFileURL(join(ROOT, 'packages/namespaces/dist/index.js')).href);
const N = Number(process.argv[2] ?? 50);
const container = ns.validatedContainer(ns.rootfsContainer(process.env.NS_TEST_ROOTFS, { args: ['/bin/true'] }));
const pool = await ns.createPool(container, { size: 4, stdio: ['ignore', 'pipe', 'pipe'] });
const w = (f, v) => writeFileSync(T + f, v);
w('tracing_on', '0');
w('trace', '');
w('buffer_size_kb', '20000');
w('set_event', '');
for (const e of ['sched:sched_process_exec', 'sched:sched_process_exit', 'sched:sched_switch', 'sched:sched_waking', 'syscalls:sys_enter_exit_group',
  'syscalls:sys_enter_execve', 'syscalls:sys_exit_execve', 'syscalls:sys_enter_write', 'syscalls:sys_exit_ppoll', 'syscalls:sys_enter_waitid',
  'workqueue:workqueue_execute_start']) {
  writeFileSync(T + 'set_event', `${e}\n`, { flag: 'a' });
}
const mk = openSync(`${T}trace_marker`, 'w');
const mark = (s) => writeSync(mk, s);
const full = async () => {
  while (pool.idle < 4) await new Promise((r) => setTimeout(r, 1));
};
const drain = async (p) => {
  p.stdout?.resume();
  p.stderr?.resume();
  await p.wait();
};
for (let i = 0; i < 5; i++) {
  await full();
  await drain(await pool.exec({ args: ['/bin/true'] }));
}
w('tracing_on', '1');
for (let i = 0; i < N; i++) {
  await full();
  await new Promise((r) => setTimeout(r, 5));
  mark(`RUN ${i} A`);
  const p = await pool.exec({ args: ['/bin/true'] });
  mark(`RUN ${i} B pid=${p.pid}`);
  p.once('exit', () => mark(`RUN ${i} X`));
  await drain(p);
  mark(`RUN ${i} C`);
}
w('tracing_on', '0');
const text = readFileSync(`${T}trace`, 'utf8');
w('set_event', '');
w('trace', '');
await pool.close();

// Each run's events, from its A mark to its C mark.
const line = /^\s*(\S+)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (.*)$/;
const runs = [];
let cur = null;
const work = new Map();
for (const l of text.split('\n')) {
  const m = line.exec(l);
  if (!m) continue;
  const pid = Number(m[2]);
  const ts = Number(m[3]) * 1e6;
  const msg = m[4];
  const mm = /tracing_mark_write: RUN (\d+) (\w)(?: pid=(\d+))?/.exec(msg);
  if (mm) {
    if (mm[2] === 'A') runs.push((cur = { A: ts, node: pid, ev: [] }));
    else if (cur) {
      cur[mm[2]] = ts;
      if (mm[3]) cur.member = Number(mm[3]);
      if (mm[2] === 'C') cur = null;
    }
    continue;
  }
  const wq = /workqueue_execute_start: .*function (\S+)/.exec(msg);
  if (wq) work.set(wq[1], (work.get(wq[1]) ?? 0) + 1);
  if (cur) cur.ev.push([ts, pid, msg]);
}
const phases = new Map();
for (const r of runs) {
  if (r.C === undefined || r.member === undefined) continue;
  const t = {};
  const first = (k, v) => (t[k] ??= v);
  for (const [ts, pid, msg] of r.ev) {
    // The first write(2) of the caller that is not a mark: the run record.
    if (pid === r.node && msg.startsWith('sys_write(') && !msg.startsWith(`sys_write(fd: 0x${mk.toString(16)},`)) first('w', ts);
    if (pid === r.member && msg.startsWith('sys_ppoll ->')) first('wake', ts);
    if (pid === r.member && msg.startsWith('sys_execve(')) first('ex0', ts);
    if (pid === r.member && msg.startsWith('sys_execve ->')) first('ex1', ts);
    if (pid === r.member && msg.startsWith('sys_exit_group')) t.eg = ts;
    if (pid === r.member && msg.startsWith('sched_process_exit')) t.pe = ts;
    if (pid === r.member && t.eg !== undefined && msg.startsWith(`sched_waking: comm=node pid=${r.node} `)) first('wn', ts);
    if (pid === r.member && msg.includes('prev_state=Z')) t.z = ts;
    if (pid === r.node && msg.startsWith('sys_waitid(')) first('wid', ts);
  }
  const seq = [['A', r.A], ['w', t.w], ['wake', t.wake], ['ex0', t.ex0], ['ex1', t.ex1], ['B', r.B], ['eg', t.eg], ['pe', t.pe], ['wn', t.wn], ['z', t.z], ['wid', t.wid], ['X', r.X], ['C', r.C]];
  let prev = null;
  for (const [k, v] of seq) {
    if (v === undefined) continue;
    if (prev && !(prev[0] === 'B' && k === 'eg')) {
      const key = `${prev[0]}→${k}`;
      phases.set(key, [...(phases.get(key) ?? []), v - prev[1]]);
    }
    prev = [k, v];
  }
  for (const [key, a, b] of [['A→B (pool.exec)', r.A, r.B], ['A→C (exec + wait)', r.A, r.C], ['eg→z (exit path)', t.eg, t.z]]) {
    if (a !== undefined && b !== undefined) phases.set(key, [...(phases.get(key) ?? []), b - a]);
  }
}
const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
for (const [k, v] of phases) console.log(`${k.padEnd(20)} n=${String(v.length).padStart(3)}  median ${med(v).toFixed(0).padStart(6)} µs`);
console.log('workqueue work during the runs:', [...work].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([f, n]) => `${f} ${n}`).join(', '));
