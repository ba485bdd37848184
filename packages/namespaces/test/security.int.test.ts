import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatCapability, parseStatusCapabilities, toMask } from '@ns/capabilities';
import { DEFAULT_NAMESPACES, adjustCapabilities, embeddedDefault, exec, execAsync, rootfsContainer, type Container } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run, spawnCli } from './helpers.js';

const sh = (script: string, o: Partial<Container> = {}) => rootfsContainer(ROOTFS, { args: ['/bin/sh', '-c', script], ...o });
const bit = (n: number) => 1n << BigInt(n);
const NET_BIND_SERVICE = 10;
const statusCaps = async (c: Container) => parseStatusCapabilities((await run(c)).stdout);

/** Can the process bind TCP port 80? busybox nc exits at once when bind() fails. */
const BIND_80 = 'nc -l -p 80 2>/dev/shm/err & sleep 0.2; if kill $! 2>/dev/null; then echo bound; else cat /dev/shm/err; fi';

describe.skipIf(!isRoot || !ROOTFS)('process security context (as root)', () => {
  const before = hostMounts();
  afterAll(() => expect(hostMounts()).toEqual(before));

  it('applies all five capability sets for root', async () => {
    const caps = await statusCaps(
      sh('cat /proc/self/status', {
        capabilitySets: {
          bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
          effective: ['CAP_KILL'],
          permitted: ['CAP_KILL', 'CAP_CHOWN'],
          inheritable: ['CAP_KILL'],
          ambient: ['CAP_KILL'],
        },
      }),
    );
    // After execve, root's permitted set is the bounding set (a root process gets all
    // file capabilities), and the effective set follows it.
    expect(caps.bounding).toBe(toMask(['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']));
    expect(caps.inheritable).toBe(toMask(['CAP_KILL']));
    expect(caps.ambient).toBe(toMask(['CAP_KILL']));
  });

  it('gives a non-root user an ambient capability that holds after execve: binding port 80 works', async () => {
    const sets = { bounding: ['CAP_NET_BIND_SERVICE'], permitted: ['CAP_NET_BIND_SERVICE'], inheritable: ['CAP_NET_BIND_SERVICE'], ambient: ['CAP_NET_BIND_SERVICE'] };
    const caps = await statusCaps(sh('cat /proc/self/status', { user: 'alice', capabilitySets: { ...sets, effective: ['CAP_NET_BIND_SERVICE'] } }));
    expect(caps.ambient).toBe(bit(NET_BIND_SERVICE));
    expect(caps.effective).toBe(bit(NET_BIND_SERVICE));
    expect(caps.permitted).toBe(bit(NET_BIND_SERVICE));
    const bound = await run(sh(BIND_80, { user: 'alice', capabilitySets: sets }));
    expect(bound.stdout).toBe('bound\n');
  });

  it('without the ambient capability a non-root user cannot bind port 80', async () => {
    const r = await run(sh(BIND_80, { user: 'alice' }));
    expect(r.stdout).toMatch(/Permission denied/);
    const caps = await statusCaps(sh('cat /proc/self/status', { user: 'alice' }));
    expect(caps.effective).toBe(0n);
    expect(caps.ambient).toBe(0n);
  });

  it('--cap-add for a non-root user goes into the ambient set too (as podman)', async () => {
    const c = adjustCapabilities(sh(BIND_80, { user: 'alice' }), { add: ['NET_BIND_SERVICE'], drop: ['ALL'] });
    expect(c.capabilitySets!.ambient).toEqual(['CAP_NET_BIND_SERVICE']);
    expect((await run(c)).stdout).toBe('bound\n');
    const root = adjustCapabilities(sh('true'), { add: ['NET_ADMIN'] });
    expect(root.capabilitySets!.ambient).toEqual([]);
    expect(root.capabilitySets!.bounding).toContain('CAP_NET_ADMIN');
  });

  it('leaves out unknown capabilities and ones the kernel does not know (as runc), warning with their path', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const bounding = ['CAP_CHOWN', 'CAP_BOGUS', 'CAP_KILL', 'CAP_CHECKPOINT_RESTORE'];
      const caps = await statusCaps(sh('cat /proc/self/status', { capabilitySets: { bounding } }));
      // Less, never more: the process holds exactly the known ones the kernel has.
      const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
      const known = ['CAP_CHOWN', 'CAP_KILL', ...(last >= 40 ? ['CAP_CHECKPOINT_RESTORE'] : [])];
      expect(caps.bounding).toBe(toMask(known));
      expect(caps.effective).toBe(toMask(known));
      expect(warn.mock.calls.map((c) => c[0])).toEqual([
        'capabilitySets.bounding[1]: unknown capability "CAP_BOGUS", ignored',
        ...(last >= 40 ? [] : [`capabilitySets.bounding[3]: CAP_CHECKPOINT_RESTORE is not known to the running kernel (cap_last_cap is ${last}), ignored`]),
      ]);
      expect(warn.mock.calls.every((c) => (c[1] as { code?: string }).code === 'NS_UNKNOWN_CAPABILITY')).toBe(true);
      // A malformed entry stays an error.
      expect(() => exec(sh('true', { capabilitySets: { bounding: ['CAP_KILL', 7 as unknown as string] } }))).toThrow(
        expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'capabilitySets.bounding[1]' }),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('leaves out, with a warning, a capability outside its own bounding set instead of failing capset (runtime-tools process_capabilities)', async () => {
    // Every capability the kernel knows, as `podman --privileged` or runtime-tools'
    // SetupPrivileged ask: on a host whose runtime lacks one (CAP_SYS_RESOURCE here), capset
    // failed with EPERM; the spec (1.2) says log a warning and do not fail.
    const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
    const all = Array.from({ length: last + 1 }, (_, n) => n);
    const own = parseStatusCapabilities(readFileSync('/proc/self/status', 'utf8')).bounding;
    const names = all.map((n) => formatCapability(n));
    const sets = { bounding: names, effective: names, permitted: names };
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const caps = await statusCaps(sh('cat /proc/self/status', { capabilitySets: sets }));
      const expected = all.reduce((m, n) => m | bit(n), 0n) & own;
      expect(caps.bounding).toBe(expected);
      expect(caps.effective).toBe(expected);
      const missing = all.filter((n) => !((own >> BigInt(n)) & 1n));
      expect(warn.mock.calls.map((c) => c[0])).toEqual(
        ['bounding', 'effective', 'permitted'].flatMap((set) => missing.map((n) => `capabilitySets.${set}[${n}]: ${formatCapability(n)} is not in the bounding set of the ns process, so no process it starts can hold it, ignored`)),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('shows NoNewPrivs: 1 with noNewPrivileges', async () => {
    expect((await run(sh('grep NoNewPrivs /proc/self/status', { noNewPrivileges: true }))).stdout).toBe('NoNewPrivs:\t1\n');
  });

  it('sets oom_score_adj', async () => {
    expect((await run(sh('cat /proc/self/oom_score_adj', { oomScoreAdj: 123 }))).stdout).toBe('123\n');
  });

  it.skipIf(hasSysResource())('an oom_score_adj below the runtime\'s without CAP_SYS_RESOURCE fails naming the field (containerd asks -998 for a pod sandbox)', () => {
    expect(() => exec(sh('true', { oomScoreAdj: -998 }))).toThrow('write /proc/self/oom_score_adj (oomScoreAdj): EACCES');
  });

  it('writes namespaced sysctls inside and leaves the host alone; refuses the others', async () => {
    const host = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const r = await run(sh('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni', { sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1234' } }));
    expect(r.stdout).toBe('1\n1234\n');
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(host);
    expect(() => exec(sh('true', { sysctl: { 'kernel.panic': '1' } }))).toThrow('sysctl.kernel.panic: not a namespaced sysctl (setting it would change the host)');
    const hostNet = DEFAULT_NAMESPACES.filter((n) => n.type !== 'network');
    expect(() => exec(sh('true', { namespaces: hostNet, sysctl: { 'net.ipv4.ip_forward': '1' } }))).toThrow(/needs a new network namespace/);
  });

  it('masked paths read empty, read-only paths refuse writes', async () => {
    // /proc/keys (a file: /dev/null over it) and /sys/firmware (a directory: empty tmpfs).
    expect(readFileSync('/proc/keys', 'utf8').length).toBeGreaterThan(0);
    const r = await run(sh('wc -c < /proc/keys; ls -A /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname || echo refused'));
    expect(r.stdout).toBe('0\n0\nrefused\n');
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  it('runs in a user namespace with the configured mappings', async () => {
    const map = [{ containerID: 0, hostID: 200000, size: 65536 }];
    const userns = { namespaces: [...DEFAULT_NAMESPACES, { type: 'user' as const }], uidMappings: map, gidMappings: map };
    const r = await run(sh('cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g', userns));
    expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0 200000 65536', '0 200000 65536', '0', '0', '']);
    const p = exec(sh('sleep 5', userns), { stdio: 'ignore' });
    try {
      // Seen from the host, the container's root is uid 200000.
      expect(readFileSync(`/proc/${p.pid}/status`, 'utf8')).toMatch(/^Uid:\s+200000\s/m);
    } finally {
      p.kill('SIGKILL');
      await p.wait();
    }
    const alice = await run(sh('id', { ...userns, user: 'alice' }));
    expect(alice.stdout).toBe('uid=1000(alice) gid=1000(alice) groups=10(wheel),100(users)\n');
  });

  it('execAsync writes the id maps from the event loop (user namespace sync step)', async () => {
    const map = [{ containerID: 0, hostID: 300000, size: 65536 }];
    const p = await execAsync(sh('cat /proc/self/uid_map; id -u', { namespaces: [...DEFAULT_NAMESPACES, { type: 'user' }], uidMappings: map, gidMappings: map }), {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await p.wait();
    expect(out.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0 300000 65536', '0', '']);
  });

  it('refuses a user that is not mapped, before anything starts', () => {
    const map = [{ containerID: 0, hostID: 200000, size: 10 }];
    const c = sh('id', { user: 'alice', namespaces: [...DEFAULT_NAMESPACES, { type: 'user' }], uidMappings: map, gidMappings: map });
    expect(() => exec(c)).toThrow('user: uid 1000 is not mapped in uidMappings (0 200000 10)');
  });
});

describe.skipIf(!isRoot || !ROOTFS)('rootless: ns as the unprivileged user nobody (setpriv)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-rootless-'));
    chmodSync(dir, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Run a script calling the library as nobody:nogroup and return its output. */
  function asNobody(body: string): { stdout: string; stderr: string; status: number | null } {
    const index = new URL('../dist/index.js', import.meta.url).href;
    const file = join(dir, `s${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(file, `import * as ns from ${JSON.stringify(index)};\nconst ROOTFS = ${JSON.stringify(ROOTFS)};\n${body}\n`);
    chmodSync(file, 0o644);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, file], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return { stdout: r.stdout, stderr: r.stderr, status: r.status };
  }

  const script = (container: string) => `
    const p = ns.exec(${container}, { stdio: 'inherit' });
    const { exitCode } = await p.wait();
    process.exitCode = exitCode ?? 99;`;

  it('the embedded default runs, and the process is root inside', () => {
    const r = asNobody(script(`ns.embeddedDefault({ args: ['/bin/sh', '-c', 'id -u; cat /proc/self/uid_map; echo $$; hostname'] })`));
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0', '0 65534 1', '1', 'ns', '']);
    expect(r.status).toBe(0);
  });

  it('a busybox rootfs runs, with the host device nodes bound in', () => {
    const r = asNobody(script(`ns.rootfsContainer(ROOTFS, { args: ['/bin/sh', '-c', 'id; echo x > /dev/null && echo null-ok; ls /dev/pts'] })`));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    expect(r.stdout).toContain('null-ok');
    expect(r.status).toBe(0);
  });

  it('the ns CLI runs rootless too: `ns run -- id` says root inside', () => {
    const bin = new URL('../../cli/dist/bin.js', import.meta.url).pathname;
    const xdg = join(dir, 'xdg'); // nobody's runtime dir: the state goes to $XDG_RUNTIME_DIR/ns
    mkdirSync(xdg, { mode: 0o700 });
    chownSync(xdg, 65534, 65534);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, 'run', '--', '/bin/sh', '-c', 'id -u; cat /proc/self/uid_map'], {
      encoding: 'utf8',
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', XDG_RUNTIME_DIR: xdg },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0', '0 65534 1', '']);
    expect(r.status).toBe(0);
    expect(readdirSync(join(xdg, 'ns'))).toEqual([]); // the foreground container's state is gone
  });

  it('the rootless lifecycle through the CLI: run -d, exec (joins the user namespace), kill, delete', () => {
    const bin = new URL('../../cli/dist/bin.js', import.meta.url).pathname;
    const xdg = join(dir, 'xdg-life');
    mkdirSync(xdg, { mode: 0o700 });
    chownSync(xdg, 65534, 65534);
    const ns = (...args: string[]) =>
      spawnCli('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, ...args], {
        cliArgs: args,
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', XDG_RUNTIME_DIR: xdg },
      });
    const run = ns('run', '-d', '--rootfs', ROOTFS, 'rl', '--', 'sleep', '30');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    try {
      const ex = ns('exec', 'rl', '--', 'sh', '-c', 'id -u; echo $$; cat /proc/self/uid_map');
      expect(ex.stderr).toBe('');
      expect(ex.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0', '2', '0 65534 1', '']);
      expect(ns('kill', 'rl', 'KILL').status).toBe(0);
    } finally {
      ns('delete', '-f', 'rl');
    }
    expect(readdirSync(join(xdg, 'ns'))).toEqual([]);
  });

  it('an unmapped user fails with a clear error', () => {
    const r = asNobody(`try { ns.exec(ns.rootfsContainer(ROOTFS, { user: 'alice', args: ['id'] })); } catch (e) { console.log(e.code, e.message); }`);
    expect(r.stdout).toBe('ERR_NS_CONFIG user: uid 1000 is not mapped in uidMappings (0 65534 1)\n');
  });
});

describe('embedded default readonly paths (as root)', () => {
  it.skipIf(!isRoot)('keeps /proc/sys read-only', async () => {
    const r = await run(embeddedDefault({ args: ['/bin/sh', '-c', 'echo x > /proc/sys/kernel/hostname'] }));
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
  });
});

/** Whether this process has CAP_SYS_RESOURCE (not on the machines this project is tested on). */
function hasSysResource(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'))!;
  return (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << 24n)) !== 0n;
}
