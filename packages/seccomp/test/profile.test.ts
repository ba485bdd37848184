// Bad profiles fail before anything is made, with the JSON path of the field.
import { describe, expect, it } from 'vitest';
import { SeccompError, checkProfile, compileSeccomp, usesNotify } from '../src/index.js';

const bad = (profile: unknown, path: string, message: RegExp) => {
  let err: unknown;
  try {
    compileSeccomp(profile, { native: 'x86_64' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SeccompError);
  expect(err).toMatchObject({ code: 'ERR_NS_CONFIG', jsonPath: path });
  expect((err as Error).message).toMatch(new RegExp(`^${path.replace(/[.[\]]/g, '\\$&')}: `));
  expect((err as Error).message).toMatch(message);
};

describe('checkProfile: malformed profiles name their JSON path', () => {
  it('a profile that is not an object, or without defaultAction', () => {
    bad('SCMP_ACT_ALLOW', 'linux.seccomp', /expected an object, received "SCMP_ACT_ALLOW"/);
    bad({}, 'linux.seccomp.defaultAction', /missing/);
  });

  it('an unknown action, at the top and in a rule', () => {
    bad({ defaultAction: 'SCMP_ACT_DENY' }, 'linux.seccomp.defaultAction', /unknown action "SCMP_ACT_DENY"/);
    const syscalls = [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, { names: ['a'], action: 'SCMP_ACT_ALLOW' }, { names: ['b'], action: 'SCMP_ACT_ALLOW' }, { names: ['keyctl'], action: 'SCMP_ACT_EPERM' }];
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls }, 'linux.seccomp.syscalls[3].action', /unknown action "SCMP_ACT_EPERM"/);
  });

  it('a string where a list is expected', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: 'read' }, 'linux.seccomp.syscalls', /expected an array/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: 'read', action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names', /expected an array of strings/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: 'SCMP_ARCH_X86_64' }, 'linux.seccomp.architectures', /expected an array of strings/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names', /at least one/);
  });

  it('an operator that does not exist, an index out of range, more than 6 args, a negative value', () => {
    const rule = (args: unknown) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args }] });
    bad(rule([{ index: 0, value: 1, op: 'SCMP_CMP_EQUAL' }]), 'linux.seccomp.syscalls[0].args[0].op', /unknown operator "SCMP_CMP_EQUAL"/);
    bad(rule([{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }]), 'linux.seccomp.syscalls[0].args[0].index', /0\.\.5/);
    bad(rule(Array.from({ length: 7 }, (_, i) => ({ index: i % 6, value: 1, op: 'SCMP_CMP_EQ' }))), 'linux.seccomp.syscalls[0].args', /at most 6/);
    bad(rule([{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }]), 'linux.seccomp.syscalls[0].args[0].value', /non-negative integer/);
  });

  it('an errnoRet that is not an integer errno', () => {
    bad({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1.5 }, 'linux.seccomp.defaultErrnoRet', /integer errno, received 1\.5/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: '1' }] }, 'linux.seccomp.syscalls[0].errnoRet', /integer errno, received "1"/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: 70000 }] }, 'linux.seccomp.syscalls[0].errnoRet', /0 to 4095/);
  });

  it('an unknown architecture or flag', () => {
    bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80'] }, 'linux.seccomp.architectures[1]', /unknown architecture "SCMP_ARCH_Z80"/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOUD'] }, 'linux.seccomp.flags[0]', /unknown flag/);
  });

  it('SCMP_ACT_NOTIFY: accepted with a listenerPath; refused without one, as the default action, or for write (runc)', () => {
    const ok = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/l.sock', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] };
    expect(checkProfile(ok).syscalls[0]!.ret).toBe(0x7fc00000);
    expect(usesNotify(ok)).toBe(true);
    expect(usesNotify({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/l.sock' })).toBe(false);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] }, 'linux.seccomp.listenerPath', /missing: SCMP_ACT_NOTIFY needs a seccomp agent/);
    bad({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/l.sock' }, 'linux.seccomp.defaultAction', /cannot be used as default action/);
    bad({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/l.sock', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_NOTIFY' }] }, 'linux.seccomp.syscalls[0].names', /cannot be used for the write syscall/);
  });

  it('takes another root path for messages, and accepts every field of a good profile', () => {
    expect(() => checkProfile({ defaultAction: 1 }, 'seccomp')).toThrow(/^seccomp\.defaultAction: expected an action name, received 1/);
    const p = checkProfile({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS'],
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      syscalls: [{ names: ['clone'], action: 'SCMP_ACT_TRACE', args: [{ index: 0, value: 18446744073709551615, valueTwo: 1, op: 'SCMP_CMP_MASKED_EQ' }] }],
    });
    expect(p.defaultRet).toBe(0x50026);
    expect(p.flags).toBe(2 | 4 | 1 | 32);
    expect(p.syscalls[0]!.ret).toBe(0x7ff00001); // TRACE with the default data EPERM
    expect(p.syscalls[0]!.args[0]!.value).toBe((1n << 64n) - 1n); // 2^64 as JSON reads it, clamped
  });
});
