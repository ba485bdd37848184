/**
 * The compiled device filter against this machine's kernel (root): loaded through the kernel
 * verifier and attached (BPF_CGROUP_DEVICE) to the cgroup2 directory of a test cgroup by the
 * test-only loader test/fixtures/bpf-attach.c, then a shell placed in that cgroup opens devices.
 * On this v1/v2 hybrid the devices controller is v1 and left allow-all here, so the BPF program
 * alone decides. (The v2-only path, through the manager's attachDeviceFilter, runs in the VM:
 * v2-vm.int.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileDeviceFilter } from '../src/bpf.js';
import { deviceRules } from '../src/devices.js';
import { detectLayout } from '../src/layout.js';
import { Cgroup } from '../src/manager.js';
import type { LinuxDeviceCgroup } from '../src/types.js';
import { attachWith, buildBpfAttach } from './helpers/bpf-attach.js';
import { holdShell, killStarted, removeParent, testParent } from './helpers/held.js';

const root = process.getuid?.() === 0;
const layout = root ? detectLayout() : undefined;
const parent = testParent();
let scratch = '';
// stderr closed rather than sent to /dev/null, which some rule sets deny
const PROBE = 'for d in null zero kmsg full; do ( : < /dev/$d ) 2>&-; echo $d=$?; done; ( : > /dev/full ) 2>&-; echo wfull=$?';

async function probe(rules: LinuxDeviceCgroup[], name: string, loader: string): Promise<string> {
  const cg = Cgroup.create(`${parent}/${name}`, {}, { layout: layout!, devices: false });
  attachWith(loader)(cg.dirs.unified!, compileDeviceFilter(deviceRules(rules)));
  const held = holdShell(PROBE);
  cg.addProcess(held.pid);
  held.release();
  await held.exited;
  await cg.destroy();
  return held.stdout();
}

describe.skipIf(!root || !layout?.unified)('BPF device filter on this kernel (root, a cgroup2 mount)', () => {
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ns-cgroups-bpf-'));
  });
  afterAll(async () => {
    killStarted();
    await removeParent(parent, { layout: layout! });
    rmSync(scratch, { recursive: true, force: true });
  });

  it("runc's default rules: /dev/null, zero, full open; /dev/kmsg does not", async (ctx) => {
    const built = buildBpfAttach(scratch);
    if ('reason' in built) return ctx.skip(built.reason);
    expect(await probe([{ allow: false, access: 'rwm' }], 'defaults', built.path)).toBe('null=0\nzero=0\nkmsg=2\nfull=0\nwfull=0\n');
  });

  it('a read-only rule for /dev/kmsg and a read-only /dev/full: reads open, the write does not', async (ctx) => {
    const built = buildBpfAttach(scratch);
    if ('reason' in built) return ctx.skip(built.reason);
    const rules: LinuxDeviceCgroup[] = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }];
    expect(await probe(rules, 'kmsg', built.path)).toBe('null=0\nzero=0\nkmsg=0\nfull=0\nwfull=0\n');
    const noDefaults = deviceRules([{ allow: true, type: 'c', major: 1, minor: 7, access: 'r' }], { defaults: false });
    const cg = Cgroup.create(`${parent}/ro-full`, {}, { layout: layout!, devices: false });
    attachWith(built.path)(cg.dirs.unified!, compileDeviceFilter(noDefaults));
    const held = holdShell(PROBE);
    cg.addProcess(held.pid);
    held.release();
    await held.exited;
    expect(held.stdout()).toBe('null=2\nzero=2\nkmsg=2\nfull=0\nwfull=2\n');
    await cg.destroy();
  });
});
