/**
 * The lifecycle verbs for real, as root: `ns run -d`, `exec`, `list`, `state`, `ps`, `kill`,
 * `delete`, each test with its own temporary `--root`. Every test spawns the built CLI
 * (`node packages/cli/dist/ns.cjs`). Cleanup only signals pids recorded in the test's own
 * state folder (or processes the test spawned itself), by pid, and removes the temp dirs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { constants, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interfaces, start, type Result } from './run-command.js';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime, type ContainerState } from '@ns/namespaces';
import { hostMountPoints } from '../../../scripts/testing/host-mounts.mjs';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;


let root: string;
/** `ns --root <this test's root> ARGS...`. */
const ns = (args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<Result> =>
  start(process.execPath, [BIN, '--root', root, ...args], options).done;

/** The state file as written by ns. */
const readState = (id: string): ContainerState => JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as ContainerState;

/** The live status `ns state` reports. */
async function status(id: string): Promise<string> {
  const r = await ns(['state', id]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { status: string }).status;
}

/** Poll `check` every 20 ms until it is true; fails after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True while the container's recorded init is alive (same pid and start time). */
const alive = (state: Pick<ContainerState, 'pid' | 'startTime'>): boolean => state.pid > 0 && processStartTime(state.pid) === state.startTime;

const hostPidNs = readlinkSync('/proc/self/ns/pid');

/** In a pid namespace of its own, not the host's (the only pids cleanup will SIGKILL). */
function ownPidNamespace(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`) !== hostPidNs;
  } catch {
    return false;
  }
}

/** `ns run -d --rootfs ROOTFS ID -- CMD...` that must succeed; returns its state. */
async function runDetached(id: string, command: string[], extra: string[] = []): Promise<ContainerState> {
  const r = await ns(['run', '-d', '--rootfs', ROOTFS!, ...extra, id, '--', ...command]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return readState(id);
}

const mountinfoLines = (): number => hostMountPoints().length;

/** Processes a test spawned itself (killed by pid in afterEach). */
let spawned: ChildProcess[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ns-lifecycle-'));
  spawned = [];
});

afterEach(async () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (!root || !existsSync(root)) return;
  for (const id of readdirSync(root)) {
    if (id.endsWith('.lock')) continue;
    let state: ContainerState | undefined;
    try {
      state = readState(id);
    } catch {
      // no state file
    }
    // Only a live container init in a pid namespace of its own is killed here, by its pid.
    if (state && alive(state) && ownPidNamespace(state.pid)) {
      process.kill(state.pid, 'SIGKILL');
      await until(`${id} to stop`, () => !alive(state!));
    }
    if (!state || !alive(state)) await ns(['delete', '-f', id]);
  }
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('lifecycle (as root)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build @ns/cli first (pnpm --filter @ns/cli build)`);
  });

  it.each(['../x', 'a/b', '.hidden'])('refuses the id %j with 125 in run, exec, state, kill, delete', async (id) => {
    const outside = join(root, '..', 'x');
    const existedBefore = existsSync(outside);
    const results = {
      run: await ns(['run', id, '--', '/bin/true']),
      exec: await ns(['exec', id, '--', '/bin/true']),
      state: await ns(['state', id]),
      kill: await ns(['kill', id, 'KILL']),
      delete: await ns(['delete', '-f', id]),
    };
    for (const [verb, r] of Object.entries(results)) {
      expect(r.code, verb).toBe(125);
      expect(r.stderr, verb).toMatch(/^ns: invalid container id [^\n]*\n$/);
    }
    expect(readdirSync(root)).toEqual([]);
    expect(existsSync(outside)).toBe(existedBefore);
  });

  it('-d with -t and no --console-socket is refused, and nothing is recorded', async () => {
    const r = await ns(['run', '-d', '-t', 'tty1', '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^ns: cannot allocate tty if ns will detach without setting console socket .*--console-socket.*\n$/);
    expect(readdirSync(root)).toEqual([]);
  });

  it('unknown containers: 125 naming the id', async () => {
    for (const args of [['state', 'ghost'], ['exec', 'ghost', '--', 'true'], ['kill', 'ghost'], ['delete', 'ghost'], ['ps', 'ghost']]) {
      const r = await ns(args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr, args.join(' ')).toBe('ns: container ghost does not exist\n');
    }
    // As runc: --force on an unknown id is not an error.
    expect((await ns(['delete', '-f', 'ghost'])).code).toBe(0);
  });

  describe.skipIf(!ROOTFS)('on the busybox rootfs (NS_TEST_ROOTFS)', () => {
    it("run -d returns at once, prints nothing, and the container keeps running with ns's own stdio", async () => {
      const before = Date.now();
      const state = await runDetached('d1', ['sleep', '1000']);
      expect(Date.now() - before).toBeLessThan(10_000);
      expect(state.detached).toBe(true);
      expect(existsSync(`/proc/${state.pid}`)).toBe(true);
      expect(alive(state)).toBe(true);
      expect(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8')).toBe('sleep\u00001000\u0000');
      // runc's pass-through: ns's stdin (/dev/null here), and the files ns's stdout and stderr
      // were (see start() in run-command.ts, which has removed them since).
      expect(readlinkSync(`/proc/${state.pid}/fd/0`)).toBe('/dev/null');
      expect(readlinkSync(`/proc/${state.pid}/fd/1`)).toMatch(/\/ns-test-out-[^/]+\/stdout \(deleted\)$/);
      expect(readlinkSync(`/proc/${state.pid}/fd/2`)).toMatch(/\/ns-test-out-[^/]+\/stderr \(deleted\)$/);
      const r = await ns(['state', 'd1']);
      expect(r.code).toBe(0);
      const oci = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(oci).toMatchObject({ ociVersion: expect.any(String), id: 'd1', status: 'running', pid: state.pid, rootfs: ROOTFS });
      expect(r.stdout).toBe(`${JSON.stringify(oci, null, 2)}\n`);
      // Still there a moment later.
      await new Promise((r) => setTimeout(r, 300));
      expect(alive(state)).toBe(true);
    });

    it('run -d --stdout / --stderr append to files (the same file for both); --log after run is refused', async () => {
      const out = join(root, '..', `${root.split('/').at(-1)}.out`);
      const err = `${out}.err`;
      const log = `${out}.log`;
      try {
        writeFileSync(out, 'old\n');
        await runDetached('o1', ['sh', '-c', 'echo to-out; echo to-err >&2; exec sleep 1000'], ['--stdout', out, '--stderr', err]);
        await until('the output files', () => existsSync(err) && readFileSync(err, 'utf8') === 'to-err\n');
        expect(readFileSync(out, 'utf8')).toBe('old\nto-out\n');

        await runDetached('o2', ['sh', '-c', 'echo a; echo b >&2; exec sleep 1000'], ['--stdout', log, '--stderr', log]);
        await until('the log file', () => existsSync(log) && readFileSync(log, 'utf8').split('\n').length === 3);
        expect(readFileSync(log, 'utf8').split('\n').sort()).toEqual(['', 'a', 'b']);

        // It used to take both; --log is ns's own log now (a global option, as runc's).
        rmSync(log);
        const old = await ns(['run', '-d', '--rootfs', ROOTFS!, '--log', log, 'o3', '--', 'sh', '-c', 'echo a; exec sleep 1000']);
        expect(old.code).toBe(125);
        expect(old.stderr).toMatch(/^ns: run --log [^\n]*: no longer takes the container's output: --log is ns's own log now, a global option given before the verb [^\n]*--stdout FILE --stderr FILE[^\n]*\n$/);
        expect(existsSync(log)).toBe(false);
        expect(readdirSync(root).sort()).toEqual(['o1', 'o2']);
      } finally {
        for (const f of [out, err, log]) rmSync(f, { force: true });
      }
    });

    it('the foreground run records its state while it runs and removes it at exit; an id in use is refused', async () => {
      const fg = start(process.execPath, [BIN, 'run', '--root', root, '--rootfs', ROOTFS!, 'fg1', '--', 'sh', '-c', 'echo ready; exec sleep 1000']);
      await fg.waitFor('ready');
      const state = readState('fg1');
      expect(state.detached).toBe(false);
      expect(await status('fg1')).toBe('running');
      const again = await ns(['run', '--rootfs', ROOTFS!, 'fg1', '--', 'true']);
      expect(again.code).toBe(125);
      expect(again.stderr).toMatch(/^ns: container with given ID already exists: fg1 [^\n]*\n$/);
      const dup = await ns(['run', '-d', '--rootfs', ROOTFS!, 'fg1', '--', 'true']);
      expect(dup.code).toBe(125);
      expect(dup.stderr).toMatch(/^ns: container with given ID already exists: fg1/);
      expect((await ns(['exec', 'fg1', '--', 'true'])).code).toBe(0);
      expect((await ns(['kill', 'fg1', 'KILL'])).code).toBe(0);
      const r = await fg.done;
      expect(r.code).toBe(137);
      expect(readdirSync(root)).toEqual([]);
    });

    it('exec joins the namespaces, root and mounts of the container, not the host', async () => {
      const state = await runDetached('e1', ['sh', '-c', 'while :; do sleep 1; done'], ['--hostname', 'box']);
      const pid = state.pid;

      const self = await ns(['exec', 'e1', '--', 'sh', '-c', 'echo $$; cat /proc/1/cmdline']);
      expect(self.code).toBe(0);
      const [ownPid, initCmdline] = [self.stdout.slice(0, self.stdout.indexOf('\n')), self.stdout.slice(self.stdout.indexOf('\n') + 1)];
      expect(Number(ownPid)).toBeGreaterThan(1);
      expect(initCmdline).toBe(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      expect(initCmdline).toBe('sh\u0000-c\u0000while :; do sleep 1; done\u0000');

      const host = await ns(['exec', 'e1', '--', 'hostname']);
      expect(host.stdout).toBe('box\n');
      expect(hostname()).not.toBe('box');

      const names = ['pid', 'mnt', 'net', 'uts', 'ipc'];
      const links = await ns(['exec', 'e1', '--', 'sh', '-c', names.map((n) => `readlink /proc/self/ns/${n}`).join('; ')]);
      expect(links.code).toBe(0);
      const inside = links.stdout.trimEnd().split('\n');
      names.forEach((n, i) => {
        expect(inside[i], n).toBe(readlinkSync(`/proc/${pid}/ns/${n}`));
        expect(inside[i], n).not.toBe(readlinkSync(`/proc/self/ns/${n}`));
      });

      const mounts = await ns(['exec', 'e1', '--', 'cat', '/proc/mounts']);
      expect(mounts.code).toBe(0);
      expect(mounts.stdout).toBe(readFileSync(`/proc/${pid}/mounts`, 'utf8'));
      expect(mounts.stdout).not.toBe(readFileSync('/proc/self/mounts', 'utf8'));
      expect((await ns(['exec', 'e1', '--', 'cat', '/etc/hostname'])).stdout).toBe('ns-test\n'); // the busybox rootfs's

      const net = await ns(['exec', 'e1', '--', 'cat', '/proc/net/dev']);
      expect(interfaces(net.stdout)).toEqual(['lo']);
      const hostInterfaces = interfaces(readFileSync('/proc/net/dev', 'utf8'));
      if (hostInterfaces.length > 1) expect(interfaces(net.stdout)).not.toEqual(hostInterfaces);
    });

    it('exec: exit codes, 127 for a missing command, user, env and cwd', async () => {
      await runDetached('e2', ['sleep', '1000']);
      const ok = await ns(['exec', 'e2', '--', 'sh', '-c', 'exit 0']);
      expect(ok.code).toBe(0);
      expect(ok.stderr).toBe('');
      expect((await ns(['exec', 'e2', '--', 'sh', '-c', 'exit 3'])).code).toBe(3);
      expect((await ns(['exec', 'e2', '--', 'sh', '-c', 'kill -9 $$'])).code).toBe(137);

      const missing = await ns(['exec', 'e2', '--', '/bin/nope']);
      expect(missing.code).toBe(127);
      expect(missing.stderr).toMatch(/^ns: [^\n]*\/bin\/nope[^\n]*\n$/);
      const notInPath = await ns(['exec', 'e2', '--', 'no-such-command-xyz']);
      expect(notInPath.code).toBe(127);
      expect(notInPath.stderr).toContain('no-such-command-xyz');
      expect((await ns(['exec', 'e2', '--', '/etc/passwd'])).code).toBe(126);

      expect((await ns(['exec', 'e2', '--', 'id', '-u'])).stdout).toBe('0\n');
      const alice = await ns(['exec', '-u', 'alice', 'e2', '--', 'id', '-u']);
      expect(alice.code).toBe(0);
      expect(alice.stdout).toBe('1000\n');
      expect((await ns(['exec', '-u', 'nosuchuser', 'e2', '--', 'id', '-u'])).code).toBe(125);

      const env = await ns(['exec', '-e', 'FOO=bar', '--cwd', '/tmp', 'e2', '--', 'sh', '-c', 'echo "$FOO $(pwd)"']);
      expect(env.stdout).toBe('bar /tmp\n');

      const stdin = await ns(['exec', 'e2', '--', 'cat'], { input: 'piped\n' });
      expect(stdin.stdout).toBe('piped\n');

      const noCommand = await ns(['exec', 'e2']);
      expect(noCommand.code).toBe(125);
      expect(noCommand.stderr).toMatch(/no command given/);
    });

    it('run and exec: of env keys given twice the last wins, and -e overrides a key of the config (as runc)', async () => {
      const bundle = mkdtempSync(join(tmpdir(), 'ns-envdup-'));
      try {
        expect((await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal'])).code).toBe(0);
        const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { env: string[] }; linux: { resources?: unknown } };
        config.process.env = ['ONE=two', ...config.process.env, 'ONE=three'];
        delete config.linux.resources; // not applied yet: a warning of its own
        writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
        const ones = (r: Result) => r.stdout.split('\n').filter((l) => l.startsWith('ONE='));

        const run = await ns(['run', '--bundle', bundle, '--', 'env']);
        expect(run.stderr).toBe('');
        expect(ones(run)).toEqual(['ONE=three']);
        expect(ones(await ns(['run', '--bundle', bundle, '-e', 'ONE=four', '--', 'env']))).toEqual(['ONE=four']);

        expect((await ns(['run', '-d', '--bundle', bundle, 'envd', '--', 'sleep', '1000'])).code).toBe(0);
        expect(ones(await ns(['exec', 'envd', '--', 'env']))).toEqual(['ONE=three']);
        const exec = await ns(['exec', '-e', 'ONE=four', '--env', 'TWO=2', 'envd', '--', 'env']);
        expect(exec.code).toBe(0);
        expect(ones(exec)).toEqual(['ONE=four']);
        expect(exec.stdout).toContain('TWO=2\n');
      } finally {
        rmSync(bundle, { recursive: true, force: true });
      }
    });

    it('exec -g / --additional-gids: the process has exactly those supplementary groups; a bad GID is refused', async () => {
      await runDetached('g1', ['sleep', '1000']);
      const groups = async (args: string[]) => {
        const r = await ns(['exec', ...args, 'g1', '--', 'sh', '-c', 'grep ^Groups: /proc/self/status; id -G']);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        return r.stdout.replace(/[ \t]+\n/g, '\n');
      };
      expect(await groups([])).toBe('Groups:\n0\n');
      expect(await groups(['-g', '10', '--additional-gids', '4000', '-g', '10'])).toBe('Groups:\t10 4000\n0 10 4000\n');
      expect(await groups(['--additional-gids=100'])).toBe('Groups:\t100\n0 100\n');
      // A user given by name keeps its /etc/group memberships (wheel, users), as runc.
      expect(await groups(['-u', 'alice', '-g', '5'])).toBe('Groups:\t5 10 100\n1000 5 10 100\n');

      for (const bad of ['wheel', '-1', '1.5', '4294967295']) {
        const r = await ns(['exec', '-g', bad, 'g1', '--', 'sh', '-c', 'echo ran']);
        expect(r.code, bad).toBe(125);
        expect(r.stdout).toBe('');
        expect(r.stderr).toBe(`ns: --additional-gids ${JSON.stringify(bad)}: expected a group id, an integer 0..4294967294\n`);
      }
    });

    it('a config.json naming capabilities this ns or the kernel does not know runs without them, warning with the JSON path; --cap-add CAP_FOO is refused', async () => {
      const bundle = mkdtempSync(join(tmpdir(), 'ns-capfoo-'));
      try {
        expect((await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal'])).code).toBe(0);
        const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { capabilities: Record<string, string[]> }; linux: { resources?: unknown } };
        delete config.linux.resources; // not applied yet: a warning of its own
        const caps = config.process.capabilities;
        caps.bounding = ['CAP_KILL', 'CAP_CHOWN', 'CAP_FOO', 'CAP_CHECKPOINT_RESTORE'];
        caps.effective = ['CAP_KILL', 'CAP_FOO'];
        caps.permitted = ['CAP_KILL', 'CAP_FOO'];
        writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
        const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));

        const r = await ns(['run', '--bundle', bundle, '--', 'grep', '-E', '^Cap(Bnd|Eff)', '/proc/self/status']);
        expect(r.code).toBe(0);
        const bits = (line: string) => BigInt(`0x${new RegExp(`^${line}:\\s+([0-9a-f]+)`, 'm').exec(r.stdout)![1]}`);
        expect(bits('CapBnd')).toBe((1n << 5n) | 1n | (last >= 40 ? 1n << 40n : 0n));
        expect(bits('CapEff')).toBe(1n << 5n);
        expect(r.stderr).toBe(
          [
            'ns: warning: process.capabilities.bounding[2]: unknown capability "CAP_FOO", ignored',
            ...(last >= 40 ? [] : [`ns: warning: process.capabilities.bounding[3]: CAP_CHECKPOINT_RESTORE is not known to the running kernel (cap_last_cap is ${last}), ignored`]),
            'ns: warning: process.capabilities.effective[1]: unknown capability "CAP_FOO", ignored',
            'ns: warning: process.capabilities.permitted[1]: unknown capability "CAP_FOO", ignored',
            '',
          ].join('\n'),
        );

        // Typed on the command line, an unknown name is a mistake to report, as docker does.
        await runDetached('capfoo', ['sleep', '1000']);
        const add = await ns(['exec', '--cap-add', 'CAP_FOO', 'capfoo', '--', 'sh', '-c', 'echo ran']);
        expect(add.code).toBe(125);
        expect(add.stdout).toBe('');
        expect(add.stderr).toMatch(/^ns: --cap-add: unknown capability "CAP_FOO"[^\n]*\n$/);
      } finally {
        rmSync(bundle, { recursive: true, force: true });
      }
    });

    it('exec --cap-drop removes a capability for that process only', async () => {
      await runDetached('e3', ['sleep', '1000']);
      const capEff = (text: string) => BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(text)![1]}`);
      const plain = await ns(['exec', 'e3', '--', 'cat', '/proc/self/status']);
      const dropped = await ns(['exec', '--cap-drop', 'CHOWN', 'e3', '--', 'cat', '/proc/self/status']);
      expect(capEff(plain.stdout) & 1n).toBe(1n); // CAP_CHOWN is bit 0
      expect(capEff(dropped.stdout) & 1n).toBe(0n);
      expect(capEff(dropped.stdout)).toBe(capEff(plain.stdout) & ~1n);
    });

    it('exec -t gets a terminal of the container (under script(1))', async () => {
      await runDetached('t1', ['sleep', '1000']);
      const cmd = `${process.execPath} ${BIN} --root ${root} exec -t t1 -- /bin/sh -c 'tty; test -t 0 && echo TTY; exit 4'; echo "status=$?"`;
      const r = await start('script', ['-qec', cmd, '/dev/null']).done;
      expect(r.stdout).toContain('/dev/pts/0');
      expect(r.stdout).toContain('TTY');
      expect(r.stdout).toContain('status=4');
      // Piped stdin with -t: the input reaches the pty, its end is EOF.
      const piped = await ns(['exec', '-t', 't1', '--', 'sh', '-c', 'cat; echo "done $?"'], { input: 'hello pty\n' });
      expect(piped.code).toBe(0);
      expect(piped.stdout).toContain('hello pty');
      expect(piped.stdout).toMatch(/done 0\r?\n$/);
    });

    it('list and state: running, then stopped after ns kill ID KILL', async () => {
      const state = await runDetached('l1', ['sleep', '1000']);

      const json = await ns(['list', '--format', 'json']);
      expect(json.code).toBe(0);
      const entries = JSON.parse(json.stdout) as Record<string, unknown>[];
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ id: 'l1', pid: state.pid, status: 'running', rootfs: ROOTFS, created: state.created, owner: 'root' });

      const table = (await ns(['list'])).stdout.trimEnd().split('\n');
      expect(table[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
      expect(table[1]).toMatch(new RegExp(`^l1\\s+${state.pid}\\s+running\\s+\\S+\\s+${state.created.replace(/\./g, '\\.')}\\s+root$`));
      expect((await ns(['list', '-q'])).stdout).toBe('l1\n');

      const kill = await ns(['kill', 'l1', 'KILL']);
      expect(kill.code).toBe(0);
      expect(kill.stderr).toBe('');
      await until('l1 to stop', async () => (await status('l1')) === 'stopped');
      expect(alive(state)).toBe(false);

      const after = JSON.parse((await ns(['list', '--format', 'json'])).stdout) as Record<string, unknown>[];
      expect(after[0]).toMatchObject({ id: 'l1', pid: 0, status: 'stopped' });
      expect((await ns(['list'])).stdout.split('\n')[1]).toMatch(/^l1\s+0\s+stopped\s/);
      const oci = JSON.parse((await ns(['state', 'l1'])).stdout) as Record<string, unknown>;
      expect(oci.status).toBe('stopped');
      expect(oci).not.toHaveProperty('pid');

      const again = await ns(['kill', 'l1', 'KILL']);
      expect(again.code).toBe(125);
      expect(again.stderr).toBe('ns: container not running: l1\n');
      const exec = await ns(['exec', 'l1', '--', 'true']);
      expect(exec.code).toBe(125);
      expect(exec.stderr).toBe('ns: cannot exec in a stopped container: l1\n');
      expect((await ns(['ps', 'l1'])).code).toBe(0);
    });

    it('kill takes names and numbers; SIGTERM (15) reaches an init that traps it', async () => {
      const out = join(root, '..', `${root.split('/').at(-1)}.out`);
      try {
        const state = await runDetached(
          'k1',
          ['sh', '-c', 'trap "echo usr1" USR1; trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done'],
          ['--stdout', out],
        );
        const count = () => readFileSync(out, 'utf8').split('\n').filter((l) => l === 'usr1').length;
        await until('ready', () => readFileSync(out, 'utf8').includes('ready'));
        const forms = ['USR1', 'SIGUSR1', 'usr1', String(constants.signals.SIGUSR1)];
        for (const [i, form] of forms.entries()) {
          const r = await ns(['kill', 'k1', form]);
          expect(r.code, form).toBe(0);
          await until(`usr1 #${i + 1}`, () => count() === i + 1);
        }

        for (const bad of ['NOPE', '99', 'SIG']) {
          const r = await ns(['kill', 'k1', bad]);
          expect(r.code, bad).toBe(125);
          expect(r.stderr, bad).toMatch(/^ns: unknown signal .*\n$/);
        }
        expect(alive(state)).toBe(true);

        expect((await ns(['kill', 'k1', '15'])).code).toBe(0);
        await until('k1 to stop', async () => (await status('k1')) === 'stopped');
        expect(count()).toBe(4);
      } finally {
        rmSync(out, { force: true });
      }
    });

    it('kill sends SIGTERM by default to the init only, and with --all to every process', async () => {
      const out = join(root, '..', `${root.split('/').at(-1)}.out`);
      try {
        const state = await runDetached(
          'k2',
          ['sh', '-c', 'trap "echo term" TERM; sleep 1000 & echo ready; while :; do sleep 0.1; done'],
          ['--stdout', out],
        );
        await until('ready', () => readFileSync(out, 'utf8').includes('ready'));
        // A CMD column that is exactly `sleep 1000` (the init's own command line contains it too).
        const hasSleeper = async () => /\ssleep 1000$/m.test((await ns(['ps', 'k2'])).stdout);
        expect(await hasSleeper()).toBe(true);

        expect((await ns(['kill', 'k2'])).code).toBe(0);
        await until('the trap', () => readFileSync(out, 'utf8').includes('term'));
        expect(await hasSleeper()).toBe(true);

        expect((await ns(['kill', '--all', 'k2', 'TERM'])).code).toBe(0);
        await until('sleep 1000 to end', async () => !(await hasSleeper()));
        expect(alive(state)).toBe(true); // the init trapped it
      } finally {
        rmSync(out, { force: true });
      }
    });

    it('ps lists the processes of the container', async () => {
      const state = await runDetached('p1', ['sh', '-c', 'sleep 1000 & exec sleep 999']);
      await until('two processes', async () => (JSON.parse((await ns(['ps', '-f', 'json', 'p1'])).stdout) as number[]).length === 2);
      const pids = JSON.parse((await ns(['ps', '--format', 'json', 'p1'])).stdout) as number[];
      expect(pids).toContain(state.pid);
      for (const pid of pids) expect(readlinkSync(`/proc/${pid}/ns/pid`)).toBe(readlinkSync(`/proc/${state.pid}/ns/pid`));

      const lines = (await ns(['ps', 'p1'])).stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^UID\s+PID\s+PPID\s+STAT\s+CMD$/);
      expect(lines.slice(1).map((l) => l.split(/\s+/)[1]).map(Number).sort()).toEqual([...pids].sort());
      const init = lines.find((l) => l.split(/\s+/)[1] === String(state.pid))!;
      expect(init).toMatch(/^0\s+\d+\s+\d+\s+[A-Z]\s+sleep 999$/);
      expect(lines.some((l) => /\ssleep 1000$/.test(l))).toBe(true);
    });

    it('delete refuses a running container, -f kills and deletes it, leaving nothing behind', async () => {
      const mountsBefore = mountinfoLines();
      const state = await runDetached('r1', ['sleep', '1000']);

      const refused = await ns(['delete', 'r1']);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toMatch(/^ns: cannot delete container r1 that is not stopped: running.*--force.*\n$/);
      expect(alive(state)).toBe(true);
      expect(existsSync(join(root, 'r1', 'state.json'))).toBe(true);

      const forced = await ns(['delete', '-f', 'r1']);
      expect(forced.code).toBe(0);
      expect(forced.stderr).toBe('');
      expect(alive(state)).toBe(false);
      expect(readdirSync(root)).toEqual([]);
      expect(mountinfoLines()).toBe(mountsBefore);

      // A stopped container needs no --force.
      const stopped = await runDetached('r2', ['sh', '-c', 'exit 0']);
      await until('r2 to stop', () => !alive(stopped));
      const r = await ns(['rm', 'r2']);
      expect(r.code).toBe(0);
      expect(readdirSync(root)).toEqual([]);
      expect((await ns(['delete', 'r2'])).code).toBe(125);
    });

    it('a pid reused after the container died is not treated as the container', async () => {
      const real = await runDetached('real', ['sleep', '1000']);
      const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      spawned.push(sleeper);
      const pid = sleeper.pid!;
      await until('the sleep to start', () => processStartTime(pid) !== null);
      const startTime = processStartTime(pid)!;

      // The real container's state, moved onto our sleep; no pid namespace of its own in the
      // config, so nothing here could ever reach beyond that one pid.
      const config = { ...real.config, namespaces: real.config.namespaces.filter((n) => n.type !== 'pid') };
      const write = (start: string) => {
        mkdirSync(join(root, 'reused'), { recursive: true });
        const state: ContainerState = { ...real, id: 'reused', config, pid, startTime: start };
        writeFileSync(join(root, 'reused', 'state.json'), JSON.stringify(state));
      };

      // Control: with the right start time it does count as running.
      write(startTime);
      expect(await status('reused')).toBe('running');

      write(String(Number(startTime) + 1));
      expect(await status('reused')).toBe('stopped');
      const listed = JSON.parse((await ns(['list', '--format', 'json'])).stdout) as { id: string; pid: number; status: string }[];
      expect(listed.find((e) => e.id === 'reused')).toMatchObject({ pid: 0, status: 'stopped' });
      for (const args of [['kill', 'reused', 'KILL'], ['exec', 'reused', '--', 'true']]) {
        const r = await ns(args);
        expect(r.code, args.join(' ')).toBe(125);
        expect(r.stderr, args.join(' ')).toMatch(/not running|cannot exec in a stopped container/);
      }
      // As runc: nothing left to signal or list is no error (and the reused pid is not touched).
      for (const args of [['kill', '--all', 'reused', 'KILL'], ['ps', 'reused']]) expect((await ns(args)).code, args.join(' ')).toBe(0);
      expect(processStartTime(pid)).toBe(startTime); // our sleep was left alone
      expect(sleeper.exitCode).toBeNull();
      expect((await ns(['delete', 'reused'])).code).toBe(0); // stopped: no --force needed
      expect(processStartTime(pid)).toBe(startTime);

      sleeper.kill('SIGKILL');
      expect(alive(real)).toBe(true);
    });

    it('20 concurrent execs into one container each get their own exit code', async () => {
      await runDetached('c1', ['sh', '-c', 'while :; do sleep 1; done']);
      const runs = Array.from({ length: 20 }, (_, i) => ns(['exec', 'c1', '--', 'sh', '-c', `exit ${i % 5}`], { timeoutMs: 60_000 }));
      const results = await Promise.all(runs);
      results.forEach((r, i) => {
        expect(r.stderr, `exec #${i}`).toBe('');
        expect(r.code, `exec #${i}`).toBe(i % 5);
      });
    }, 90_000);
  });
});

describe.skipIf(!isRoot || !ROOTFS)('ns create / ns start (as root)', () => {
  it('create leaves the container set up and waiting (created); start runs it; start again is refused', async () => {
    const log = join(root, '..', `${Math.random().toString(36).slice(2)}.log`);
    try {
      const created = await ns(['create', '--rootfs', ROOTFS!, '--stdout', log, '--stderr', log, 'cr', '--', 'sh', '-c', 'echo started; sleep 30']);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      expect(await status('cr')).toBe('created');
      expect(readFileSync(log, 'utf8')).toBe(''); // the command has not run
      const started = await ns(['start', 'cr']);
      expect(started.code).toBe(0);
      expect(await status('cr')).toBe('running');
      await until('the command output', () => readFileSync(log, 'utf8') === 'started\n');
      const again = await ns(['start', 'cr']);
      expect(again.code).toBe(125);
      expect(again.stderr).toBe('ns: cannot start an already running container: cr\n');
      expect((await ns(['delete', '-f', 'cr'])).code).toBe(0);
      expect(readdirSync(root)).toEqual([]);
    } finally {
      rmSync(log, { force: true });
    }
  });

  it('delete removes a created container without -f, as runc', async () => {
    expect((await ns(['create', '--rootfs', ROOTFS!, 'cd', '--', 'true'])).code).toBe(0);
    const state = readState('cd');
    expect((await ns(['delete', 'cd'])).code).toBe(0);
    expect(readdirSync(root)).toEqual([]);
    await until('the created process to be gone', () => !alive(state));
  });

  it('create with a terminal and no --console-socket is refused and leaves nothing', async () => {
    const r = await ns(['create', '-t', '--rootfs', ROOTFS!, 'ct', '--', 'sh']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/console-socket/);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe.skipIf(!isRoot || !ROOTFS)('ns run -d with a container that exits at once (regression)', () => {
  it('never crashes ns while its watcher is torn down (it segfaulted about 1 run in 20)', async () => {
    const codes: (number | null)[] = [];
    for (let i = 0; i < 25; i++) {
      const r = await ns(['run', '-d', '--rootfs', ROOTFS!, `quick${i}`, '--', 'sh', '-c', 'exit 0']);
      codes.push(r.code);
    }
    expect(codes).toEqual(Array(25).fill(0));
  }, 60_000);
});
