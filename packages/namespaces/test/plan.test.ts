import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLONE, MS, TIOCSCTTY, type MountStep, type Step } from '@ns/syscalls';
import { DEFAULT_CAPABILITIES, readLastCap, toMask } from '@ns/capabilities';
import { STAGE, commandCandidates, dedupEnv, embeddedDefault, planContainer, processSteps, rootfsContainer, validateContainer } from '../src/index.js';

const mounts = (steps: Step[]) => steps.filter((s): s is MountStep => s.op === 'mount');
const ops = (steps: Step[]) => steps.map((s) => s.op);

let rootfs: string;
beforeAll(() => {
  rootfs = mkdtempSync(join(tmpdir(), 'ns-plan-'));
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'home/alice']) mkdirSync(join(rootfs, d), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nalice:x:1000:\nwheel:x:10:alice\nusers:x:100:alice,bob\n');
  // A symlink that tries to leave the rootfs: mounts through it must stay inside.
  symlinkSync('/etc', join(rootfs, 'escape'));
  symlinkSync('../../../../..', join(rootfs, 'up'));
});
afterAll(() => rmSync(rootfs, { recursive: true, force: true }));

describe('planContainer on a rootfs', () => {
  it('makes new mnt/pid/uts/ipc/net namespaces by default: pid at clone, the rest unshared by the child', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a' }));
    expect(plan.cloneFlags).toBe(CLONE.NEWPID);
    const unshare = plan.steps.find((s) => s.op === 'unshare');
    expect(unshare).toEqual({ op: 'unshare', flags: CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET });
    // Before any mount: the mount namespace exists when / is made private.
    expect(plan.steps.findIndex((s) => s.op === 'unshare')).toBeLessThan(plan.steps.findIndex((s) => s.op === 'mount'));
  });

  it('makes / rprivate, stages the root with a first pivot_root, then mounts in runc order', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a' }));
    const m = mounts(plan.steps);
    expect(m[0]).toMatchObject({ source: null, target: '/', flags: MS.REC | MS.PRIVATE });
    expect(m[1]).toMatchObject({ fstype: 'tmpfs', target: STAGE.base });
    expect(m[2]).toMatchObject({ source: `${STAGE.oldRoot}${rootfs}`, target: STAGE.newRoot, flags: MS.BIND | MS.REC });
    // nodev on the rootfs: no devices cgroup yet, so no node made there may open a host device.
    expect(m[3]).toMatchObject({ source: null, target: STAGE.newRoot, flags: MS.BIND | MS.REMOUNT | MS.NODEV, preserveFlags: true });
    const kinds = m.slice(4, 10).map((s) => `${s.fstype}:${s.target}`);
    expect(kinds).toEqual([
      'proc:/newroot/proc',
      'tmpfs:/newroot/dev',
      'devpts:/newroot/dev/pts',
      'tmpfs:/newroot/dev/shm',
      'mqueue:/newroot/dev/mqueue',
      'sysfs:/newroot/sys',
    ]);
    expect(m[4]!.flags).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV);
    expect(m[5]!.flags & MS.NODEV).toBe(MS.NODEV); // the /dev tmpfs
    expect(m[6]!.data).toBe('newinstance,ptmxmode=0666,mode=0620,gid=5');
    expect(m[9]!.flags & MS.RDONLY).toBe(MS.RDONLY);
  });

  it('binds the host device nodes and makes the /dev symlinks, then pivots into the new root', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a' }));
    expect(plan.steps.some((s) => s.op === 'mknod')).toBe(false);
    const nodes = mounts(plan.steps).filter((s) => s.source?.startsWith('/oldroot/dev/') && s.target.startsWith('/newroot/dev/')).map((s) => `${s.source}>${s.target}`);
    expect(nodes).toEqual(['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((n) => `/oldroot/dev/${n}>/newroot/dev/${n}`));
    const links = plan.steps.filter((s) => s.op === 'symlink').map((s) => (s as { path: string }).path);
    expect(links).toContain('/newroot/dev/ptmx');
    expect(links).toContain('/newroot/dev/fd');
    const pivot = plan.steps.findIndex((s) => s.op === 'pivotRoot');
    expect(plan.steps[pivot]).toEqual({ op: 'pivotRoot', newRoot: '/newroot' });
    expect(plan.steps.findIndex((s) => s.op === 'symlink')).toBeLessThan(pivot);
    // Only mount points the rootfs lacks are created.
    const dirs = plan.steps.filter((s) => s.op === 'mkdir').map((s) => (s as { path: string }).path);
    expect(dirs).toContain('/newroot/dev/pts');
    expect(dirs).not.toContain('/newroot/proc');
  });

  it('orders the security steps: bounding set, keep caps, groups, gid, uid, capset, then exec', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', args: ['/bin/sh'] }));
    const tail = ops(plan.steps).slice(ops(plan.steps).indexOf('capbsetDrop'));
    expect(tail).toEqual(['capbsetDrop', 'prctl', 'setgroups', 'setresgid', 'setresuid', 'capset', 'prctl', 'chdir', 'closeFrom', 'execve']);
  });

  it("keeps the default capability allow-list and drops everything else the kernel knows", () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a' }));
    const kept = toMask(DEFAULT_CAPABILITIES);
    const drop = plan.steps.find((s) => s.op === 'capbsetDrop') as { mask: bigint };
    const last = BigInt(readLastCap());
    expect(drop.mask).toBe(~kept & ((1n << (last + 1n)) - 1n));
    const capset = plan.steps.find((s) => s.op === 'capset') as { effective: bigint; permitted: bigint };
    expect(capset.effective).toBe(kept);
    expect(capset.permitted).toBe(kept);
  });

  it('applies the seed drop list on top of the kept set', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', dropCapabilities: ['CAP_NET_RAW'] }));
    const capset = plan.steps.find((s) => s.op === 'capset') as { effective: bigint };
    expect(capset.effective & (1n << 13n)).toBe(0n);
    expect(capset.effective & 1n).toBe(1n);
  });

  it('leaves out an unknown capability with a warning (as runc), keeping the others', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', capabilities: ['CAP_KILL', 'CAP_BOGUS'] }));
      expect(plan.steps.find((s) => s.op === 'capset')).toMatchObject({ effective: toMask(['CAP_KILL']), permitted: toMask(['CAP_KILL']) });
      expect(warn).toHaveBeenCalledWith('capabilities[1]: unknown capability "CAP_BOGUS", ignored', { code: 'NS_UNKNOWN_CAPABILITY' });
    } finally {
      warn.mockRestore();
    }
  });

  it('gives execve each env key once: the last entry of a key wins, at its place (as runc)', () => {
    const env = ['ONE=two', 'PATH=/nope', 'A=1', 'ONE=three', 'PATH=/bin'];
    const { plan, env: planned } = planContainer(rootfsContainer(rootfs, { id: 'a', args: ['sh'], env }));
    const execve = plan.steps.find((s) => s.op === 'execve') as { paths: string[]; envp: string[] };
    expect(execve.envp).toEqual(['A=1', 'ONE=three', 'PATH=/bin', 'HOME=/root']);
    expect(planned).toEqual(execve.envp);
    expect(execve.paths).toEqual(['/bin/sh']); // looked up in the PATH that wins
    const home = planContainer(rootfsContainer(rootfs, { id: 'a', env: ['HOME=/a', 'X=1', 'HOME=/b'] })).env;
    expect(home).toEqual(['X=1', 'HOME=/b']);
    // execIn's process steps too.
    const proc = processSteps(validateContainer(rootfsContainer(rootfs, { id: 'a', env: ['ONE=two', 'ONE=three'] })), { stdio: [0, 1, 2] });
    expect(proc.steps.at(-1)).toMatchObject({ op: 'execve', envp: ['ONE=three', 'HOME=/root'] });
  });

  it('dedupEnv keeps the last entry of each key in its place and counts KEY= and KEY apart from prefixes', () => {
    expect(dedupEnv([])).toEqual([]);
    expect(dedupEnv(['A=1', 'B=2'])).toEqual(['A=1', 'B=2']);
    expect(dedupEnv(['ONE=two', 'ONE=three'])).toEqual(['ONE=three']);
    expect(dedupEnv(['A=1', 'AB=2', 'A=3', 'A='])).toEqual(['AB=2', 'A=']);
    expect(dedupEnv(['X=a=b', 'X=c'])).toEqual(['X=c']);
  });

  it('resolves a user by name with supplementary groups and HOME', () => {
    const { plan, user, env } = planContainer(rootfsContainer(rootfs, { id: 'a', user: 'alice' }));
    expect(user).toMatchObject({ uid: 1000, gid: 1000, home: '/home/alice' });
    expect(plan.steps.find((s) => s.op === 'setgroups')).toEqual({ op: 'setgroups', gids: [10, 100] });
    expect(plan.steps.find((s) => s.op === 'setresuid')).toMatchObject({ ruid: 1000, euid: 1000, suid: 1000 });
    expect(env).toContain('HOME=/home/alice');
  });

  it('fails on an unknown user before anything starts', () => {
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', user: 'mallory' }))).toThrow(/mallory/);
  });

  it('sets the hostname only in a new UTS namespace', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', hostname: 'box' }));
    expect(plan.steps).toContainEqual({ op: 'sethostname', hostname: 'box' });
    const noUts = rootfsContainer(rootfs, { id: 'a', hostname: 'box', namespaces: [{ type: 'mount' }, { type: 'pid' }] });
    expect(() => planContainer(noUts)).toThrow(/hostname: setting the hostname needs a new UTS namespace/);
    const { plan: quiet } = planContainer(rootfsContainer(rootfs, { id: 'a', hostname: '', namespaces: [{ type: 'mount' }] }));
    expect(quiet.steps.some((s) => s.op === 'sethostname')).toBe(false);
  });

  it('joins an existing network namespace by path and rejects it together with a new one', () => {
    const join = rootfsContainer(rootfs, { id: 'a', hostname: '', namespaces: [{ type: 'mount' }, { type: 'network', path: '/proc/1/ns/net' }] });
    const { plan } = planContainer(join);
    expect(plan.cloneFlags & CLONE.NEWNET).toBe(0);
    expect(plan.steps.some((s) => s.op === 'unshare' && (s.flags & CLONE.NEWNET) !== 0)).toBe(false);
    expect(plan.steps).toContainEqual({ op: 'setns', path: '/proc/1/ns/net', nstype: CLONE.NEWNET });
    const both = rootfsContainer(rootfs, { id: 'a', hostname: '', namespaces: [{ type: 'mount' }, { type: 'network', path: '/x' }, { type: 'network' }] });
    expect(() => planContainer(both)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
  });

  it('remounts the root read-only after pivot_root when readonly', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', readonly: true }));
    const pivot = plan.steps.findIndex((s) => s.op === 'pivotRoot');
    const ro = plan.steps.findIndex((s) => s.op === 'mount' && s.target === '/' && (s.flags & MS.REMOUNT) !== 0);
    expect(ro).toBeGreaterThan(pivot);
    expect((plan.steps[ro] as MountStep).flags & MS.RDONLY).toBe(MS.RDONLY);
  });

  it('resolves mount destinations inside the rootfs, never through a symlink that leaves it', () => {
    const { plan } = planContainer(
      rootfsContainer(rootfs, {
        id: 'a',
        mounts: [
          { destination: '/escape/x', type: 'tmpfs', source: 'tmpfs' },
          { destination: '/up/y', type: 'tmpfs', source: 'tmpfs' },
        ],
      }),
    );
    const targets = mounts(plan.steps).map((s) => s.target);
    expect(targets).toContain('/newroot/etc/x');
    expect(targets).toContain('/newroot/y');
  });

  it('bind mounts a host directory through the old root, read-only with a remount', () => {
    const { plan } = planContainer(
      rootfsContainer(rootfs, { id: 'a', mounts: [{ destination: '/data', type: 'bind', source: rootfs, options: ['rbind', 'ro'] }] }),
    );
    const m = mounts(plan.steps);
    expect(m).toContainEqual(expect.objectContaining({ source: `${STAGE.oldRoot}${rootfs}`, target: '/newroot/data', flags: MS.BIND | MS.REC }));
    expect(m).toContainEqual(expect.objectContaining({ source: null, target: '/newroot/data', flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NODEV }));
  });

  it('follows no symlink in the child for every step under the new root', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', terminal: true }), { stdio: [], console: { fd: 9, path: '/dev/pts/7' } });
    const under = plan.steps.filter((s) => {
      const p = s.op === 'mount' ? s.target : 'path' in s && typeof s.path === 'string' ? s.path : '';
      return p.startsWith('/newroot');
    });
    expect(under.length).toBeGreaterThan(20);
    expect(under.every((s) => s.nofollow === true)).toBe(true);
    expect(plan.steps).toContainEqual({ op: 'procRoot', path: '/oldroot/proc' });
  });

  it('puts devices into the tmpfs even when the rootfs /dev is a symlink leading out (regression)', () => {
    const evil = mkdtempSync(join(tmpdir(), 'ns-evil-'));
    try {
      mkdirSync(join(evil, 'etc'));
      writeFileSync(join(evil, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
      symlinkSync('/oldroot/tmp/esc', join(evil, 'dev'));
      const { plan } = planContainer(rootfsContainer(evil, { id: 'a' }));
      const devTmpfs = mounts(plan.steps).find((s) => s.fstype === 'tmpfs' && s.target.endsWith('/esc'))!;
      expect(devTmpfs.target).toBe('/newroot/oldroot/tmp/esc');
      const paths = plan.steps.flatMap((s) => (s.op === 'symlink' || s.op === 'touch' || s.op === 'mknod' ? [s.path] : []));
      expect(paths.length).toBeGreaterThan(6);
      for (const p of paths) expect(p.startsWith('/newroot/oldroot/tmp/esc/')).toBe(true);
    } finally {
      rmSync(evil, { recursive: true, force: true });
    }
  });

  it('does not make devices in a host directory bound on /dev (regression)', () => {
    const c = rootfsContainer(rootfs, { id: 'a', mounts: [...(rootfsContainer(rootfs).mounts ?? []), { destination: '/dev', type: 'bind', source: rootfs, options: ['rbind'] }] });
    const { plan } = planContainer(c);
    expect(plan.steps.some((s) => s.op === 'symlink' || s.op === 'touch' || s.op === 'mknod')).toBe(false);
  });

  it('refuses mounts over /proc (but procfs itself and lxcfs files) and on / (regression)', () => {
    const withMount = (m: { destination: string; type?: string; source?: string; options?: string[] }) =>
      rootfsContainer(rootfs, { id: 'a', mounts: [...(rootfsContainer(rootfs).mounts ?? []), m] });
    expect(() => planContainer(withMount({ destination: '/proc', type: 'bind', source: rootfs }))).toThrow(/mounts\[6\]\.destination: only a proc mount may go on \/proc/);
    expect(() => planContainer(withMount({ destination: '/proc/sys', type: 'tmpfs' }))).toThrow(/mounting over \/proc\/sys is not allowed/);
    expect(() => planContainer(withMount({ destination: '/', type: 'bind', source: rootfs }))).toThrow(/the destination cannot be \//);
    expect(() => planContainer(withMount({ destination: '/proc/meminfo', type: 'bind', source: join(rootfs, 'etc/passwd') }))).not.toThrow();
  });

  it('creates a missing working directory, as runc', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', cwd: '/work/dir' }));
    expect(plan.steps).toContainEqual(expect.objectContaining({ op: 'mkdir', path: '/newroot/work/dir' }));
  });

  it('names the field of a NUL byte or a wrong type', () => {
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', args: ['sh', 'a\0b'] }))).toThrow('args[1]: contains a NUL byte');
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', user: { uid: 0 } as unknown as string }))).toThrow(/^user: expected "uid\[:gid\]"/);
    expect(() => planContainer({ ...rootfsContainer(rootfs), id: undefined as unknown as string })).toThrow('id: missing');
  });

  it('refuses a bind mount whose source does not exist, naming it', () => {
    const c = rootfsContainer(rootfs, { id: 'a', mounts: [{ destination: '/data', type: 'bind', source: '/no/such/dir' }] });
    expect(() => planContainer(c)).toThrow(/mounts\[0\]\.source: \/no\/such\/dir/);
  });

  it('in terminal mode: setsid, the slave as 0/1/2, TIOCSCTTY, and /dev/console bound to it', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', terminal: true }), { stdio: [], console: { fd: 9, path: '/dev/pts/7' } });
    expect(plan.steps.slice(0, 3)).toEqual([
      { op: 'setsid' },
      { op: 'stdio', fds: [9, 9, 9] },
      { op: 'ioctl', fd: 0, request: TIOCSCTTY, arg: 0 },
    ]);
    expect(mounts(plan.steps)).toContainEqual(expect.objectContaining({ source: `${STAGE.oldRoot}/dev/pts/7`, target: '/newroot/dev/console', flags: MS.BIND }));
  });

  it("with a console of the container's own (its devpts): placeholders on 0-2, then openConsole after /dev/pts is mounted, before pivot_root", () => {
    const own = { own: true as const, cols: 90, rows: 20 };
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', terminal: true, user: '1000:1001' }), { stdio: [5, 5, 5], console: own });
    expect(plan.steps.slice(0, 2)).toEqual([{ op: 'setsid' }, { op: 'stdio', fds: [5, 5, 5] }]);
    const at = plan.steps.findIndex((s) => s.op === 'openConsole');
    expect(plan.steps[at]).toEqual({ op: 'openConsole', ptmx: '/newroot/dev/pts/ptmx', console: '/newroot/dev/console', cols: 90, rows: 20, uid: 1000, gid: 1001, name: 'console' });
    const devpts = plan.steps.findIndex((s) => s.op === 'mount' && s.fstype === 'devpts');
    expect(devpts).toBeGreaterThan(0);
    expect(at).toBeGreaterThan(devpts);
    expect(at).toBeLessThan(plan.steps.findIndex((s) => s.op === 'pivotRoot'));
    expect(plan.steps.some((s) => s.op === 'touch' && s.path === '/newroot/dev/console')).toBe(true);
    // Nothing of the host's devpts, and no TIOCSCTTY before the console exists.
    expect(mounts(plan.steps).some((m) => m.source?.startsWith(`${STAGE.oldRoot}/dev/pts`))).toBe(false);
    expect(plan.steps.some((s) => s.op === 'ioctl')).toBe(false);
    // Without a devpts of its own at /dev/pts: no console planned (the caller opens a pty of the host's).
    const noPts = rootfsContainer(rootfs, { id: 'a', terminal: true, mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs' }] });
    expect(planContainer(noPts, { stdio: [5, 5, 5], console: own }).plan.steps.some((s) => s.op === 'openConsole')).toBe(false);
  });

  it('applies rlimits (RLIM_INFINITY as -1), no_new_privs and umask before execve', () => {
    const { plan } = planContainer(
      rootfsContainer(rootfs, {
        id: 'a',
        noNewPrivileges: true,
        umask: 0o077,
        rlimits: [{ type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 }, { type: 'RLIMIT_NPROC', soft: 10, hard: 20 }],
      }),
    );
    const limits = plan.steps.filter((s) => s.op === 'setrlimit');
    expect(limits).toEqual([
      { op: 'setrlimit', resource: 7, soft: 1024, hard: expect.any(Number) },
      { op: 'setrlimit', resource: 4, soft: -1, hard: -1, field: 'rlimits[0]' },
      { op: 'setrlimit', resource: 6, soft: 10, hard: 20, field: 'rlimits[1]' },
    ]);
    expect(plan.steps).toContainEqual({ op: 'umask', mask: 0o077 });
    const nnp = plan.steps.findIndex((s) => s.op === 'prctl' && s.option === 38);
    expect(nnp).toBeGreaterThan(plan.steps.findIndex((s) => s.op === 'capset'));
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', rlimits: [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }] }))).toThrow(
      /^rlimits\[0\]\.type: unknown resource "RLIMIT_BOGUS"/,
    );
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', rlimits: [{ type: 'RLIMIT_NOFILE', soft: 9, hard: 8 }] }))).toThrow(/soft limit 9 is above/);
  });

  it('validates fields with their names', () => {
    expect(() => planContainer(rootfsContainer(rootfs, { id: '../x' }))).toThrow(/^id: invalid container id/);
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', cwd: 'rel' }))).toThrow(/^cwd: must be an absolute path/);
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', env: ['NOEQUALS'] }))).toThrow(/^env\[0\]: expected KEY=value/);
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', args: [] }))).toThrow(/^args: expected a non-empty list/);
    expect(() => planContainer(rootfsContainer(join(rootfs, 'nope'), { id: 'a' }))).toThrow(expect.objectContaining({ code: 'ERR_NS_NOT_FOUND' }));
  });
});

describe('the init step (init: true)', () => {
  const tail = (steps: Step[], n: number) => ops(steps).slice(-n);

  it('has none by default', () => {
    expect(ops(planContainer(rootfsContainer(rootfs, { id: 'a' })).plan.steps)).not.toContain('init');
  });

  it('forks the program right before execve, after credentials, no_new_privs and descriptors', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', init: true, user: 'alice', noNewPrivileges: true, seccomp: undefined }));
    expect(tail(plan.steps, 2)).toEqual(['init', 'execve']);
    expect(plan.steps.at(-2)).toEqual({ op: 'init' });
    const at = ops(plan.steps).indexOf('init');
    for (const before of ['setresuid', 'capset', 'prctl', 'closeFrom', 'chdir', 'setrlimit']) expect(ops(plan.steps).lastIndexOf(before)).toBeLessThan(at);
  });

  it('comes after the seccomp filter, so the init is filtered as the program', () => {
    for (const noNewPrivileges of [true, false]) {
      const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', init: true, noNewPrivileges, seccomp: 'default' }));
      expect(ops(plan.steps).indexOf('seccomp')).toBeLessThan(ops(plan.steps).indexOf('init'));
      expect(tail(plan.steps, 2)).toEqual(['init', 'execve']);
    }
  });

  it('with a terminal, hands the terminal (fd 0) to the program\'s process group', () => {
    const io = { stdio: [], console: { fd: 9, path: '/dev/pts/3' } };
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', init: true, terminal: true }), io);
    expect(plan.steps.at(-2)).toEqual({ op: 'init', tty: 0 });
  });

  it('for create, comes after the wait on the exec FIFO (the init starts with the program)', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', init: true }), { stdio: [0, 1, 2], startFifoFd: 7, parentDeathSignal: 0 });
    const o = ops(plan.steps);
    expect(o.indexOf('waitFifo')).toBeLessThan(o.indexOf('init'));
    expect(tail(plan.steps, 2)).toEqual(['init', 'execve']);
  });

  it('processSteps (shared with execIn) adds it only when the config asks', () => {
    const c = validateContainer(rootfsContainer(rootfs, { id: 'a', init: true }));
    expect(ops(processSteps(c, { stdio: [0, 1, 2] }).steps)).toContain('init');
    expect(ops(processSteps({ ...c, init: false }, { stdio: [0, 1, 2] }).steps)).not.toContain('init');
  });

  it('refuses an init that is not a boolean, naming the field', () => {
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', init: 'yes' as unknown as boolean }))).toThrow(/^init: /);
  });
});

describe('rootfsOverlay: a writable layer over the rootfs', () => {
  it('mounts an overlayfs over the rootfs as the new root, its upper and work dirs on a tmpfs of the staging root', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', rootfsOverlay: { sizeBytes: 1 << 20 } }));
    const at = plan.steps.findIndex((s) => s.op === 'mount' && s.fstype === 'overlay');
    expect(plan.steps.slice(at - 4, at + 1)).toEqual([
      { op: 'mkdir', path: STAGE.overlay, mode: 0o700, existOk: false },
      { op: 'mount', source: 'tmpfs', target: STAGE.overlay, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: `mode=0700,size=${1 << 20}` },
      { op: 'mkdir', path: `${STAGE.overlay}/upper`, mode: 0o755, existOk: false },
      { op: 'mkdir', path: `${STAGE.overlay}/work`, mode: 0o700, existOk: false },
      { op: 'mount', source: 'overlay', target: STAGE.newRoot, fstype: 'overlay', flags: 0, data: `lowerdir=${STAGE.oldRoot}${rootfs},upperdir=/overlay/upper,workdir=/overlay/work`, nofollow: true },
    ]);
    // The rootfs itself is never bound: nothing can be written to it.
    expect(mounts(plan.steps).some((m) => m.source === `${STAGE.oldRoot}${rootfs}`)).toBe(false);
    // After the first pivot_root, before the mounts of the config.
    expect(ops(plan.steps).indexOf('pivotRootKeep')).toBeLessThan(at);
    expect(mounts(plan.steps).findIndex((m) => m.fstype === 'overlay')).toBeLessThan(mounts(plan.steps).findIndex((m) => m.fstype === 'proc'));
  });

  it('without a size, the tmpfs takes the kernel default', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'a', rootfsOverlay: {} }));
    expect(mounts(plan.steps).find((m) => m.target === STAGE.overlay)?.data).toBe('mode=0700');
  });

  it.each([
    ['not an object', { rootfsOverlay: true }, /^rootfsOverlay: expected an object/],
    ['an unknown field', { rootfsOverlay: { size: 1 } }, /^rootfsOverlay: unknown field "size"/],
    ['a tiny size', { rootfsOverlay: { sizeBytes: 100 } }, /^rootfsOverlay.sizeBytes: expected bytes, an integer of at least 4096, got 100/],
    ['no mount namespace', { rootfsOverlay: {}, namespaces: [{ type: 'pid' }], hostname: '', mounts: [], maskedPaths: [], readonlyPaths: [] }, /^rootfsOverlay: needs a mount namespace/],
  ] as const)('refuses %s, naming the field', (_what, extra, message) => {
    expect(() => planContainer(rootfsContainer(rootfs, { id: 'a', ...(extra as object) }))).toThrow(message);
  });

  it('refuses the embedded default (no rootfs) and a rootfs path overlayfs options cannot hold', () => {
    expect(() => planContainer(embeddedDefault({ id: 'a', rootfsOverlay: {} }))).toThrow(/^rootfsOverlay: needs a rootfs/);
    const odd = join(rootfs, '..', `ns-plan-a,b-${process.pid}`);
    mkdirSync(odd, { recursive: true });
    try {
      expect(() => planContainer(rootfsContainer(odd, { id: 'a', rootfsOverlay: {} }))).toThrow(/overlayfs options cannot hold/);
    } finally {
      rmSync(odd, { recursive: true, force: true });
    }
  });
});

describe('planContainer on the embedded default', () => {
  const { plan, container } = planContainer(embeddedDefault({ id: 'd' }));

  it('builds the root on a tmpfs with the host system directories read-only', () => {
    const m = mounts(plan.steps);
    expect(m[2]).toMatchObject({ fstype: 'tmpfs', target: STAGE.newRoot });
    expect(m).toContainEqual(expect.objectContaining({ source: `${STAGE.oldRoot}/usr`, target: '/newroot/usr', flags: MS.BIND | MS.REC }));
    expect(m).toContainEqual(expect.objectContaining({ source: null, target: '/newroot/usr', flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NODEV }));
    expect(m).toContainEqual(expect.objectContaining({ source: `${STAGE.oldRoot}/etc`, target: '/newroot/etc' }));
    // Nothing else of the host: no /home, /root, /var, /work.
    for (const t of m.map((s) => s.target)) expect(t).not.toMatch(/^\/newroot\/(home|root|var|work|srv|opt)\b/);
  });

  it("masks /etc/shadow and /etc/gshadow with the host's /dev/null before pivot_root (never the container's: CVE-2025-31133)", () => {
    const pivot = plan.steps.findIndex((s) => s.op === 'pivotRoot');
    for (const file of ['shadow', 'gshadow']) {
      const at = plan.steps.findIndex((s) => s.op === 'mount' && s.target === `/newroot/etc/${file}`);
      expect(at).toBeGreaterThan(0);
      expect(at).toBeLessThan(pivot);
      expect(plan.steps[at]).toMatchObject({ source: '/oldroot/dev/null', flags: MS.BIND, nofollow: true });
    }
    expect(mounts(plan.steps).filter((s) => s.source === '/dev/null')).toEqual([]);
  });

  it('has a tmpfs /tmp as cwd, hostname ns and a read-only root', () => {
    expect(mounts(plan.steps)).toContainEqual(expect.objectContaining({ fstype: 'tmpfs', target: '/newroot/tmp' }));
    expect(container.cwd).toBe('/tmp');
    expect(plan.steps).toContainEqual({ op: 'sethostname', hostname: 'ns' });
    expect(plan.steps).toContainEqual(expect.objectContaining({ op: 'mount', target: '/', flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV }));
  });
});

describe('commandCandidates', () => {
  it('uses the path as is when it has a slash', () => {
    expect(commandCandidates('/bin/sh', [])).toEqual(['/bin/sh']);
    expect(commandCandidates('./run', ['PATH=/x'])).toEqual(['./run']);
  });
  it("searches the container's PATH, or the default one", () => {
    expect(commandCandidates('sh', ['PATH=/a:/b'])).toEqual(['/a/sh', '/b/sh']);
    expect(commandCandidates('sh', [])[0]).toBe('/usr/local/sbin/sh');
  });
});

describe('adjustCapabilities (--cap-add / --cap-drop)', () => {
  it("follows docker's order: add ALL then drop; drop ALL keeps only the adds; else drop then add", async () => {
    const { adjustCapabilities, embeddedDefault } = await import('../src/index.js');
    const c = embeddedDefault({ id: 'x' });
    const all = adjustCapabilities(c, { add: ['ALL'], drop: ['SYS_ADMIN'] }).capabilitySets!;
    expect(all.bounding).not.toContain('CAP_SYS_ADMIN');
    expect(all.bounding).toContain('CAP_NET_ADMIN');
    expect(adjustCapabilities(c, { drop: ['ALL'], add: ['kill'] }).capabilitySets!.bounding).toEqual(['CAP_KILL']);
    const some = adjustCapabilities(c, { drop: ['CHOWN', 'NET_ADMIN'], add: ['NET_ADMIN'] }).capabilitySets!;
    expect(some.bounding).toContain('CAP_NET_ADMIN');
    expect(some.bounding).not.toContain('CAP_CHOWN');
    expect(() => adjustCapabilities(c, { add: ['CAP_NOPE'] })).toThrow(/CAP_NOPE/);
  });
});
