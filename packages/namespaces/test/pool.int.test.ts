// createPool() for real (issue 14): pre-created containers on the busybox rootfs.
import { spawn as spawnChild } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Cgroup, allDirs, cgroupDirs } from '@ns/cgroups';
import { DEFAULT_MOUNTS, NsError, createPool, hostCgroupLayout, rootfsContainer, type Container, type ContainerProcess, type Pool } from '../src/index.js';
import { ROOTFS, gone, hostMounts as allHostMounts, isRoot } from './helpers.js';

const TMP = { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] };
/** Read-only busybox rootfs, a fresh tmpfs /tmp per member. */
const box = (o: Partial<Container> = {}): Container =>
  rootfsContainer(ROOTFS, { args: ['/bin/sh'], readonly: true, mounts: [...DEFAULT_MOUNTS, TMP], env: ['PATH=/bin:/sbin', 'FROM=config'], ...o });

async function collect(stream: Readable | null): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function finish(p: ContainerProcess) {
  p.stdin?.end();
  const [stdout, stderr, exit] = await Promise.all([collect(p.stdout), collect(p.stderr), p.wait()]);
  return { stdout, stderr, ...exit };
}

/** Until `check` holds, or 10 s (a wait, not a timing assertion). */
async function until(check: () => boolean): Promise<boolean> {
  for (let t = 0; t < 200; t++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** The host's mount points but the other test runs' own under /tmp (engineers share this machine). */
const hostMounts = () => allHostMounts().filter((m) => !m.startsWith('/tmp/') || m.startsWith(ROOTFS));

const pools: Pool[] = [];
const open = async (c: Container, o: Parameters<typeof createPool>[1]) => {
  const p = await createPool(c, o);
  pools.push(p);
  return p;
};
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe.skipIf(!isRoot || !ROOTFS)('createPool (as root)', () => {
  const before = isRoot ? hostMounts() : [];
  afterAll(() => expect(hostMounts()).toEqual(before));

  it('runs a command in a ready member: pid 1, the config env, PATH search, exit status, stdin and stdout', async () => {
    const pool = await open(box(), { size: 2 });
    expect(pool.idle).toBeGreaterThanOrEqual(1);
    const r = await finish(await pool.exec({ args: ['sh', '-c', 'echo $$ "$FROM" "$HOME" $(pwd); cat; exit 7'] }).then((p) => (p.stdin!.write('from stdin\n'), p)));
    expect(r).toMatchObject({ stdout: '1 config /root /\nfrom stdin\n', exitCode: 7, signal: null });
    const e = await finish(await pool.exec({ args: ['/bin/sh', '-c', 'echo "$A" "$FROM" $(pwd) >&2'], env: ['A=1', 'A=2', 'PATH=/bin'], cwd: '/etc' }));
    expect(e).toMatchObject({ stderr: '2  /etc\n', exitCode: 0 });
  });

  it('reports a signal, and the errors exec() reports for a missing program or cwd (the member is gone)', async () => {
    const pool = await open(box(), { size: 1 });
    const p = await pool.exec({ args: ['sleep', '60'] });
    p.kill('SIGKILL');
    expect(await p.wait()).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    await expect(pool.exec({ args: ['nope'] })).rejects.toMatchObject({ code: 'ENOENT', message: 'exec "nope": executable file not found in $PATH' });
    await expect(pool.exec({ args: ['/bin/nope'] })).rejects.toMatchObject({ code: 'ENOENT', message: 'execve /bin/nope: ENOENT' });
    await expect(pool.exec({ args: ['true'], cwd: '/nope' })).rejects.toMatchObject({ code: 'ENOENT', message: 'chdir /nope: ENOENT (no such file or directory)' });
    await expect(pool.exec({ args: ['/etc/passwd'] })).rejects.toMatchObject({ code: 'EACCES' });
    expect((await finish(await pool.exec({ args: ['true'] }))).exitCode).toBe(0);
  });

  it('with ns init as pid 1, a member reports the program exactly: its exit code, or the signal it killed itself with', async () => {
    // A member detaches before the init forks: the program's status must still come from the
    // init's record, not the init's own 128 + N (a signal then read as exit code 139).
    const pool = await open(box({ init: true }), { size: 1 });
    expect(await finish(await pool.exec({ args: ['sh', '-c', 'echo $$; exit 3'] }))).toMatchObject({ stdout: '2\n', exitCode: 3, signal: null });
    expect(await finish(await pool.exec({ args: ['sh', '-c', 'kill -SEGV $$'] }))).toMatchObject({ exitCode: null, signal: 'SIGSEGV' });
  });

  it('keeps runs apart: a file in /tmp and the processes of one run are not seen by the next', async () => {
    const pool = await open(box(), { size: 2 });
    const first = await pool.exec({ args: ['sh', '-c', 'echo secret >/tmp/run1; sleep 60'], env: ['PATH=/bin'] });
    const second = await finish(await pool.exec({ args: ['sh', '-c', 'ls -A /tmp; cat /proc/[0-9]*/comm | grep -c sleep; hostname; ls /dev/mqueue /dev/shm'] }));
    // An empty /tmp, no sleep of run 1 among its processes, empty IPC mounts.
    expect(second.stdout).toBe('0\nns\n/dev/mqueue:\n\n/dev/shm:\n');
    expect(await until(() => existsSync(`/proc/${first.pid}/root/tmp/run1`))).toBe(true); // it was written
    first.kill('SIGKILL');
    await first.wait();
  });

  it('bad input: size, options, a config that cannot start (at creation), a bad run, exec on a closed pool', async () => {
    for (const size of [0, -1, 1.5, NaN, '2'] as unknown as number[]) {
      await expect(createPool(box(), { size })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'size' });
    }
    await expect(createPool(box(), { size: 1, idleTimeoutMs: -1 })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'idleTimeoutMs' });
    await expect(createPool(box(), { size: 1, idleTimeout: 5 } as unknown as Parameters<typeof createPool>[1])).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'idleTimeout', message: expect.stringMatching(/^idleTimeout: unknown pool option/) });
    await expect(createPool(box({ terminal: true }), { size: 1 })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'terminal' });
    await expect(createPool(box({ rootfs: '/nonexistent-rootfs' }), { size: 1 })).rejects.toMatchObject({ code: 'ERR_NS_NOT_FOUND' });
    // An existing directory: a mount point the rootfs lacks would be made in it.
    const badMount = { destination: '/home', type: 'nosuchfs', source: 'x', options: [] };
    await expect(createPool(box({ mounts: [...DEFAULT_MOUNTS, badMount] }), { size: 1 })).rejects.toMatchObject({ code: 'ENODEV', message: expect.stringMatching(/mount nosuchfs on .*\/home/) });
    const pool = await open(box(), { size: 1 });
    const pids = pool.pids;
    await expect(pool.exec({ args: [] })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'args' });
    await expect(pool.exec({ args: ['true'], env: ['NOEQUALS'] })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'env[0]' });
    await expect(pool.exec({ args: ['true'], cwd: 'rel' })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'cwd' });
    await expect(pool.exec({ args: ['true', 'a\0b'] })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'args[1]' });
    // pool.exec()'s options too, before a member is taken (a new-user trial found them checked
    // only by the member's cgroup update, or not at all).
    const opts = (o: unknown) => o as Parameters<typeof pool.exec>[1];
    await expect(pool.exec({ args: ['true'] }, opts({ resourcez: {} }))).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'resourcez' });
    await expect(pool.exec({ args: ['true'] }, opts('x'))).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'options' });
    await expect(pool.exec({ args: ['true'] }, { resources: { pids: { limit: 4 } } })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'resources', message: expect.stringMatching(/no cgroup of their own/) });
    await expect(createPool(box(), { size: 1, memberConfig: 'x' as unknown as () => ReturnType<typeof box> })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'memberConfig' });
    await expect(createPool(box(), { size: 1, onDiscard: 5 as unknown as () => void })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'onDiscard' });
    expect(pool.pids).toEqual(pids); // no member was spent on bad input
    await pool.close();
    await expect(pool.exec({ args: ['true'] })).rejects.toMatchObject({ code: 'ERR_NS_STATE' });
    expect(pids.every(gone)).toBe(true);
  });

  it("stdio: 'per-run': each run's own pipes, the caller's descriptors, 'ignore'; nothing of one run's stdio reaches the next", async () => {
    const pool = await open(box(), { size: 2, stdio: 'per-run' });
    const p = await pool.exec({ args: ['sh', '-c', 'cat; echo err >&2; ls /proc/self/fd | wc -l'] });
    p.stdin!.end('in\n');
    expect(await finish(p)).toMatchObject({ stdout: 'in\n4\n', stderr: 'err\n', exitCode: 0 });
    // A file descriptor of the caller's as stdout, stderr ignored.
    const dir = mkdtempSync(join(tmpdir(), 'ns-pool-'));
    try {
      const out = openSync(join(dir, 'out'), 'w');
      try {
        const q = await pool.exec({ args: ['sh', '-c', 'echo to-file; echo hidden >&2; exit 3'], stdio: ['ignore', out, 'ignore'] });
        expect(q.stdout).toBeNull();
        expect(await finish(q)).toMatchObject({ stdout: '', stderr: '', exitCode: 3 });
      } finally {
        closeSync(out);
      }
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('to-file\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Bad entries fail before a member is taken; a descriptor that is not open fails the run only.
    const idle = pool.idle;
    await expect(pool.exec({ args: ['true'], stdio: ['pipe', -1, 'pipe'] as never })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'stdio[1]' });
    expect(pool.idle).toBe(idle);
    // Named, and before a member is taken (it cost one before).
    await until(() => pool.idle === 2);
    await expect(pool.exec({ args: ['true'], stdio: ['ignore', 987, 'ignore'] })).rejects.toMatchObject({ code: 'EBADF', path: 'stdio[1]', message: 'stdio[1]: descriptor 987 is not open' });
    expect(pool.idle).toBe(2);
    await expect(createPool(box(), { size: 1, stdio: 'per-run ' as never })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'stdio', message: expect.stringMatching(/'per-run'/) });
    const r = await finish(await pool.exec({ args: ['echo', 'after'] }));
    expect(r).toMatchObject({ stdout: 'after\n', exitCode: 0 });
  });

  it("refills only after the run's wait() has resolved (a refill's planning and clone block the event loop for ~1 ms)", async () => {
    let made = 0;
    const pool = await open(box(), { size: 2, memberConfig: () => (made++, box()) });
    expect(await until(() => pool.idle === 2)).toBe(true);
    for (let k = 0; k < 3; k++) {
      const before = made;
      // Output nobody reads: wait() drains it, so the streams close a loop turn after 'exit'.
      const p = await pool.exec({ args: ['echo', 'out'] });
      expect(await p.wait()).toMatchObject({ exitCode: 0 });
      expect(made).toBe(before);
      expect(await until(() => made === before + 1 && pool.idle === 2)).toBe(true);
    }
    // A run whose output nobody reads never 'close's: its member is replaced after its 'exit'.
    const before = made;
    const p = await pool.exec({ args: ['echo', 'unread'] });
    await p.exited();
    expect(await until(() => made === before + 1 && pool.idle === 2)).toBe(true);
    p.stdout?.destroy();
    p.stderr?.destroy();
  });

  it("holds each member's mount namespace open past its run's exit, released after wait(); close() leaves none held", async () => {
    const heldMnt = () =>
      readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          const l = readlinkSync(`/proc/self/fd/${fd}`);
          return l.startsWith('mnt:[') ? [l] : [];
        } catch {
          return [];
        }
      });
    const outside = heldMnt();
    // No refill: a new member's namespace could get the number just freed (nsfs inodes are reused).
    const pool = await open(box(), { size: 1, refill: false });
    const p = await pool.exec({ args: ['sleep', '60'] });
    const mnt = readlinkSync(`/proc/${p.pid}/ns/mnt`);
    expect(heldMnt()).toContain(mnt);
    // The run's exit no longer tears its mount tree down: the pool's descriptor keeps it.
    p.kill('SIGKILL');
    await p.wait();
    expect(await until(() => !heldMnt().includes(mnt))).toBe(true);
    await pool.close();
    expect(heldMnt()).toEqual(outside);
  });

  it('refillError: a member start that fails in the background is told, not only kept (it was silent: a trial under ulimit -n)', async () => {
    let failing = true;
    const pool = await open(box(), {
      size: 2,
      memberConfig: (k) => {
        if (k > 1 && failing) throw new NsError('EMFILE', 'a refill that cannot start');
        return box();
      },
    });
    expect(await until(() => pool.refillError !== undefined)).toBe(true);
    expect(pool.refillError).toMatchObject({ code: 'EMFILE' });
    expect(pool.idle).toBe(1); // no more tries on its own
    failing = false;
    const p = await pool.exec({ args: ['true'] });
    await p.wait();
    expect(pool.refillError).toBeUndefined(); // the exec cleared it, and the refill works again
    expect(await until(() => pool.idle === 2)).toBe(true);
  });

  it('refill: false still makes the first `size` members; an exec with none ready makes one', async () => {
    const pool = await open(box(), { size: 2, refill: false });
    expect(await until(() => pool.idle === 2)).toBe(true);
    for (let k = 0; k < 3; k++) expect((await finish(await pool.exec({ args: ['echo', String(k)] }))).stdout).toBe(`${k}\n`);
  });

  it('leaves no descriptor open: the record pipe closed after each run, the reply watchers stopped, after close() none of its own', async () => {
    // Descriptors with what they are (another test's run may still be letting go of its own).
    const fds = () => new Set(readdirSync('/proc/self/fd').map((f) => {
      try {
        return `${f} ${readlinkSync(`/proc/self/fd/${f}`)}`;
      } catch {
        return f; // the directory's own descriptor
      }
    }));
    const before = fds();
    const added = () => [...fds()].filter((f) => !before.has(f));
    const pool = await createPool(box(), { size: 2 });
    for (let k = 0; k < 4; k++) expect((await finish(await pool.exec({ args: ['echo', String(k)] }))).stdout).toBe(`${k}\n`);
    // A run whose execve fails: the member is gone, its record pipe and reply watcher with it.
    await expect(pool.exec({ args: ['/nope'] })).rejects.toThrow(/nope/);
    await until(() => pool.idle === 2);
    expect(added().length).toBeGreaterThan(0); // the idle members' pipes: what is looked at is there
    await pool.close();
    await until(() => added().length === 0);
    expect(added()).toEqual([]);
  });

  it('an idle member exits by itself past idleTimeoutMs; the next exec makes a fresh one', async () => {
    const pool = await open(box(), { size: 2, idleTimeoutMs: 150 });
    await until(() => pool.idle === 2);
    const pids = pool.pids;
    expect(await until(() => pool.idle === 0 && pids.every(gone))).toBe(true);
    expect((await finish(await pool.exec({ args: ['echo', 'fresh'] }))).stdout).toBe('fresh\n');
  });

  it("members die with the process that made them (SIGKILL): none is left", async () => {
    const entry = join(__dirname, '..', 'dist', 'index.js');
    const script = `import('${entry}').then(async (ns) => {
      const c = ns.rootfsContainer(${JSON.stringify(ROOTFS)}, { args: ['/bin/sh'], readonly: true });
      const pool = await ns.createPool(c, { size: 3 });
      while (pool.idle < 3) await new Promise((r) => setTimeout(r, 20));
      process.stdout.write(JSON.stringify(pool.pids) + '\\n');
      setInterval(() => {}, 1000);
    });`;
    const child = spawnChild(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(b.toString())));
    const pids = JSON.parse(line) as number[];
    expect(pids).toHaveLength(3);
    expect(pids.some(gone)).toBe(false);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await until(() => pids.every(gone))).toBe(true);
  });

  it('idle members do not keep the event loop alive: a process that forgets close() ends, and its members with it', async () => {
    const entry = join(__dirname, '..', 'dist', 'index.js');
    const script = `import('${entry}').then(async (ns) => {
      const pool = await ns.createPool(ns.rootfsContainer(${JSON.stringify(ROOTFS)}, { args: ['/bin/sh'], readonly: true }), { size: 2 });
      while (pool.idle < 2) await new Promise((r) => setTimeout(r, 20));
      process.stdout.write(JSON.stringify(pool.pids) + '\\n');
    });`;
    const child = spawnChild(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise((r) => child.once('exit', (c, sig) => r(sig ?? c)));
    clearTimeout(killer);
    expect(code).toBe(0);
    const pids = JSON.parse(out) as number[];
    expect(pids).toHaveLength(2);
    expect(await until(() => pids.every(gone))).toBe(true);
  });
});

const layout = isRoot ? hostCgroupLayout() : undefined;
const cgReady = !!layout && ['memory', 'pids'].every((c) => layout.controllers[c]);
const parent = `/ns-pool-test-${process.pid}`;

describe.skipIf(!isRoot || !ROOTFS || !cgReady)('createPool with cgroups (as root)', () => {
  afterAll(async () => {
    await Cgroup.open(parent, { layout: layout! })
      .destroy()
      .catch(() => undefined);
  });

  it('each member has a cgroup of its own; a run may set its own limits; close() leaves no process, cgroup or mount', async () => {
    const before = hostMounts();
    let n = 0;
    const ids: string[] = [];
    const pool = await open(box(), {
      size: 2,
      memberConfig: (k) => {
        const id = `m${k}`;
        ids.push(id);
        n = k;
        return box({ id, resources: { pids: { limit: 50 } }, cgroupsPath: `${parent}/${id}` });
      },
    });
    await until(() => pool.idle === 2);
    const dirs = (id: string) => allDirs(cgroupDirs(layout!, `${parent}/${id}`));
    expect(dirs(ids[0]!).some(existsSync)).toBe(true);
    const ready = pool.pids;
    await expect(pool.exec({ args: ['true'] }, { resources: { memory: { limit: -5 } } })).rejects.toMatchObject({ code: 'ERR_NS_CONFIG', path: 'resources.memory.limit' });
    expect(pool.pids).toEqual(ready); // checked before a member is taken
    const p = await pool.exec({ args: ['sleep', '60'] }, { resources: { pids: { limit: 7 } } });
    expect(p.stats().pids?.limit).toBe(7);
    p.kill('SIGKILL');
    await p.wait();
    expect(dirs(p.id).some(existsSync)).toBe(false);
    await until(() => pool.idle === 2);
    const pids = pool.pids;
    await pool.close();
    expect(pids.every(gone)).toBe(true);
    for (let k = 1; k <= n; k++) expect(dirs(`m${k}`).some(existsSync)).toBe(false);
    expect(hostMounts()).toEqual(before);
  });
});
