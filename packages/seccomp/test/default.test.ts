// The default profile: moby's default.json resolved as moby resolves it, and its effect.
import { describe, expect, it } from 'vitest';
import { compileSeccomp, defaultProfile, filterVerdict, isMobyProfile, resolveMobyProfile, syscallTable } from '../src/index.js';

/** Docker's and runc spec's default capabilities (no CAP_SYS_ADMIN). */
const DOCKER_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
const CLONE_NEWUSER = 0x10000000;

describe('defaultProfile (moby default.json)', () => {
  const plain = compileSeccomp(defaultProfile({ capabilities: DOCKER_CAPS, native: 'x86_64', kernel: '6.1' }), { native: 'x86_64' });
  const admin = compileSeccomp(defaultProfile({ capabilities: [...DOCKER_CAPS, 'CAP_SYS_ADMIN'], native: 'x86_64', kernel: '6.1' }), { native: 'x86_64' });
  const v = (c: typeof plain, name: string, args: number[] = []) => filterVerdict(c.instructions, 'x86_64', name, args);

  it('defaults to EPERM and covers x86_64, i386 and x32 on an x86_64 host', () => {
    expect(plain.arches).toEqual(['x86_64', 'x86', 'x32']);
    for (const name of ['keyctl', 'add_key', 'request_key', 'bpf', 'mount', 'umount2', 'unshare', 'setns', 'kexec_load', 'open_by_handle_at', 'userfaultfd', 'perf_event_open']) {
      expect(v(plain, name), name).toEqual({ action: 'ERRNO', data: 1 });
    }
    for (const name of ['read', 'write', 'openat', 'execve', 'getpid', 'futex', 'mmap', 'clock_gettime', 'chroot']) expect(v(plain, name).action, name).toBe('ALLOW');
    expect(filterVerdict(plain.instructions, 'x86', 'keyctl')).toEqual({ action: 'ERRNO', data: 1 });
    expect(filterVerdict(plain.instructions, 'x86', 'socketcall').action).toBe('ALLOW');
  });

  it('has the capability-conditional groups: CAP_SYS_ADMIN allows mount, unshare, setns and clone with namespace flags', () => {
    expect(v(plain, 'clone', [0x11]).action).toBe('ALLOW');
    expect(v(plain, 'clone', [CLONE_NEWUSER | 0x11])).toEqual({ action: 'ERRNO', data: 1 });
    expect(v(plain, 'clone3')).toEqual({ action: 'ERRNO', data: 38 }); // ENOSYS: glibc falls back to clone
    for (const name of ['mount', 'unshare', 'setns', 'clone3', 'bpf']) expect(v(admin, name).action, name).toBe('ALLOW');
    expect(v(admin, 'clone', [CLONE_NEWUSER | 0x11]).action).toBe('ALLOW');
    expect(v(admin, 'keyctl').action).toBe('ERRNO');
  });

  it('allows personality with the listed values only, socket but AF_VSOCK', () => {
    for (const p of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect(v(plain, 'personality', [p]).action).toBe('ALLOW');
    expect(v(plain, 'personality', [1]).action).toBe('ERRNO');
    expect(v(plain, 'socket', [2]).action).toBe('ALLOW');
    expect(v(plain, 'socket', [40]).action).toBe('ERRNO');
  });

  it('resolves the arch- and kernel-conditional groups for the host', () => {
    const x86 = defaultProfile({ capabilities: [], native: 'x86_64', kernel: '6.1' });
    const arm = defaultProfile({ capabilities: [], native: 'aarch64', kernel: '6.1' });
    const names = (p: typeof x86) => new Set(p.syscalls!.flatMap((s) => s.names));
    expect(names(x86).has('arch_prctl')).toBe(true);
    expect(names(arm).has('arch_prctl')).toBe(false);
    expect(names(arm).has('set_tls')).toBe(true);
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(names(x86).has('ptrace')).toBe(true); // minKernel 4.8
    expect(names(defaultProfile({ capabilities: [], native: 'x86_64', kernel: '4.4' })).has('ptrace')).toBe(false);
    const a = compileSeccomp(arm, { native: 'aarch64' });
    expect(filterVerdict(a.instructions, 'aarch64', 'keyctl')).toEqual({ action: 'ERRNO', data: 1 });
    expect(filterVerdict(a.instructions, 'arm', 'getpid').action).toBe('ALLOW');
    expect(filterVerdict(a.instructions, 'aarch64', 'getpid').action).toBe('ALLOW');
  });

  it('gives ENOSYS to numbers newer than every call it names, EPERM to older unnamed ones', () => {
    const highest = Math.max(...[...syscallTable('x86_64').values()]);
    expect(v(plain, 'kexec_file_load').data).toBe(1);
    expect(filterVerdict(plain.instructions, 'x86_64', highest + 10)).toEqual({ action: 'ERRNO', data: 38 });
  });

  it('takes profiles in moby format from a file (archMap, includes, excludes)', () => {
    const moby = { defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } }] };
    expect(isMobyProfile(moby)).toBe(true);
    expect(isMobyProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] })).toBe(false);
    expect(resolveMobyProfile(moby, { capabilities: [], native: 'x86_64' })).toEqual({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] });
  });

  it('fits the kernel limit with room, and compiles in a few milliseconds', () => {
    expect(plain.instructions.length).toBeLessThan(2600);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) compileSeccomp(defaultProfile({ capabilities: DOCKER_CAPS, native: 'x86_64' }), { native: 'x86_64' });
    expect((performance.now() - t0) / 10).toBeLessThan(50);
  });
});
