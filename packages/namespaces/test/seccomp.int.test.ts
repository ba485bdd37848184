// Seccomp on the real kernel: the default profile and OCI profiles installed by ns-init, seen
// from inside the container through a small static program that makes one system call by
// number (fixtures/syscall.c, built here with gcc) and prints `ok RET` or `errno N`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, StateStore, embeddedDefault, execIn, planContainer, rootfsContainer, runContainer, type Container, type ContainerProcess, type LinuxSeccomp } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

const haveGcc = spawnSync('gcc', ['--version']).status === 0;
const x64 = process.arch === 'x64';
// x86_64 numbers (asm/unistd_64.h) and i386 ones (asm/unistd_32.h).
const NR = { getpid: 39, personality: 135, mount: 165, unshare: 272, add_key: 248, keyctl: 250, bpf: 321, kcmp: 312, getppid: 110 };
const NR32 = { getpid: 20, keyctl: 288 };
const CLONE_NEWUSER = 0x10000000;
const EPERM = 1;

describe.skipIf(!isRoot || !ROOTFS || !haveGcc || !x64)('seccomp filters on the real kernel (as root)', () => {
  let dir: string;
  let mounts: Container['mounts'];
  const before = hostMounts();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-seccomp-'));
    execFileSync('gcc', ['-static', '-O1', '-o', join(dir, 'sc'), join(import.meta.dirname, 'fixtures', 'syscall.c')]);
    mounts = [...DEFAULT_MOUNTS, { destination: '/sc', type: 'bind', source: join(dir, 'sc'), options: ['bind', 'ro'] }];
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    expect(hostMounts()).toEqual(before);
  });

  const box = (args: string[], o: Partial<Container> = {}) => rootfsContainer(ROOTFS, { args, mounts, ...o });
  const sc = async (args: (string | number)[], o: Partial<Container> = {}) => {
    const r = await run(box(['/sc', ...args.map(String)], o));
    return r.signal ?? r.stdout.trim();
  };
  const profile = (syscalls: LinuxSeccomp['syscalls'], more: Partial<LinuxSeccomp> = {}): LinuxSeccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls, ...more });

  it('the default profile refuses keyctl, add_key, bpf, mount and kcmp with EPERM, and allows ordinary calls', async () => {
    expect(rootfsContainer(ROOTFS).seccomp).toBe('default');
    for (const nr of [NR.keyctl, NR.add_key, NR.bpf, NR.mount, NR.kcmp]) expect(await sc([nr]), `nr ${nr}`).toBe(`errno ${EPERM}`);
    expect(await sc([NR.getppid])).toBe('ok 0');
    // personality: the values moby allows only.
    expect(await sc([NR.personality, 0xffffffff])).toMatch(/^ok /);
    expect(await sc([NR.personality, 0x0400000])).toBe(`errno ${EPERM}`);
  });

  it('the default profile refuses unshare(CLONE_NEWUSER) to a non-root user without CAP_SYS_ADMIN', async () => {
    expect(await sc([NR.unshare, CLONE_NEWUSER], { user: '1000:1000' })).toBe(`errno ${EPERM}`);
    // Unconfined, the same call works (user namespaces are open to unprivileged users here).
    expect(await sc([NR.unshare, CLONE_NEWUSER], { user: '1000:1000', seccomp: undefined })).toBe('ok 0');
  });

  it('gives calls newer than the profile ENOSYS, so that the C library falls back', async () => {
    expect(await sc([470])).toBe('errno 38');
    expect(await sc([435 /* clone3 */])).toBe('errno 38');
  });

  it('runs busybox applets under the default profile, the filter in place (Seccomp: 2 in /proc)', async () => {
    const r = await run(box(['/bin/sh', '-c', 'grep -E "^(Seccomp|NoNewPrivs)" /proc/self/status; ls / | wc -l; echo done | tr a-z A-Z']));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(r.stdout).toMatch(/^DONE$/m);
  });

  it('runs the host\'s Debian userland under it (the embedded default): bash, and node with a worker thread and a child process (glibc falls back from clone3)', async () => {
    const bash = await run(embeddedDefault({ args: ['/bin/bash', '-c', 'echo "$(id -u) $(cat /etc/debian_version | cut -c1-2)"; grep -c "^Seccomp:\\s*2" /proc/self/status'] }));
    expect(bash.exitCode).toBe(0);
    expect(bash.stdout).toMatch(/^0 \d+\n1\n$/);
    const node = process.execPath;
    if (!/^\/(usr|bin)\//.test(node)) return; // the sandbox shows /usr, /bin ... only
    const script = "const {Worker}=require('worker_threads'); new Worker('1',{eval:true}).on('exit',(c)=>console.log('worker',c)); require('child_process').execFileSync('/bin/true'); console.log('child ok')";
    const r = await run(embeddedDefault({ args: [node, '-e', script] }));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('child ok\nworker 0\n');
  });

  it('an ERRNO rule with errnoRet 42 gives 42', async () => {
    expect(await sc([NR.getpid], { seccomp: profile([{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 }]) })).toBe('errno 42');
  });

  it('KILL_PROCESS ends the process with SIGSYS', async () => {
    expect(await sc([NR.getpid], { seccomp: profile([{ names: ['getpid'], action: 'SCMP_ACT_KILL_PROCESS' }]) })).toBe('SIGSYS');
  });

  it('an argument rule allows the one value it names', async () => {
    const only8 = profile([{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }], { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 13, syscalls: [
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['execve', 'brk', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'readlinkat', 'getrandom', 'mprotect', 'mmap', 'uname', 'write', 'fstat', 'newfstatat', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
    ] });
    expect(await sc([NR.personality, 8], { seccomp: only8, noNewPrivileges: true })).toMatch(/^ok /);
    expect(await sc([NR.personality, 9], { seccomp: only8, noNewPrivileges: true })).toBe('errno 13');
  });

  it('blocks 32-bit calls by the architecture check: an i386 call ends the process when only x86_64 is listed', async () => {
    const only64 = profile([], { architectures: ['SCMP_ARCH_X86_64'] });
    expect(await sc([NR.getpid], { seccomp: only64 })).toMatch(/^ok /);
    expect(await sc(['-32', NR32.getpid], { seccomp: only64 })).toBe('SIGSYS');
    expect(await sc(['-x32', NR.getpid], { seccomp: only64 })).toBe('SIGSYS');
    // The default profile lists i386: its calls get the i386 rules.
    expect(await sc(['-32', NR32.getpid])).toMatch(/^ok /);
    expect(await sc(['-32', NR32.keyctl])).toBe(`errno ${EPERM}`);
  });

  it('with noNewPrivileges installs the filter right before execve: a profile denying setresuid still starts', async () => {
    const noSetuid = profile([{ names: ['setresuid', 'setresgid', 'capset'], action: 'SCMP_ACT_ERRNO' }]);
    const steps = planContainer(box(['/sc', '39'], { seccomp: noSetuid, noNewPrivileges: true })).plan.steps.map((s) => s.op);
    expect(steps.slice(-3)).toEqual(['closeFrom', 'seccomp', 'execve']);
    expect(await sc([NR.getpid], { seccomp: noSetuid, noNewPrivileges: true })).toMatch(/^ok /);
    // Without it the filter goes in before the capabilities are dropped: refused, nothing started.
    expect(() => planContainer(box(['/sc'], { seccomp: noSetuid }))).toThrow(/^seccomp: setresgid fails with errno 1 under this profile: ns-init makes it after installing the filter/);
  });

  it('runs under a profile older than close_range that fails it with EPERM (runtime-tools\' default profile), as runc', async () => {
    // ns-init falls back to fcntl(FD_CLOEXEC) one descriptor at a time. Before, planning
    // refused it ("close_range fails with errno 1 under this profile").
    const old = profile([{ names: ['faccessat2', 'close_range'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }]);
    expect(await sc([NR.getpid], { seccomp: old })).toMatch(/^ok /);
    // The descriptors above 2 are still closed at execve: ls sees only its own directory's.
    expect((await run(box(['/bin/ls', '/proc/self/fd'], { seccomp: old }))).stdout.trim().split('\n').sort()).toEqual(['0', '1', '2', '3']);
    // A failure ns-init cannot fall back from is still refused before anything starts.
    expect(() => planContainer(box(['/sc'], { seccomp: profile([{ names: ['close_range', 'fcntl'], action: 'SCMP_ACT_ERRNO' }]) }))).toThrow(/^seccomp: close_range fails with errno 1 under this profile/);
    expect(() => planContainer(box(['/sc'], { seccomp: profile([{ names: ['close_range'], action: 'SCMP_ACT_KILL' }]) }))).toThrow(/^seccomp: close_range gets KILL/);
  });

  it('a process started with execIn gets the container\'s filter', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ns-seccomp-state-'));
    const store = new StateStore(root);
    let p: ContainerProcess | undefined;
    try {
      const seccomp = profile([{ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 33 }]);
      const r = runContainer(box(['sleep', '60'], { id: 'seccomp-join', seccomp }), { store, stdio: 'ignore' });
      p = r.process;
      const e = execIn(r.state, { args: ['/sc', String(NR.getppid)] }, { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      e.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const [exit] = await Promise.all([e.wait(), new Promise((res) => e.once('close', res))]);
      expect(exit.exitCode).toBe(0);
      expect(out.trim()).toBe('errno 33');
    } finally {
      p?.kill('SIGKILL');
      await p?.wait();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
