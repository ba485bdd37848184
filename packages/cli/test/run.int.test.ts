/**
 * `ns run` for real, as root: each test spawns the built CLI (`node packages/cli/dist/ns.cjs`)
 * and checks its exit status and output. Only processes these tests start are signalled,
 * by pid; every temp dir is removed.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interfaces, start, type Result, type StartOptions } from './run-command.js';
import { bridgeOf } from '../src/flags.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
/** The CLI under test: the build, or NS_TEST_BIN (e.g. another build to compare with). */
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;


/** This file's own state root (`--root`): foreground runs must leave it empty. */
const stateRoot = () => join(tmp, 'state');

const ns = (args: string[], options: StartOptions = {}): Promise<Result> =>
  start(process.execPath, [BIN, '--root', stateRoot(), ...args], options).done;

/** `script` run by bash, with `$NS` the command running the built CLI. */
const bash = (script: string, options: StartOptions = {}): Promise<Result> =>
  start('bash', ['-c', `NS="${process.execPath} ${BIN} --root ${stateRoot()}"; ${script}`], options).done;

const hasSetpriv = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));

/** The pids of `pid`'s children (its main thread's, where the container is cloned). */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ns-cli-int-'));
});
afterAll(() => {
  try {
    // Every foreground `ns run` removed its state when its container exited, whatever the
    // way it ended (exit code, signal, EPIPE, forwarded SIGTERM).
    if (tmp && existsSync(stateRoot())) expect(readdirSync(stateRoot())).toEqual([]);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
});

describe.skipIf(!isRoot)('ns run (as root)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build @ns/cli first (pnpm --filter @ns/cli build)`);
  });

  it("exits with the container's exit code", async () => {
    const r = await ns(['run', '--', '/bin/sh', '-c', 'exit 7']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(7);
    expect((await ns(['run', '--', '/bin/sh', '-c', 'exit 0'])).code).toBe(0);
  });

  it('exits 128+N when the container is killed by signal N', async () => {
    const run = start(process.execPath, [BIN, 'run', '--', '/bin/sh', '-c', 'echo ready; while :; do sleep 0.1; done']);
    await run.waitFor('ready');
    const [container] = childrenOf(run.pid);
    expect(container).toBeGreaterThan(0);
    process.kill(container!, 'SIGKILL'); // the container's pid 1, a child of the ns we started
    const r = await run.done;
    expect(r.code).toBe(137);
    expect(r.stderr).toBe('');
  });

  it('exits 127 naming the command when it does not exist', async () => {
    const r = await ns(['run', '--', '/bin/nope']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('/bin/nope');
    expect(r.stderr).toMatch(/^ns: [^\n]*\n$/);
    const inPath = await ns(['run', '--', 'no-such-command-xyz']);
    expect(inPath.code).toBe(127);
    expect(inPath.stderr).toContain('no-such-command-xyz');
  });

  it('exits 126 when the command is not executable', async () => {
    const r = await ns(['run', '--', '/etc/passwd']);
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/^ns: .*\/etc\/passwd.*\n$/);
  });

  it('exits 125 with one line for a set-up error', async () => {
    const r = await ns(['run', '--cwd', '/etc/passwd', '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^ns: [^\n]*\/etc\/passwd[^\n]*\n$/);
  });

  it('runs the embedded default from a deleted working directory', async () => {
    const r = await bash(`d=$(mktemp -d); cd "$d" && rmdir "$d" && exec $NS run -- echo ok`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
    expect(r.code).toBe(0);
  });

  it('without an id, ignores an unrelated config.json in the working directory', async () => {
    const cwd = mkdtempSync(join(tmp, 'unrelated-'));
    writeFileSync(join(cwd, 'config.json'), JSON.stringify({ name: 'some other tool' }));
    const r = await ns(['run', '--', 'echo', 'hi'], { cwd });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi\n');
    expect(r.code).toBe(0);
  });

  it('runs the command as pid 1', async () => {
    const r = await ns(['run', '--', '/bin/sh', '-c', 'echo $$']);
    expect(r.stdout).toBe('1\n');
    expect(r.code).toBe(0);
  });

  it('sets --hostname', async () => {
    const r = await ns(['run', '--hostname', 'box', '--', 'hostname']);
    expect(r.stdout).toBe('box\n');
    expect(r.code).toBe(0);
  });

  it('passes -e FOO=bar and -e KEY from its own environment', async () => {
    const r = await ns(['run', '-e', 'FOO=bar', '--', '/bin/sh', '-c', 'echo "$FOO"']);
    expect(r.stdout).toBe('bar\n');
    const path = await ns(['run', '-e', 'PATH', '--', '/bin/sh', '-c', 'echo "$PATH"']);
    expect(path.stdout).toBe(`${process.env.PATH}\n`);
  });

  it('--dry-run prints the steps and starts nothing', async () => {
    const dir = mkdtempSync(join(tmp, 'dry-'));
    const r = await ns(['run', '--dry-run', '-v', `${dir}:/out`, '--', '/bin/sh', '-c', 'touch /out/marker']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^clone flags 0x/);
    expect(r.stdout).toContain('pivot_root');
    expect(r.stdout).toContain('execve /bin/sh');
    expect(existsSync(join(dir, 'marker'))).toBe(false);
    // The same run for real does create it: the check above can fail.
    expect((await ns(['run', '-v', `${dir}:/out`, '--', '/bin/sh', '-c', 'touch /out/marker'])).code).toBe(0);
    expect(existsSync(join(dir, 'marker'))).toBe(true);
  });

  it('-v shows a host directory read-write, and read-only with :ro', async () => {
    const dir = mkdtempSync(join(tmp, 'vol-'));
    writeFileSync(join(dir, 'in.txt'), 'from host\n');
    const rw = await ns(['run', '-v', `${dir}:/data`, '--', '/bin/sh', '-c', 'cat /data/in.txt && echo written > /data/out.txt']);
    expect(rw.stdout).toBe('from host\n');
    expect(rw.code).toBe(0);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('written\n');

    const ro = await ns(['run', '-v', `${dir}:/data:ro`, '--', '/bin/sh', '-c', 'cat /data/in.txt; echo no > /data/ro.txt']);
    expect(ro.stdout).toBe('from host\n');
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/i);
    expect(existsSync(join(dir, 'ro.txt'))).toBe(false);
  });

  it('-v with a missing host path fails with 125', async () => {
    const r = await ns(['run', '-v', join(tmp, 'missing') + ':/data', '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^ns: .*missing: no such file or directory\n$/);
  });

  describe('--net', () => {
    const hostNetns = readlinkSync('/proc/self/ns/net');

    it('by default: a new network namespace with only lo', async () => {
      const r = await ns(['run', '--', '/bin/sh', '-c', 'cat /proc/net/dev; readlink /proc/self/ns/net']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.at(-1)).not.toBe(hostNetns);
      expect(interfaces(lines.slice(0, -1).join('\n'))).toEqual(['lo']);
      const none = await ns(['run', '--net', 'none', '--', 'readlink', '/proc/self/ns/net']);
      expect(none.stdout.trim()).not.toBe(hostNetns);
    });

    it("host: the host's interfaces and namespace", async () => {
      const r = await ns(['run', '--net', 'host', '--', '/bin/sh', '-c', 'cat /proc/net/dev; readlink /proc/self/ns/net']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.at(-1)).toBe(hostNetns);
      expect(interfaces(lines.slice(0, -1).join('\n'))).toEqual(interfaces(readFileSync('/proc/net/dev', 'utf8')));
    });

    it.skipIf(!ROOTFS)('bridge:NAME: eth0 on that bridge, reaching its address; no veth left after the run', async () => {
      const links = () => execFileSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' });
      const before = links();
      try {
        const net = bridgeOf('bridge:nsclitest0')!.subnet.replace(/\.0\/24$/, '');
        const r = await ns(['run', '--rootfs', ROOTFS!, '--net', 'bridge:nsclitest0', '--', '/bin/sh', '-c', `ip -4 -o addr show eth0; ping -c 1 -W 3 ${net}.1 >/dev/null && echo pinged`]);
        expect(r.stderr).toBe('');
        expect(r.stdout).toContain(`inet ${net}.2/24 `);
        expect(r.stdout).toMatch(/pinged\n$/);
        expect(r.code).toBe(0);
        expect(links()).toBe(before);
        const bad = await ns(['run', '--net', 'bridge:', '--', 'true']);
        expect([bad.code, bad.stderr]).toEqual([125, 'ns: --net bridge:: expected bridge:NAME (a link name), or bridge for ns0\n']);
      } finally {
        spawnSync('ip', ['link', 'del', 'nsclitest0']);
        rmSync('/run/ns/ipam/nsclitest0', { recursive: true, force: true });
      }
    });

    it('PATH: joins that namespace', async () => {
      const r = await ns(['run', '--net', `/proc/${process.pid}/ns/net`, '--', 'readlink', '/proc/self/ns/net']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(hostNetns);
    });

    it('PATH: says so when it cannot be accessed (as another user) or is not a network namespace', async () => {
      const denied = await ns(['run', '--dry-run', '--net', '/proc/1/ns/net', '--', 'true'], { uid: 65534, gid: 65534 });
      expect(denied.stderr).toBe('ns: --net /proc/1/ns/net: permission denied\n');
      expect(denied.code).toBe(125);
      const file = await ns(['run', '--net', '/etc/passwd', '--', 'true']);
      expect(file.stderr).toBe('ns: --net /etc/passwd: not a network namespace\n');
      expect(file.code).toBe(125);
    });
  });

  it('-t allocates a terminal (under script(1))', async () => {
    const cmd = `${process.execPath} ${BIN} run -t -- /bin/sh -c 'tty; test -t 0 && echo TTY'`;
    const r = await start('script', ['-qec', cmd, '/dev/null']).done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\/dev\/pts\/0\r\n/);
    expect(r.stdout).toContain('TTY');
  });

  it("-t: the caller's terminal takes the pty's output raw (OPOST off, as runc), and gets it back after", async () => {
    // The pty made \n into \r\n already: with the caller's ONLCR on too, lines ended \r\r\n.
    const cmd = `${process.execPath} ${BIN} run -t -- /bin/sh -c 'echo A; echo B'; stty -a | grep -o -- '-\\?opost'`;
    const r = await start('script', ['-qec', cmd, '/dev/null']).done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^A\r\nB\r\n/);
    expect(r.stdout).not.toContain('\r\r\n');
    // script(1) may echo its end of input (a NUL) before stty's line: only the setting counts.
    expect(r.stdout).toMatch(/(^|[^-])opost\r\n$/);
  });

  it('-t with piped stdin: the input reaches the pty, its end is EOF', async () => {
    const r = await ns(['run', '-t', '--', '/bin/sh', '-c', 'cat; echo "done $?"'], { input: 'hello pty\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hello pty');
    expect(r.stdout).toMatch(/done 0\r?\n$/);
  });

  it('without -t stdin is passed through as it is', async () => {
    const r = await ns(['run', '--', '/bin/sh', '-c', 'test -t 0 || cat'], { input: 'piped\n' });
    expect(r.stdout).toBe('piped\n');
    expect(r.code).toBe(0);
  });

  it('without -t the command has no terminal', async () => {
    const r = await ns(['run', '--', '/bin/sh', '-c', 'test -t 0 && echo TTY || echo NOTTY']);
    expect(r.stdout).toBe('NOTTY\n');
  });

  it('-t sets TERM=xterm when the environment has none', async () => {
    const r = await ns(['run', '-t', '--', '/bin/sh', '-c', 'echo "[$TERM]"']);
    expect(r.stdout).toMatch(/^\[xterm\]\r?\n$/);
    expect(r.code).toBe(0);
    const own = await ns(['run', '-t', '-e', 'TERM=vt100', '--', '/bin/sh', '-c', 'echo "[$TERM]"']);
    expect(own.stdout).toMatch(/^\[vt100\]\r?\n$/);
  });

  it('-t writes all the output to a slow reader (no time limit on the drain)', async () => {
    const r = await bash('$NS run -t -- seq 1 200000 | (sleep 3; wc -l)', { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('200000');
  }, 60_000);

  it('-t: when the reader goes away, the container is killed and ns exits 141', async () => {
    const started = Date.now();
    const r = await bash('timeout -s KILL 20 $NS run -t -- yes | head -1; echo "status=${PIPESTATUS[0]}"', { timeoutMs: 30_000 });
    expect(r.stdout).toMatch(/^y\r?\nstatus=141\n$/);
    expect(r.stderr).toBe('');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it.skipIf(!hasSetpriv)('--cap-add: only what the bounding set of ns holds (ns as root, no user namespace)', async () => {
    const named = await bash('exec setpriv --bounding-set -sys_resource $NS run --cap-add SYS_RESOURCE -- true');
    expect(named.stderr).toBe('ns: --cap-add CAP_SYS_RESOURCE: not in the bounding set of this ns process\n');
    expect(named.code).toBe(125);
    const all = await bash("exec setpriv --bounding-set -sys_resource $NS run --cap-add ALL -- sh -c 'grep CapBnd /proc/self/status'");
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    const mask = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(all.stdout)![1]}`);
    expect(mask & (1n << 24n)).toBe(0n); // CAP_SYS_RESOURCE
    expect(mask & (1n << 21n)).not.toBe(0n); // CAP_SYS_ADMIN
  });

  it('-t passes the exit status through', async () => {
    const cmd = `${process.execPath} ${BIN} run -t -- /bin/sh -c 'exit 5'; echo "status=$?"`;
    const r = await start('script', ['-qec', cmd, '/dev/null']).done;
    expect(r.stdout).toContain('status=5');
  });

  it('forwards SIGTERM sent to ns to the container', async () => {
    const run = start(process.execPath, [BIN, 'run', '--', '/bin/sh', '-c', 'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done']);
    await run.waitFor('ready');
    process.kill(run.pid, 'SIGTERM'); // the ns process this test started
    const r = await run.done;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(3);
  });

  describe.skipIf(!ROOTFS)('on the busybox rootfs (NS_TEST_ROOTFS)', () => {
    it('--rootfs runs in that root filesystem', async () => {
      const r = await ns(['run', '--rootfs', ROOTFS!, '-u', 'alice', '--', '/bin/sh', '-c', 'id -un; cat /etc/hostname; readlink /bin/sh']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('alice\nns-test\n/bin/busybox\n');
    });

    it('ns spec + ns run --bundle runs the config.json, with a cgroup of its own (linux.resources)', async () => {
      const bundle = mkdtempSync(join(tmp, 'bundle-'));
      const spec = await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal', '--', '/bin/sh', '-c', 'echo $$; hostname; cat /proc/self/cgroup']);
      expect(spec.code).toBe(0);
      const r = await ns(['run', '--bundle', bundle, 'spec1']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^1\nns\n/);
      // runc spec's config.json has linux.resources (deny every device, then the defaults): its
      // cgroup /ns/spec1, seen from inside its own cgroup namespace as the root.
      expect(r.stdout).toMatch(/^\d+:devices:\/$/m);
      expect(r.stderr).not.toMatch(/linux\.resources/);
      expect(existsSync('/sys/fs/cgroup/devices/ns/spec1')).toBe(false); // removed at exit
      // The default parent /ns stays, as runc leaves its parents: remove it when it is empty.
      for (const h of readdirSync('/sys/fs/cgroup')) {
        try {
          rmdirSync(join('/sys/fs/cgroup', h, 'ns'));
        } catch {
          // not there, not empty, or not a hierarchy
        }
      }
      // And from the bundle as working directory, with a command and id of our own.
      const cwd = await ns(['run', 'bundled', '--', '/bin/sh', '-c', 'exit 9'], { cwd: bundle });
      expect(cwd.code).toBe(9);
    });

    it('--bundle whose config.json has no process.args runs the command after --', async () => {
      const bundle = mkdtempSync(join(tmp, 'noargs-'));
      expect((await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal'])).code).toBe(0);
      const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { args?: string[] } };
      delete config.process.args;
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
      const r = await ns(['run', '--bundle', bundle, '--', 'echo', 'x']);
      expect(r.stdout).toBe('x\n');
      expect(r.code).toBe(0);
    });

    it('exits 137 when the command kills itself with SIGKILL (no pid namespace)', async () => {
      // As pid 1 of a pid namespace it could not: the kernel ignores SIGKILL sent to a
      // namespace's init from inside. So: a bundle without a pid namespace.
      const bundle = mkdtempSync(join(tmp, 'nopid-'));
      expect((await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal'])).code).toBe(0);
      const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
        linux: { namespaces: { type: string }[] };
      };
      config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'pid');
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
      const r = await ns(['run', '--bundle', bundle, '--', '/bin/sh', '-c', 'kill -9 $$']);
      expect(r.code).toBe(137);
    });
  });
});
