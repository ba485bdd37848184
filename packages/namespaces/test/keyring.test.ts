// The session keyring step of a container's plan and of execIn's (runc's _ses.<id>).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStep, encodePlan } from '@ns/syscalls';
import { DEFAULT_NAMESPACES, planContainer, rootfsContainer, validateContainer } from '../src/index.js';
import { containerKeyringSteps, execKeyringSteps } from '../src/plan/keyring.js';

describe('session keyring steps', () => {
  let rootfs: string;
  beforeAll(() => {
    rootfs = mkdtempSync(join(tmpdir(), 'ns-keyring-'));
    mkdirSync(join(rootfs, 'etc'));
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  });
  afterAll(() => rmSync(rootfs, { recursive: true, force: true }));
  const map = [{ containerID: 0, hostID: 100000, size: 65536 }];

  it('joins _ses.ID with owner search, before the process changes user and after unshare', () => {
    const steps = planContainer(rootfsContainer(rootfs, { id: 'k1', user: '0:0' })).plan.steps;
    const at = steps.findIndex((s) => s.op === 'joinSessionKeyring');
    expect(steps[at]).toEqual({ op: 'joinSessionKeyring', name: '_ses.k1', perm: { mask: 0xffffffff, set: 0x80000 } });
    expect(at).toBeGreaterThan(steps.findIndex((s) => s.op === 'unshare'));
    expect(at).toBeLessThan(steps.findIndex((s) => s.op === 'setresuid'));
  });

  it('in a user namespace: search for others (runc: the owner may not be who an exec runs as)', () => {
    const c = rootfsContainer(rootfs, { id: 'k2', namespaces: [...DEFAULT_NAMESPACES, { type: 'user' }], uidMappings: map, gidMappings: map });
    const step = planContainer(c).plan.steps.find((s) => s.op === 'joinSessionKeyring');
    expect(step).toEqual({ op: 'joinSessionKeyring', name: '_ses.k2', perm: { mask: 0xffffffff, set: 0x8 } });
  });

  it('noNewKeyring: none; execIn joins by name without changing permissions', () => {
    expect(planContainer(rootfsContainer(rootfs, { id: 'k3', noNewKeyring: true })).plan.steps.some((s) => s.op === 'joinSessionKeyring')).toBe(false);
    expect(containerKeyringSteps({ id: 'x', noNewKeyring: true }, false)).toEqual([]);
    expect(execKeyringSteps({ id: 'x' })).toEqual([{ op: 'joinSessionKeyring', name: '_ses.x' }]);
    expect(execKeyringSteps({ id: 'x', noNewKeyring: true })).toEqual([]);
  });

  it('encodes and describes the step (op 110)', () => {
    const step = { op: 'joinSessionKeyring', name: '_ses.x', perm: { mask: 0xffffffff, set: 0x8 } } as const;
    expect(describeStep(step)).toBe('keyctl join_session_keyring _ses.x setperm &0xffffffff|0x8');
    const bytes = encodePlan({ cloneFlags: 0, steps: [step] });
    expect(bytes.readUInt32LE(40)).toBe(110);
  });

  it('refuses a noNewKeyring that is not a boolean, naming it', () => {
    expect(() => validateContainer(rootfsContainer(rootfs, { noNewKeyring: 'yes' as unknown as boolean }))).toThrow(/^noNewKeyring: /);
  });
});
