/**
 * podman drives `ns` as its OCI runtime (`podman --runtime PATH`), as issue 12 asks: an image
 * imported from the busybox test rootfs, `run --rm` with output and exit codes, `--network
 * none`, `--memory`, `--pids-limit`, `--cap-drop`, `--user`, `run -d` + `logs` + `exec` +
 * `stop` + `rm`, the states `podman ps` shows. podman's storage, state, temporary files,
 * network config and cgroup parent are the test's own (under a temporary folder and
 * `/ns-podman-<random>`), and all of it is removed afterwards. Skipped with the reason when
 * podman is not installed (scripts/test.sh installs it). See docs/clients.md.
 *
 * Not here: `-t` / `-it` (ns has no --console-socket yet, podman says so: "unknown option
 * '--console-socket'").
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupLimit, cgroupsNamed, imageTarballs, loggedArgv, mountsUnder, onTerminal, removeCgroupTree, runtimeWrapper, skipReason, unmountUnder, waitFor } from './clients.js';

const skip = skipReason(['podman', 'conmon']);
const IMAGE = 'localhost/nsbusybox:latest';
const PARENT = `ns-podman-${process.pid}`;

let dir: string;
/** podman (containers/image) keeps its blob info cache in /var/lib/containers/cache whatever --root says: removed when the test made it. */
const hadVarLibContainers = existsSync('/var/lib/containers');
let runtime: string;
let env: NodeJS.ProcessEnv;

/** podman's global options for this test's storage, state and runtime. */
const globalArgs = () => ['--runtime', runtime, '--root', join(dir, 'graph'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--network-config-dir', join(dir, 'net')];

/** `podman ARGS...` with this test's storage, state and runtime. */
function podman(args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync('podman', [...globalArgs(), ...args], { encoding: 'utf8', env, timeout: 60_000, ...(input === undefined ? {} : { input }) });
}

/** The options every container gets: no network (nothing on the host's), the test's cgroup parent. */
const RUN = ['--network', 'none', '--cgroup-parent', `/${PARENT}`];

function status(name: string): string {
  return podman(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}']).stdout.trim();
}

describe.skipIf(skip !== undefined)(`podman --runtime ns${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-podman-'));
    // podman passes its runtime no --root: the wrapper gives ns the test's own state root.
    runtime = runtimeWrapper(join(dir, 'ns'), join(dir, 'argv.log'), ['--root', join(dir, 'ns-state')]);
    // This machine's hard RLIMIT_NOFILE is below podman's default ulimits (TOOLCHAIN.md).
    writeFileSync(join(dir, 'containers.conf'), '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n');
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${join(dir, 'graph')}"\nrunroot = "${join(dir, 'run')}"\n`);
    env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
    const { rootfsTar } = imageTarballs(process.env.NS_TEST_ROOTFS!, dir, IMAGE);
    const imported = podman(['import', rootfsTar, IMAGE]);
    expect(imported.status, imported.stderr).toBe(0);
  }, 120_000);

  afterAll(() => {
    if (!dir) return;
    try {
      podman(['rm', '--all', '--force', '--time', '0']);
      podman(['rmi', '--all', '--force']);
      const left = loggedArgv(join(dir, 'argv.log'));
      // Every container podman made through ns was deleted again (ns's state root is empty).
      expect(existsSync(join(dir, 'ns-state')) ? readdirSync(join(dir, 'ns-state')).filter((e) => !e.startsWith('.')) : []).toEqual([]);
      expect(left.length).toBeGreaterThan(0);
    } finally {
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
      removeCgroupTree(PARENT);
      if (!hadVarLibContainers) rmSync('/var/lib/containers', { recursive: true, force: true });
    }
    expect(mountsUnder(dir)).toEqual([]);
    expect(cgroupsNamed(PARENT)).toEqual([]);
  }, 120_000);

  it('run --rm: output, exit status, a missing command (127, podman matches "executable file not found"); create, start and delete --force are what podman calls', () => {
    const hi = podman(['run', '--rm', ...RUN, IMAGE, 'echo', 'hi']);
    expect(hi).toMatchObject({ status: 0, stdout: 'hi\n' });
    expect(podman(['run', '--rm', ...RUN, IMAGE, 'sh', '-c', 'exit 3']).status).toBe(3);
    const missing = podman(['run', '--rm', ...RUN, IMAGE, 'nonexistent']);
    expect(missing.status).toBe(127);
    expect(missing.stderr).toMatch(/executable file not found in \$PATH/);
    // What podman 4.3 passes (docs/clients.md): create --bundle B --pid-file P ID, start ID, delete --force ID.
    const argv = loggedArgv(join(dir, 'argv.log'));
    expect(argv.map((a) => a[0])).toEqual(expect.arrayContaining(['create', 'start', 'delete']));
    expect(argv.find((a) => a[0] === 'create')).toEqual(['create', '--bundle', expect.any(String), '--pid-file', expect.any(String), expect.stringMatching(/^[0-9a-f]{64}$/)]);
  });

  it('--network none leaves only lo; --cap-drop ALL and NET_RAW; --user 1000:1000', () => {
    const net = podman(['run', '--rm', ...RUN, IMAGE, 'cat', '/proc/net/dev']);
    expect(net.status, net.stderr).toBe(0);
    expect(net.stdout.split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0])).toEqual(['lo']);
    const none = podman(['run', '--rm', ...RUN, '--cap-drop', 'ALL', IMAGE, 'grep', '^CapEff', '/proc/self/status']);
    expect(none).toMatchObject({ status: 0, stdout: 'CapEff:\t0000000000000000\n' });
    const raw = podman(['run', '--rm', ...RUN, '--cap-drop', 'NET_RAW', IMAGE, 'grep', '^CapEff', '/proc/self/status']);
    expect(raw.status).toBe(0);
    const eff = BigInt(`0x${raw.stdout.split('\t')[1]!.trim()}`);
    expect(eff & (1n << 13n)).toBe(0n); // CAP_NET_RAW
    expect(eff & (1n << 0n)).toBe(1n); // CAP_CHOWN stays
    const user = podman(['run', '--rm', ...RUN, '--user', '1000:1000', IMAGE, 'id', '-u']);
    expect(user).toMatchObject({ status: 0, stdout: '1000\n' });
  });

  it('--read-only (podman adds tmpfs with tmpcopyup on /run, /tmp, /var/tmp) and --device (a fileMode with S_IFCHR), as runc takes them', () => {
    const ro = podman(['run', '--rm', ...RUN, '--read-only', IMAGE, 'sh', '-c', 'touch /x 2>/dev/null && echo rw; touch /tmp/y /run/z /var/tmp/w && echo ok']);
    expect(ro).toMatchObject({ status: 0, stdout: 'ok\n' });
    const dev = podman(['run', '--rm', ...RUN, '--device', '/dev/zero:/dev/myzero', IMAGE, 'sh', '-c', 'stat -c "%F %t,%T %a" /dev/myzero; head -c 3 /dev/myzero | od -An -tx1']);
    expect(dev).toMatchObject({ status: 0, stdout: 'character special file 1,5 666\n 00 00 00\n' });
  });

  it('--memory and --pids-limit reach the container\'s cgroup', () => {
    const id = podman(['run', '-d', ...RUN, '--memory', '64m', '--pids-limit', '50', IMAGE, 'sleep', '600']).stdout.trim();
    try {
      const pid = Number(podman(['inspect', '-f', '{{.State.Pid}}', id]).stdout.trim());
      expect(pid).toBeGreaterThan(0);
      expect(cgroupLimit(pid, 'memory')).toBe(String(64 * 1024 * 1024));
      expect(cgroupLimit(pid, 'pids')).toBe('50');
    } finally {
      expect(podman(['rm', '--force', '--time', '0', id]).status).toBe(0);
    }
  });

  it('create, start, ps states, pause/unpause, logs, exec with its exit status, stop, rm', () => {
    const name = 'nsweb';
    // The init traps TERM (a pid 1 without a handler ignores it, and podman stop would wait 10 s).
    const created = podman(['create', ...RUN, '--name', name, IMAGE, 'sh', '-c', 'trap "echo bye; exit 0" TERM; echo started; while :; do sleep 0.1; done']);
    expect(created.status, created.stderr).toBe(0);
    try {
      expect(status(name)).toBe('Created');
      expect(podman(['start', name]).status).toBe(0);
      expect(status(name)).toMatch(/^Up /);
      expect(waitFor(() => podman(['logs', name]).stdout === 'started\n')).toBe(true);
      expect(podman(['pause', name]).status).toBe(0);
      expect(status(name)).toBe('Paused');
      expect(podman(['unpause', name]).status).toBe(0);
      expect(status(name)).toMatch(/^Up /);
      // exec: output and the command's own exit status (ns exec --detach leaves the process to
      // conmon, which reaps it: 255 before).
      for (let i = 0; i < 3; i++) {
        const e = podman(['exec', name, 'sh', '-c', 'echo in-exec; exit 4']);
        expect(e).toMatchObject({ status: 4, stdout: 'in-exec\n' });
      }
      expect(podman(['exec', '--user', 'nobody', '--workdir', '/tmp', '--env', 'FOO=bar', name, 'sh', '-c', 'echo "$(id -un) $PWD $FOO"'])).toMatchObject({
        status: 0,
        stdout: 'nobody /tmp bar\n',
      });
      const missing = podman(['exec', name, 'nonexistent']);
      expect(missing.status).toBe(127);
      const top = podman(['top', name, 'pid', 'args']);
      expect(top.stdout).toMatch(/while :; do sleep 0\.1; done/);
      expect(podman(['stop', '--time', '10', name]).status).toBe(0);
      expect(status(name)).toMatch(/^Exited \(0\)/);
      expect(podman(['logs', name]).stdout).toBe('started\nbye\n');
      // exec and kill of a stopped container: podman refuses them itself (its state says so).
      expect(podman(['exec', name, 'true']).status).not.toBe(0);
    } finally {
      expect(podman(['rm', '--force', '--time', '0', name]).status).toBe(0);
    }
    expect(podman(['ps', '-a', '--format', '{{.Names}}']).stdout).toBe('');
  });

  it('run -it and exec -it: conmon gets the console over --console-socket (a terminal from script(1))', () => {
    // podman -t needs a terminal of its own: script(1) gives it one and passes the exit status on (-e).
    const run = onTerminal(['podman', ...globalArgs(), 'run', '-it', '--rm', ...RUN, IMAGE, 'sh', '-c', 'test -t 0 && test -t 1 && echo on-a-tty; exit 4'], env);
    expect(run.stdout).toContain('on-a-tty');
    expect(run.status).toBe(4);
    const id = podman(['run', '-d', ...RUN, IMAGE, 'sleep', '600']).stdout.trim();
    const exec = onTerminal(['podman', ...globalArgs(), 'exec', '-it', id, 'sh', '-c', 'test -t 0 && echo exec-tty; exit 5'], env);
    expect(exec.stdout).toContain('exec-tty');
    expect(exec.status).toBe(5);
    expect(podman(['rm', '--force', '--time', '0', id]).status).toBe(0);
    // What conmon passed: --console-socket with -t, for create and for exec.
    const argv = loggedArgv(join(dir, 'argv.log'));
    expect(argv.some((a) => a.includes('create') && a.includes('--console-socket'))).toBe(true);
    expect(argv.some((a) => a.includes('exec') && a.includes('--console-socket'))).toBe(true);
  });

  it('run -d, then kill: the exit status of a signalled init (137), and rm', () => {
    const id = podman(['run', '-d', ...RUN, IMAGE, 'sleep', '600']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(podman(['inspect', '-f', '{{.State.Status}}', id]).stdout).toBe('running\n');
    expect(podman(['kill', id]).status).toBe(0);
    expect(podman(['wait', id]).stdout.trim()).toBe('137');
    expect(podman(['rm', id]).status).toBe(0);
  });
});
