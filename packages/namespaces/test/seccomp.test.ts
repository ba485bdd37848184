// The seccomp step in plans (no root): where it goes, what it carries, and the profiles that
// are refused before anything starts.
import { describe, expect, it } from 'vitest';
import { embeddedDefault, formatPlan, fromOciSpec, planContainer, seccompStep, type Container } from '../src/index.js';
import { execInSteps } from '../src/process/execin.js';

const sandbox = (o: Partial<Container> = {}) => embeddedDefault({ args: ['/bin/true'], ...o });
const spec = (seccomp: unknown) => ({ ociVersion: '1.2.0', process: { args: ['sh'], cwd: '/' }, root: { path: 'rootfs' }, linux: { namespaces: [{ type: 'mount' }], seccomp } });

describe('the seccomp step', () => {
  it('embeddedDefault() carries the default profile; the step goes in before the capabilities are dropped', () => {
    expect(embeddedDefault().seccomp).toBe('default');
    const steps = planContainer(sandbox()).plan.steps;
    const at = steps.findIndex((s) => s.op === 'seccomp');
    expect(at).toBeGreaterThan(0);
    expect(steps[at + 1]!.op).toBe('capbsetDrop');
    const step = steps[at] as Extract<(typeof steps)[number], { op: 'seccomp' }>;
    expect(step.filter.length % 2).toBe(0);
    expect(step.filter.length / 2).toBeGreaterThan(1000);
    expect(step.rules?.[1]).toBe('default SCMP_ACT_ERRNO(1)');
  });

  it('with noNewPrivileges it is the last step before execve; none with seccomp undefined', () => {
    const ops = planContainer(sandbox({ noNewPrivileges: true })).plan.steps.map((s) => s.op);
    expect(ops.slice(-2)).toEqual(['seccomp', 'execve']);
    expect(planContainer(sandbox({ seccomp: undefined })).plan.steps.some((s) => s.op === 'seccomp')).toBe(false);
  });

  it('SCMP_ACT_NOTIFY: a seccompNotify step (no TSYNC), before execve, or for create before the process detaches', () => {
    const notify = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'], listenerPath: '/run/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    const run = planContainer(sandbox({ noNewPrivileges: true, seccomp: notify })).plan.steps;
    expect(run.map((s) => s.op).slice(-2)).toEqual(['seccompNotify', 'execve']);
    expect(run.at(-2)).toMatchObject({ op: 'seccompNotify', flags: 0, name: 'seccomp-listener' });
    const create = planContainer(sandbox({ noNewPrivileges: true, seccomp: notify }), { stdio: [0, 1, 2], parentDeathSignal: 0, startFifoFd: 9 }).plan.steps.map((s) => s.op);
    expect(create.slice(-6)).toEqual(['seccompNotify', 'execCheck', 'detach', 'waitFifo', 'closeFrom', 'execve']);
    // Without notify rules a created container's filter stays right before execve, as before.
    const plain = planContainer(sandbox({ noNewPrivileges: true }), { stdio: [0, 1, 2], parentDeathSignal: 0, startFifoFd: 9 }).plan.steps.map((s) => s.op);
    expect(plain.slice(-2)).toEqual(['seccomp', 'execve']);
    // The hand-off itself writes, reads and closes under the filter: a profile refusing those is refused.
    const denyRead = { ...notify, syscalls: [...notify.syscalls, { names: ['read'], action: 'SCMP_ACT_ERRNO' }] };
    expect(() => planContainer(sandbox({ noNewPrivileges: true, seccomp: denyRead }))).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/seccomp: read fails with errno 1/) }));
    expect(formatPlan(planContainer(sandbox({ noNewPrivileges: true, seccomp: notify })).plan)).toMatch(/seccomp filter with a listener: \d+ instructions; the parent takes the listener \(seccomp-listener\)\n[\s\S]*SCMP_ACT_NOTIFY: mkdir/);
  });

  it('execIn keeps a last-moment filter after the fork and the session steps', () => {
    const tail = [{ op: 'chdir', path: '/' }, { op: 'seccomp', flags: 0, filter: [6, 0x7fff0000] }, { op: 'execve', paths: ['/bin/sh'], argv: ['sh'], envp: [] }] as const;
    const ops = execInSteps([], [{ op: 'setsid' }, { op: 'stdio', fds: [0, 1, 2] }], [...tail]).map((s) => s.op);
    expect(ops).toEqual(['stdio', 'chdir', 'cloneParent', 'setsid', 'seccomp', 'execve']);
  });

  it('--dry-run shows the filter: size, architectures, default, one line per rule group', () => {
    const text = formatPlan(planContainer(sandbox()).plan);
    expect(text).toMatch(/seccomp filter: \d+ instructions\n\s+\d+ instructions, \d+ bytes; architectures x86_64, x86, x32/);
    expect(text).toMatch(/SCMP_ACT_ALLOW: personality if arg0 == 0x8$/m);
    expect(text).toMatch(/SCMP_ACT_ERRNO\(38\): clone3$/m);
  });

  it('the default profile follows the bounding set: CAP_SYS_ADMIN lets mount through', () => {
    const admin = seccompStep('default', 1n << 21n, []);
    const plain = seccompStep('default', 0n, []);
    if (admin.op !== 'seccomp' || plain.op !== 'seccomp') throw new Error('not a seccomp step');
    expect(admin.rules!.some((r) => /^SCMP_ACT_ALLOW: bpf clone clone3 .* mount /.test(r))).toBe(true);
    expect(plain.rules!.some((r) => / mount /.test(r))).toBe(false);
  });

  it('refuses a profile that denies execve itself, naming the field, before anything is made', () => {
    const denyAll = { defaultAction: 'SCMP_ACT_ERRNO' };
    expect(() => planContainer(sandbox({ seccomp: denyAll }))).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'seccomp', message: expect.stringMatching(/^seccomp: execve fails with errno 1 under this profile: the container's program could never start/) }));
    expect(() => fromOciSpec(spec(denyAll), { bundle: '/b', id: 'x' })).toThrow(/^config\.json: linux\.seccomp: execve fails with errno 1/);
  });

  it('config.json: linux.seccomp is converted, its errors name the JSON path', () => {
    const ok = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_ERRNO' }] };
    expect(fromOciSpec(spec(ok), { bundle: '/b', id: 'x' }).seccomp).toEqual(ok);
    expect(fromOciSpec({ ...spec(undefined), linux: { namespaces: [{ type: 'mount' }] } }, { bundle: '/b', id: 'x' }).seccomp).toBeUndefined();
    const bad = (s: unknown, path: string, message: RegExp) => {
      expect(() => fromOciSpec(spec(s), { bundle: '/b', id: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path, message: expect.stringMatching(message) }));
    };
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [ok.syscalls[0], { names: ['x'], action: 'SCMP_ACT_NOPE' }] }, 'linux.seccomp.syscalls[1].action', /^config\.json: linux\.seccomp\.syscalls\[1\]\.action: unknown action "SCMP_ACT_NOPE"/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_SIMILAR' }] }] }, 'linux.seccomp.syscalls[0].args[0].op', /unknown operator "SCMP_CMP_SIMILAR"/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, 'linux.seccomp.architectures[0]', /unknown architecture/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] }, 'linux.seccomp.listenerPath', /^config\.json: linux\.seccomp\.listenerPath: missing: SCMP_ACT_NOTIFY needs a seccomp agent/);
  });

  it('a Container with a bad profile fails validation with its path', () => {
    expect(() => planContainer(sandbox({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: 'keyctl' } as never }))).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'seccomp.syscalls' }));
  });
});
