// SCMP_ACT_NOTIFY on the real kernel: the runtime hands the listener and the container process
// state to a seccomp agent at linux.seccomp.listenerPath (as runc does); the agent here is
// this test, with the addon's raw calls (accept, recvmsg with SCM_RIGHTS, the NOTIF ioctls).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recvFd, seccompNotifRecv, seccompNotifSend, unixAccept, unixListen, SECCOMP_USER_NOTIF_FLAG_CONTINUE } from '@ns/syscalls';
import { DEFAULT_MOUNTS, StateStore, createContainer, deleteContainer, exec, execIn, rootfsContainer, runContainer, startCreatedContainer, type Container, type LinuxSeccomp } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot } from './helpers.js';

const haveGcc = spawnSync('gcc', ['--version']).status === 0;
const x64 = process.arch === 'x64';
const NR_KEYCTL = 250;
const EACCES = 13;

async function collect(stream: Readable | null): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe.skipIf(!isRoot || !ROOTFS || !haveGcc || !x64)('SCMP_ACT_NOTIFY with a seccomp agent (as root)', () => {
  let dir: string;
  let mounts: Container['mounts'];
  const before = hostMounts();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-notify-'));
    execFileSync('gcc', ['-static', '-O1', '-o', join(dir, 'sc'), join(import.meta.dirname, 'fixtures', 'syscall.c')]);
    // A /tmp of the container's own: the test rootfs is shared and must stay as it is.
    mounts = [
      ...DEFAULT_MOUNTS,
      { destination: '/sc', type: 'bind', source: join(dir, 'sc'), options: ['bind', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] },
    ];
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    expect(hostMounts()).toEqual(before);
  });

  const profile = (listenerPath: string): LinuxSeccomp => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath,
    listenerMetadata: 'test-agent',
    syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['keyctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 },
    ],
  });

  for (const noNewPrivileges of [true, false]) {
    it(`the agent gets the listener and the state, and answers mkdir (noNewPrivileges ${noNewPrivileges})`, async () => {
      const sock = join(dir, `agent-${noNewPrivileges}.sock`);
      const listening = unixListen(sock);
      const script = 'mkdir /tmp/refused; echo refused=$?; mkdir /tmp/allowed && test -d /tmp/allowed && echo allowed; /sc ' + NR_KEYCTL;
      const c = rootfsContainer(ROOTFS, { id: `notify-${noNewPrivileges}`, args: ['sh', '-c', script], mounts, noNewPrivileges, seccomp: profile(sock) });
      const p = exec(c, { stdio: ['ignore', 'pipe', 'pipe'] });
      const output = Promise.all([collect(p.stdout), collect(p.stderr)]);
      let conn = -1;
      let fd = -1;
      try {
        conn = unixAccept(listening, 10_000)!;
        expect(conn).not.toBeNull();
        const msg = recvFd(conn, 65536)!;
        fd = msg.fd;
        expect(fd).toBeGreaterThan(2);
        const state = JSON.parse(msg.data.toString());
        expect(state).toMatchObject({ ociVersion: expect.any(String), fds: ['seccompFd'], pid: p.pid, metadata: 'test-agent' });
        expect(state.state).toMatchObject({ id: `notify-${noNewPrivileges}`, status: 'creating', pid: p.pid });
        // First mkdir: refused with EACCES; the second one: let the kernel run it.
        const first = seccompNotifRecv(fd, 10_000)!;
        expect(first).not.toBeNull();
        expect(first.pid).toBeGreaterThan(p.pid); // sh's child running mkdir
        seccompNotifSend(fd, first.id, { error: EACCES });
        const second = seccompNotifRecv(fd, 10_000)!;
        expect(second).not.toBeNull();
        seccompNotifSend(fd, second.id, { flags: SECCOMP_USER_NOTIF_FLAG_CONTINUE });
        const exit = await p.wait();
        const [stdout, stderr] = await output;
        expect(stderr).toMatch(/^mkdir: .*refused.*: Permission denied\n$/);
        // The profile's other rule still applies.
        expect(stdout).toBe(`refused=1\nallowed\nerrno 42\n`);
        expect(exit.exitCode).toBe(0);
      } finally {
        for (const f of [fd, conn, listening]) if (f >= 0) closeSync(f);
        p.kill('SIGKILL');
        await p.wait();
      }
    });
  }

  /** Accept the runtime's connection on `listening` and take the listener and the state it sends. */
  const handOff = (listening: number, keep: number[]) => {
    const conn = unixAccept(listening, 10_000);
    expect(conn).not.toBeNull();
    keep.push(conn!);
    const msg = recvFd(conn!, 65536)!;
    expect(msg.fd).toBeGreaterThan(2);
    keep.push(msg.fd);
    return { fd: msg.fd, state: JSON.parse(msg.data.toString()) };
  };
  /** Answer the next notification on `fd` with `error` (0: let it run). */
  const answer = (fd: number, error: number) => {
    const n = seccompNotifRecv(fd, 10_000);
    expect(n).not.toBeNull();
    seccompNotifSend(fd, n!.id, error ? { error } : { flags: SECCOMP_USER_NOTIF_FLAG_CONTINUE });
  };

  it('create: the filter goes in before the process detaches, the agent gets it at create, the calls come after start', async () => {
    const store = new StateStore(join(dir, 'state-create'));
    const sock = join(dir, 'agent-create.sock');
    const listening = unixListen(sock);
    const keep = [listening];
    const out = join(dir, 'create.out');
    const outFd = openSync(out, 'w');
    keep.push(outFd);
    try {
      const c = rootfsContainer(ROOTFS, { id: 'notify-create', args: ['sh', '-c', 'mkdir /tmp/d; echo rc=$?'], mounts, noNewPrivileges: true, seccomp: profile(sock) });
      const { state } = createContainer(c, { store, stdio: ['ignore', outFd, outFd] });
      const got = handOff(listening, keep);
      expect(got.state).toMatchObject({ pid: state.pid, state: { id: 'notify-create', status: 'creating', pid: state.pid } });
      await startCreatedContainer(store, 'notify-create');
      answer(got.fd, EACCES);
      for (let i = 0; i < 250 && !readFileSync(out, 'utf8').includes('rc='); i++) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(out, 'utf8')).toMatch(/Permission denied\nrc=1\n$/);
    } finally {
      for (const f of keep) closeSync(f);
      await deleteContainer(store, 'notify-create', { force: true }).catch(() => undefined);
    }
  });

  it("exec into a container with a NOTIFY profile: the agent gets a new listener with the running container's state", async () => {
    const store = new StateStore(join(dir, 'state-exec'));
    const sock = join(dir, 'agent-exec.sock');
    const listening = unixListen(sock);
    const keep = [listening];
    try {
      const c = rootfsContainer(ROOTFS, { id: 'notify-exec', args: ['sleep', '60'], mounts, noNewPrivileges: true, seccomp: profile(sock) });
      const { state } = runContainer(c, { store, detached: true, stdio: 'ignore' });
      const init = handOff(listening, keep);
      expect(init.state.state).toMatchObject({ status: 'creating', pid: state.pid });
      const p = execIn(store.read('notify-exec'), { args: ['sh', '-c', 'mkdir /tmp/e && echo made'] }, { stdio: ['ignore', 'pipe', 'pipe'] });
      const output = Promise.all([collect(p.stdout), collect(p.stderr)]);
      const joined = handOff(listening, keep);
      expect(joined.state).toMatchObject({ pid: p.pid, metadata: 'test-agent', state: { id: 'notify-exec', status: 'running', pid: state.pid } });
      answer(joined.fd, 0);
      expect((await p.wait()).exitCode).toBe(0);
      expect((await output)[0]).toBe('made\n');
    } finally {
      for (const f of keep) closeSync(f);
      await deleteContainer(store, 'notify-exec', { force: true }).catch(() => undefined);
    }
  });

  it('a listener path that is missing, not a socket, or that nobody listens on starts nothing', async () => {
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const missing = join(dir, 'none.sock');
    const start = (path: string) => exec(rootfsContainer(ROOTFS, { args: ['true'], mounts, noNewPrivileges: true, seccomp: profile(path) }), { stdio: 'ignore' });
    expect(() => start(missing)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/^linux\.seccomp\.listenerPath: .*none\.sock does not exist/) }));
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    expect(() => start(file)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/is not a unix socket/) }));
    // A socket whose agent is gone: known only at the hand-off; the process is killed then.
    const stale = join(dir, 'stale.sock');
    closeSync(unixListen(stale));
    expect(existsSync(stale)).toBe(true);
    let err: unknown;
    try {
      start(stale);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ECONNREFUSED', message: expect.stringMatching(/^linux\.seccomp\.listenerPath: cannot connect to the seccomp agent at .*stale\.sock: nobody listens there/) });
    expect(readdirSync('/proc/self/fd').length).toBe(fdsBefore);
    expect(hostMounts()).toEqual(before);
  });
});
