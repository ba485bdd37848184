/**
 * Build and use test/fixtures/bpf-attach.c, a test-only loader of compiled device filters
 * (the native addon will do this for real), so that the integration tests can check the
 * program against the kernel's verifier and its effect on device access.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceFilter } from '../../src/bpf.js';

const source = fileURLToPath(new URL('../fixtures/bpf-attach.c', import.meta.url));

/** Compile the loader into `dir`; the binary's path, or a reason when there is no C compiler. */
export function buildBpfAttach(dir: string): { path: string } | { reason: string } {
  const out = join(dir, 'bpf-attach');
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', out, source], { encoding: 'utf8' });
  if (r.error) return { reason: `no C compiler (cc: ${r.error.message})` };
  if (r.status !== 0) return { reason: `cc failed: ${r.stderr}` };
  return { path: out };
}

/** An attachDeviceFilter for CgroupOptions running the compiled loader. */
export function attachWith(loader: string): (dir: string, filter: DeviceFilter) => void {
  return (dir, filter) => {
    execFileSync(loader, [dir], { input: filter.program, stdio: ['pipe', 'pipe', 'pipe'] });
  };
}
