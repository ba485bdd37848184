/**
 * containerd drives `ns` through its runc shim (`ctr run --runc-binary PATH`), as issue 12
 * asks: an OCI image archive made from the busybox test rootfs (`ctr images import`), `ctr run
 * --rm` with output and exit codes, `run -d` + `task exec` (output, exit code, a missing
 * command), `task ps`, `task pause` / `resume`, `task kill` (and again once it has exited:
 * the shim takes ns's "container not running" as already gone), `task delete`.
 *
 * The daemon is the test's own: started here with its root, state, sockets and opt folder in
 * a temporary folder (the CRI plugin off; ctr's FIFOs there too), its namespace `ns-ctr-<pid>`, stopped by its pid
 * afterwards; images, snapshots, mounts and the cgroup parent are removed. containerd 1.6
 * still puts the shim's socket under /run/containerd/s (removed as each shim exits; the
 * folders too when the test made them).
 * Skipped with the reason when containerd is not installed (scripts/test.sh installs it).
 *
 * Not here: `ctr run -t` (ns has no --console-socket yet: "unknown option '--console-socket'").
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NS_LAUNCHER, cgroupsNamed, imageTarballs, loggedArgv, mountsUnder, onTerminal, removeCgroupTree, runtimeWrapper, skipReason, unmountUnder, waitFor } from './clients.js';

const skip = skipReason(['containerd', 'ctr', 'containerd-shim-runc-v2']);
const IMAGE = 'localhost/nsbusybox:latest';
const NAMESPACE = `ns-ctr-${process.pid}`;

let dir: string;
let runtime: string;
let daemon: ChildProcess | undefined;
/** Whether /run/containerd was there before the test (containerd 1.6 makes /run/containerd/s for shim sockets whatever its state folder). */
const hadRunContainerd = existsSync('/run/containerd');

/** `ctr ARGS...` against the test's own daemon and namespace. */
function ctr(args: string[]): SpawnSyncReturns<string> {
  return spawnSync('ctr', ['--address', join(dir, 'containerd.sock'), '--namespace', NAMESPACE, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** The options of `ctr run` that make ns the runtime, with the test's runtime root and FIFO folder. */
function runtimeOptions(): string[] {
  return ['--runc-binary', runtime, '--runc-root', join(dir, 'runc'), '--fifo-dir', join(dir, 'fifo')];
}

function taskStatus(id: string): string | undefined {
  const line = ctr(['task', 'ls']).stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
  return line?.trim().split(/\s+/)[2];
}

describe.skipIf(skip !== undefined)(`ctr run --runc-binary ns${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ns-ctr-'));
    runtime = runtimeWrapper(join(dir, 'ns'), join(dir, 'argv.log'));
    mkdirSync(join(dir, 'fifo'));
    writeFileSync(
      join(dir, 'config.toml'),
      [
        'version = 2',
        `root = "${join(dir, 'root')}"`,
        `state = "${join(dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${join(dir, 'containerd.sock')}"`,
        '[ttrpc]',
        `  address = "${join(dir, 'containerd.sock.ttrpc')}"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(dir, 'opt')}"`,
        '',
      ].join('\n'),
    );
    const log = openSync(join(dir, 'containerd.log'), 'a');
    daemon = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
    closeSync(log);
    const up = waitFor(() => daemon!.exitCode === null && ctr(['version']).status === 0, 20_000);
    expect(up, readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-2000)).toBe(true);
    const { ociTar } = imageTarballs(process.env.NS_TEST_ROOTFS!, dir, IMAGE);
    const imported = ctr(['images', 'import', ociTar]);
    expect(imported.status, imported.stderr).toBe(0);
    expect(ctr(['images', 'ls', '-q']).stdout.split('\n')).toContain(IMAGE);
  }, 120_000);

  afterAll(async () => {
    if (!dir) return;
    try {
      for (const id of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
        ctr(['task', 'kill', '-s', 'KILL', id]);
        waitFor(() => taskStatus(id) === 'STOPPED', 5_000);
        ctr(['task', 'delete', id]);
      }
      for (const id of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['containers', 'delete', id]);
      ctr(['images', 'rm', IMAGE]);
      ctr(['namespaces', 'rm', NAMESPACE]);
      // Every container the shim made through ns was deleted again.
      const runcRoot = join(dir, 'runc', NAMESPACE);
      expect(existsSync(runcRoot) ? readdirSync(runcRoot).filter((e) => !e.startsWith('.')) : []).toEqual([]);
    } finally {
      if (daemon && daemon.exitCode === null && daemon.pid !== undefined) {
        const exited = new Promise((resolve) => daemon!.once('exit', resolve));
        process.kill(daemon.pid, 'SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (daemon.exitCode === null && daemon.signalCode === null) process.kill(daemon.pid, 'SIGKILL');
      }
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
      removeCgroupTree(NAMESPACE);
      if (!hadRunContainerd) {
        for (const d of ['/run/containerd/s', '/run/containerd']) {
          try {
            rmdirSync(d); // only when empty: nothing of another daemon's is touched
          } catch {
            // not empty, or gone
          }
        }
      }
    }
    expect(mountsUnder(dir)).toEqual([]);
    expect(cgroupsNamed(NAMESPACE)).toEqual([]);
  }, 120_000);

  it('ctr run --rm: output and exit status; the shim calls ns with runc\'s global flags (--root, --log, --log-format json)', () => {
    expect(ctr(['run', ...runtimeOptions(), '--rm', IMAGE, 'r1', 'echo', 'hi'])).toMatchObject({ status: 0, stdout: 'hi\n' });
    expect(ctr(['run', ...runtimeOptions(), '--rm', IMAGE, 'r2', 'sh', '-c', 'exit 3']).status).toBe(3);
    const create = loggedArgv(join(dir, 'argv.log')).find((a) => a.includes('create'));
    expect(create).toEqual([
      '--root', join(dir, 'runc', NAMESPACE),
      '--log', expect.stringMatching(/\/r1\/log\.json$/),
      '--log-format', 'json',
      'create', '--bundle', expect.stringMatching(/\/r1$/), '--pid-file', expect.stringMatching(/\/r1\/init\.pid$/), 'r1',
    ]);
    expect(ctr(['containers', 'ls', '-q']).stdout).toBe('');
  });

  it("--null-io (the shim gives ns a read-only /dev/null as stdio, as for a pod's sandbox): the exit status; a bad config's error, naming the field, in containerd's error", () => {
    expect(ctr(['run', ...runtimeOptions(), '--null-io', '--rm', IMAGE, 'n1', 'sh', '-c', 'exit 4']).status).toBe(4);
    // The ipc namespace joined by path, but the file is a uts namespace (pods join their sandbox's by path).
    const bad = ctr(['run', ...runtimeOptions(), '--null-io', '--rm', '--with-ns', `ipc:/proc/${process.pid}/ns/uts`, IMAGE, 'n2', 'true']);
    try {
      expect(bad.status).not.toBe(0);
      // Read by the shim from ns's --log file (getLastRuntimeError); was "unable to retrieve OCI runtime error".
      expect(bad.stderr).toMatch(new RegExp(`OCI runtime create failed: \\S+/config\\.json: linux\\.namespaces\\[\\d+\\]\\.path: /proc/${process.pid}/ns/uts is a uts namespace, not ipc`));
      const root = join(dir, 'runc', NAMESPACE);
      expect(existsSync(root) ? readdirSync(root) : []).not.toContain('n2');
    } finally {
      ctr(['task', 'delete', '--force', 'n2']);
      ctr(['containers', 'delete', 'n2']);
    }
  });

  it('ctr run -t: the shim gets the console over --console-socket (a terminal from script(1))', () => {
    const r = onTerminal(['ctr', '--address', join(dir, 'containerd.sock'), '--namespace', NAMESPACE, 'run', ...runtimeOptions(), '-t', '--rm', IMAGE, 't1', 'sh', '-c', 'test -t 0 && echo on-a-tty; exit 6']);
    expect(r.stdout).toContain('on-a-tty');
    expect(r.status).toBe(6);
    expect(loggedArgv(join(dir, 'argv.log')).some((a) => a.includes('create') && a.includes('t1') && a.includes('--console-socket'))).toBe(true);
  });

  it('with `ns serve` on the shim\'s root, every call the shim makes is served without a Node of its own (run --rm, run -d, task exec, ps, pause/resume, kill, delete)', async () => {
    const nsRoot = join(dir, 'runc', NAMESPACE);
    mkdirSync(nsRoot, { recursive: true });
    const server = spawn(process.execPath, [join(dirname(NS_LAUNCHER), 'ns.cjs'), '--root', nsRoot, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    server.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      let out = '';
      server.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      for (let i = 0; i < 500 && !out.includes('listening on') && server.exitCode === null; i++) await new Promise((res) => setTimeout(res, 20));
      expect(out, err).toContain('listening on');
      // A runtime that cannot start Node (no node on its PATH): a call the front hands to Node fails.
      const served = join(dir, 'ns-served');
      writeFileSync(served, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${join(dir, 'served.log')}'\nPATH=/nonexistent exec '${NS_LAUNCHER}' "$@"\n`);
      chmodSync(served, 0o755);
      const opts = ['--runc-binary', served, '--runc-root', join(dir, 'runc'), '--fifo-dir', join(dir, 'fifo')];
      expect(ctr(['run', ...opts, '--rm', IMAGE, 's1', 'sh', '-c', 'echo served; exit 4'])).toMatchObject({ status: 4, stdout: 'served\n' });
      const d = ctr(['run', ...opts, '-d', IMAGE, 's2', 'sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']);
      expect(d.status, d.stderr).toBe(0);
      try {
        expect(ctr(['task', 'exec', '--fifo-dir', join(dir, 'fifo'), '--exec-id', 'se', 's2', 'sh', '-c', 'echo in-exec; exit 5'])).toMatchObject({ status: 5, stdout: 'in-exec\n' });
        expect(ctr(['task', 'ps', 's2']).status).toBe(0);
        expect(ctr(['task', 'pause', 's2']).status).toBe(0);
        expect(taskStatus('s2')).toBe('PAUSED');
        expect(ctr(['task', 'resume', 's2']).status).toBe(0);
        expect(ctr(['task', 'kill', 's2']).status).toBe(0);
        expect(waitFor(() => taskStatus('s2') === 'STOPPED')).toBe(true);
        expect(ctr(['task', 'delete', 's2']).status).toBe(0);
      } finally {
        ctr(['task', 'delete', '--force', 's2']);
        ctr(['containers', 'delete', 's2']);
      }
      const calls = loggedArgv(join(dir, 'served.log'));
      for (const verb of ['create', 'start', 'exec', 'ps', 'pause', 'resume', 'kill', 'delete']) expect(calls.some((a) => a.includes(verb)), verb).toBe(true);
      expect(readFileSync(join(dir, 'containerd.log'), 'utf8')).not.toMatch(/node: not found|exec: node/);
      expect(err).toBe('');
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => (server.exitCode !== null ? resolve(null) : server.once('exit', resolve)));
    }
  });

  it('run -d, task exec (output, exit code, a missing command), ps, pause/resume, kill (twice), delete', () => {
    const d = ctr(['run', ...runtimeOptions(), '-d', IMAGE, 'd1', 'sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']);
    expect(d.status, d.stderr).toBe(0);
    try {
      expect(taskStatus('d1')).toBe('RUNNING');
      // ns exec --detach leaves the process to the shim, which reaps it (ctr hung before).
      for (let i = 0; i < 3; i++) {
        expect(ctr(['task', 'exec', '--fifo-dir', join(dir, 'fifo'), '--exec-id', `e${i}`, 'd1', 'sh', '-c', 'echo in-exec; exit 5'])).toMatchObject({ status: 5, stdout: 'in-exec\n' });
      }
      const missing = ctr(['task', 'exec', '--fifo-dir', join(dir, 'fifo'), '--exec-id', 'm1', 'd1', 'nonexistent']);
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toMatch(/OCI runtime exec failed: .*executable file not found in \$PATH/);
      const ps = ctr(['task', 'ps', 'd1']);
      expect(ps.status, ps.stderr).toBe(0);
      expect(ps.stdout.split('\n').filter((l) => /^\d+/.test(l)).length).toBeGreaterThanOrEqual(1);
      expect(ctr(['task', 'pause', 'd1']).status).toBe(0);
      expect(taskStatus('d1')).toBe('PAUSED');
      expect(ctr(['task', 'resume', 'd1']).status).toBe(0);
      expect(taskStatus('d1')).toBe('RUNNING');
      expect(ctr(['task', 'kill', 'd1']).status).toBe(0);
      expect(waitFor(() => taskStatus('d1') === 'STOPPED')).toBe(true);
      // Exited: the shim maps ns's "container not running" to "process already finished" (runc's path).
      const again = ctr(['task', 'kill', 'd1']);
      expect(again.stderr).toMatch(/process already finished: not found/);
      // --all of an exited container: nothing left to signal is no error, as runc.
      expect(ctr(['task', 'kill', '--all', '--signal', 'KILL', 'd1']).status).toBe(0);
      const deleted = ctr(['task', 'delete', 'd1']);
      expect(deleted.status, deleted.stderr).toBe(0);
    } finally {
      ctr(['task', 'delete', '--force', 'd1']);
      expect(ctr(['containers', 'delete', 'd1']).status).toBe(0);
    }
    // Every flag the shim passed ns is one ns takes: no call failed as a usage error.
    const argv = loggedArgv(join(dir, 'argv.log'));
    expect(argv.some((a) => a.includes('exec') && a.includes('--process') && a.includes('--detach') && a.includes('--pid-file'))).toBe(true);
    const log = readFileSync(join(dir, 'containerd.log'), 'utf8');
    expect(log).not.toMatch(/unknown option|unknown command/);
  });
});
