/**
 * Issue 15, signals and exit codes as runc: 128+N for a container killed by signal N, every
 * catchable signal sent to `ns run` forwarded to the container, stdin's end passed through,
 * and SIGPIPE not inherited from Node (a process writing to a closed pipe dies of it, as
 * under a shell). run.int.test.ts already covers: exit codes 0/7/125/126/127, 137 (SIGKILL
 * from the host, and from the container without a pid namespace), SIGTERM forwarding, piped
 * stdin without -t, EOF through a pty, and 141 for -t.
 *
 * What the kernel does to a pid namespace's init, runc's containers get too: signals it has
 * no handler for are not delivered to it (SIGKILL and SIGSTOP from the host excepted),
 * SIGPIPE included, so `yes` as pid 1 sees EPIPE, not SIGPIPE. The tests that need a
 * process to die of a signal run it without a pid namespace, or below pid 1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateEntries } from './leftovers.js';
import { start, type Result, type StartOptions } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

describe.skipIf(!isRoot || !ROOTFS)('signals and exit codes (as root)', () => {
  let tmp: string;
  let state: string;
  /** A bundle without a pid namespace: its process is no init, signals kill it as on the host. */
  let nopid: string;
  const args = (rest: string[]) => [BIN, '--root', state, ...rest];
  const ns = (rest: string[], options: StartOptions = {}): Promise<Result> => start(process.execPath, args(rest), options).done;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'ns-signals-'));
    state = join(tmp, 'state');
    nopid = join(tmp, 'nopid');
    mkdirSync(nopid);
    expect((await ns(['spec', '--bundle', nopid, '--rootfs', ROOTFS!, '--no-terminal'])).code).toBe(0);
    const config = JSON.parse(readFileSync(join(nopid, 'config.json'), 'utf8')) as { linux: { namespaces: { type: string }[] } };
    config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'pid');
    writeFileSync(join(nopid, 'config.json'), JSON.stringify(config));
  });
  afterAll(async () => {
    const left = stateEntries(state);
    try {
      // A run that ns did not survive leaves its state: removed here, and reported below.
      for (const id of left) await ns(['delete', '-f', id]);
      expect(left).toEqual([]); // every foreground run removed its state
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  const SIGNALS: [string, number][] = [['HUP', 1], ['INT', 2], ['USR1', 10], ['USR2', 12], ['PIPE', 13], ['ALRM', 14], ['TERM', 15]];
  it.each(SIGNALS)('a container killed by SIG%s exits 128+%d', async (name, n) => {
    const r = await ns(['run', '--bundle', nopid, '--', '/bin/sh', '-c', `kill -${name} $$`]);
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 128 + n, signal: null, stderr: '' });
  });

  // runc forwards every signal but SIGCHLD, SIGURG and SIGWINCH (which resizes its console),
  // so SIGWINCH is not in this list. Node's own defaults must not get in the way: SIGQUIT and
  // SIGUSR2 kill Node, SIGUSR1 starts its inspector (a debugger on 127.0.0.1:9229, as root).
  it.each(['HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'TERM'])('forwards SIG%s sent to ns to the container', async (name) => {
    const root = join(tmp, `forward-${name}`); // its own: ns killed below leaves its state
    const script = `trap 'echo got-${name}; exit 4' ${name}; echo ready; while :; do sleep 0.05; done`;
    const run = start(process.execPath, [BIN, '--root', root, 'run', '--rootfs', ROOTFS!, '--', '/bin/sh', '-c', script]);
    try {
      await run.waitFor('ready');
      process.kill(run.pid, `SIG${name}` as NodeJS.Signals); // the ns process this test started
      const r = await Promise.race([run.done, new Promise<null>((resolve) => setTimeout(() => resolve(null), 3000))]);
      expect(r, `ns still runs 3 s after SIG${name}`).not.toBeNull();
      expect({ code: r!.code, signal: r!.signal, stdout: r!.stdout, stderr: r!.stderr }).toEqual({ code: 4, signal: null, stdout: `ready\ngot-${name}\n`, stderr: '' });
      expect(stateEntries(root)).toEqual([]);
    } finally {
      try {
        process.kill(run.pid, 'SIGKILL'); // still running after a failure: ours
      } catch {
        // already gone
      }
      await run.done;
      for (const id of stateEntries(root)) await start(process.execPath, [BIN, '--root', root, 'delete', '-f', id]).done;
    }
  });

  it('SIGINT to ns kills a container with no handler (no pid namespace): ns exits 130, not by the signal itself', async () => {
    const run = start(process.execPath, args(['run', '--bundle', nopid, '--', '/bin/sh', '-c', 'echo ready; exec sleep 30']));
    await run.waitFor('ready');
    await new Promise((r) => setTimeout(r, 100)); // let sh exec sleep
    process.kill(run.pid, 'SIGINT');
    const r = await run.done;
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 130, signal: null, stderr: '' });
  });

  it('SIGINT to ns when pid 1 has no handler: ignored by the init, as with runc; ns keeps waiting', async () => {
    // (busybox sh catches SIGINT itself: pid 1 is sleep, after the exec.)
    const run = start(process.execPath, args(['run', '--rootfs', ROOTFS!, '--', '/bin/sh', '-c', 'echo ready; exec sleep 1']));
    await run.waitFor('ready');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(run.pid, 'SIGINT');
    const r = await run.done;
    expect({ code: r.code, signal: r.signal, stdout: r.stdout }).toEqual({ code: 0, signal: null, stdout: 'ready\n' });
  });

  it('passes stdin through to its end (EOF), with and without input', async () => {
    const loop = ['run', '--rootfs', ROOTFS!, '--', '/bin/sh', '-c', 'while read l; do echo "got $l"; done; echo eof'];
    expect((await ns(loop, { input: 'a\nb\n' })).stdout).toBe('got a\ngot b\neof\n');
    expect((await ns(loop, { input: '' })).stdout).toBe('eof\n');
    // 1 MiB through, counted at the far end.
    const big = await ns(['run', '--rootfs', ROOTFS!, '--', 'wc', '-c'], { input: 'x'.repeat(2 ** 20) });
    expect(big.stdout.trim()).toBe(String(2 ** 20));
    // stdin's end does not end a container that does not read it.
    const idle = await ns(['run', '--rootfs', ROOTFS!, '--', '/bin/sh', '-c', 'sleep 0.3; echo alive'], { input: '' });
    expect({ code: idle.code, stdout: idle.stdout }).toEqual({ code: 0, stdout: 'alive\n' });
  });

  it('the container does not inherit Node\'s ignored SIGPIPE (run and exec)', async () => {
    const r = await ns(['run', '--rootfs', ROOTFS!, '--', 'grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status']);
    expect(r.stdout).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    expect((await ns(['run', '-d', '--stdout', '/dev/null', '--stderr', '/dev/null', '--rootfs', ROOTFS!, 'sigpipe1', '--', 'sleep', '30'])).code).toBe(0);
    try {
      const e = await ns(['exec', 'sigpipe1', '--', 'grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status']);
      expect(e.stdout).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    } finally {
      await ns(['delete', '-f', 'sigpipe1']);
    }
  });

  it('a process writing to a closed pipe dies of SIGPIPE, as under a shell (141)', async () => {
    // Below pid 1: yes in the container writes into the pipe to head, which is gone.
    const inside = await ns(['run', '--rootfs', ROOTFS!, '--', '/bin/sh', '-c', '(yes; echo "yes-status=$?" >&2) | head -1']);
    expect({ stdout: inside.stdout, stderr: inside.stderr }).toEqual({ stdout: 'y\n', stderr: 'yes-status=141\n' });
    // The container's stdout is ns's own: a reader on the host that goes away.
    const host = await start('bash', ['-c', `"${process.execPath}" "${BIN}" --root "${state}" run --rootfs "${ROOTFS}" -- /bin/sh -c 'yes; echo "yes-status=$?" >&2' | head -1`], { timeoutMs: 20_000 }).done;
    expect({ stdout: host.stdout, stderr: host.stderr }).toEqual({ stdout: 'y\n', stderr: 'yes-status=141\n' });
    // With no pid namespace, the container's own process dies of it and ns exits 141.
    const nopidRun = await start('bash', ['-c', `"${process.execPath}" "${BIN}" --root "${state}" run --bundle "${nopid}" -- yes | head -1; echo "status=\${PIPESTATUS[0]}"`], { timeoutMs: 20_000 }).done;
    expect({ stdout: nopidRun.stdout, stderr: nopidRun.stderr }).toEqual({ stdout: 'y\nstatus=141\n', stderr: '' });
  });
});
