// The seccomp filter's own cost (issue 11): a getpid(2) loop inside a container with the
// default profile, the same unconfined, and the same under runc with the same profile (the one
// @ns resolves for runc spec's capabilities, as config.json linux.seccomp). The program times
// itself: what is measured is the system call, not the container's start.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CALLS = 200_000;

/** `getpid` built static into `out` (bench/getpid.c), or null with a reason. */
function build(cc, bench, out) {
  const bin = join(out, 'getpid');
  const r = spawnSync(cc, ['-O2', '-static', '-o', bin, join(bench, 'getpid.c')], { encoding: 'utf8' });
  return r.status === 0 ? { bin } : { why: (r.stderr || r.error?.message || '').trim().split('\n')[0] };
}

/** Run the library's container with stdout collected; resolves with the program's output. */
function runLib(ns, container) {
  return new Promise((resolve, reject) => {
    const p = ns.exec(container, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.wait().then((e) => (e.exitCode === 0 ? resolve(out.trim()) : reject(new Error(`getpid exited ${e.exitCode ?? e.signal}`))), reject);
  });
}

/**
 * Samples (nanoseconds per getpid call, one per run) for the library with the default profile
 * and unconfined, alternating, and for runc with the same profile when runc is there.
 * @returns { measurements: [{ id, label, kind, samples }], note? }
 */
export async function seccompCost({ ns, rootfs, tmp, cc, bench, out, runs, runc }) {
  const built = build(cc, bench, out);
  if (!built.bin) return { measurements: [], note: `seccomp cost skipped: building bench/getpid.c failed: ${built.why}` };
  const mounts = [...ns.DEFAULT_MOUNTS, { destination: '/getpid', type: 'bind', source: built.bin, options: ['bind', 'ro'] }];
  const make = (seccomp) => ns.rootfsContainer(rootfs, { args: ['/getpid', String(CALLS)], mounts, ...(seccomp ? {} : { seccomp: undefined }) });
  const confined = [];
  const free = [];
  for (let i = 0; i < runs; i++) {
    confined.push(Number(await runLib(ns, make(true))));
    free.push(Number(await runLib(ns, make(false))));
  }
  const measurements = [
    { id: 'seccomp.getpid.default', label: 'getpid() in a container, default seccomp profile (ns per call)', kind: 'ns', samples: confined, floorId: 'seccomp.getpid.none' },
    { id: 'seccomp.getpid.none', label: 'getpid() in a container, unconfined (ns per call)', kind: 'floor', samples: free },
  ];
  if (runc) {
    const dir = join(tmp, 'bundle-getpid');
    mkdirSync(dir, { recursive: true });
    spawnSync('runc', ['spec', '--bundle', dir]);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['/getpid', String(CALLS)];
    spec.root = { path: rootfs, readonly: true };
    spec.mounts.push({ destination: '/getpid', type: 'bind', source: built.bin, options: ['bind', 'ro'] });
    delete spec.linux.resources;
    // The profile @ns compiles for runc spec's capabilities (CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE).
    const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const bounding = caps.reduce((m, c) => m | (1n << BigInt({ CAP_AUDIT_WRITE: 29, CAP_KILL: 5, CAP_NET_BIND_SERVICE: 10 }[c])), 0n);
    spec.linux.seccomp = ns.resolveSeccomp('default', bounding);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const r = spawnSync('runc', ['--root', runc.root, 'run', '-b', dir, `nsbench-${process.pid}-getpid-${i}`], { encoding: 'utf8' });
      if (r.status !== 0) return { measurements, note: `runc with the default profile failed: ${(r.stderr || '').trim().split('\n')[0]}` };
      samples.push(Number(r.stdout.trim()));
    }
    measurements.push({ id: 'seccomp.getpid.runc', label: 'getpid() under runc, the same profile (ns per call)', kind: 'ref', samples, floorId: 'seccomp.getpid.none' });
  }
  return { measurements };
}
