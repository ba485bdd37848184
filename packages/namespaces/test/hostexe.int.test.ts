// Issue 21 (CVE-2019-5736 class): nothing in a container reaches the node binary that runs the
// runtime, nor the creator's memory or environment. The runtime runs from a COPY of node (a
// temporary file): an attack that works damages only the copy, and its hash tells.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLONE, spawn as nsSpawn, type Step } from '@ns/syscalls';
import { parseStatusCapabilities } from '@ns/capabilities';
import { StateStore, capabilitySetsOf, deleteContainer, processSteps, rootfsContainer, runContainer, stdioSteps, validatedContainer } from '../src/index.js';
import { execInSteps } from '../src/process/execin.js';
import { ROOTFS, hostMounts, isRoot, spawnCli } from './helpers.js';

/** What spawnCli() returns. */
type CliResult = ReturnType<typeof spawnCli>;

const CLI = new URL('../../cli/dist/ns.cjs', import.meta.url).pathname;
const INIT_EXE = '/memfd:ns-init (deleted)';
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!isRoot || !ROOTFS)('the host node stays out of reach (CVE-2019-5736 class)', () => {
  let work: string;
  let nodeCopy: string;
  let hash: string;
  let rootfs: string;
  let state: string;
  const before = hostMounts();
  const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ns-hostexe-'));
    chmodSync(work, 0o755);
    nodeCopy = join(work, 'node');
    copyFileSync(process.execPath, nodeCopy);
    chmodSync(nodeCopy, 0o755);
    hash = sha(nodeCopy);
    // A rootfs in which node itself could run (its loader and libraries), as any distribution
    // rootfs: there, a route to the host's node would run it as root in the container.
    rootfs = join(work, 'rootfs');
    cpSync(ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    const libs = spawnSync('ldd', [process.execPath], { encoding: 'utf8' }).stdout.match(/\/\S+/g) ?? [];
    for (const lib of libs) {
      if (!existsSync(lib)) continue;
      mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(rootfs, lib));
    }
    writeFileSync(join(rootfs, 'evil.sh'), "#!/proc/self/exe\nconsole.log('node-ran')\n", { mode: 0o755 });
    state = join(work, 'state');
  });

  afterAll(async () => {
    const store = new StateStore(state);
    for (const id of existsSync(state) ? store.list() : []) await deleteContainer(store, id, { force: true }).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    expect(hostMounts()).toEqual(before);
  });

  /** `ns --root <state> ARGS...` run by the copy of node, with the secret in its environment. */
  const ns = (args: string[], env: NodeJS.ProcessEnv = {}): CliResult =>
    spawnCli(nodeCopy, [CLI, '--root', state, ...args], {
      cliArgs: args,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NS_TEST_SECRET: secret, NS_COMPILE_CACHE: '0', ...env },
      timeout: 20_000,
    });

  /** What ran was ns-init refusing to work, never node. */
  function expectInitRefused(r: CliResult): void {
    expect(r.stdout).not.toContain('node-ran');
    expect(r.stderr).toContain('ns-init: this is the set-up helper of @ns containers');
    expect(r.status).toBe(127);
    expect(sha(nodeCopy)).toBe(hash);
  }

  it('run: an argv[0] of /proc/self/exe reaches only ns-init', () => {
    expectInitRefused(ns(['run', '--rootfs', rootfs, 'self1', '--', '/proc/self/exe', '-e', "console.log('node-ran')"]));
  });

  it('run: a #!/proc/self/exe script reaches only ns-init', () => {
    expectInitRefused(ns(['run', '--rootfs', rootfs, 'self2', '--', '/evil.sh']));
  });

  it('exec (execIn): a #!/proc/self/exe script and an argv[0] of /proc/self/exe reach only ns-init', () => {
    expect(ns(['run', '-d', '--rootfs', rootfs, 'ex1', '--', 'sleep', '60']).status).toBe(0);
    try {
      expectInitRefused(ns(['exec', 'ex1', '--', '/evil.sh']));
      expectInitRefused(ns(['exec', 'ex1', '--', '/proc/self/exe', '-e', "console.log('node-ran')"]));
    } finally {
      ns(['delete', '-f', 'ex1']);
    }
  });

  /** In the container: what pid 1 gives away. Runs as the container's root. */
  const PROBE = `
    readlink /proc/1/exe 2>/dev/null || echo exe-denied
    if cat /proc/1/environ >/dev/null 2>&1; then
      if grep -q ${secret} /proc/1/environ; then echo environ-secret; else echo environ-clean; fi
    else echo environ-denied; fi
    if grep -q ${secret} /proc/1/cmdline 2>/dev/null; then echo cmdline-secret; fi
    found=0
    if [ -r /proc/1/maps ] && (exec 4</proc/1/mem) 2>/dev/null; then
      while read range perms rest; do
        case $perms in r*) ;; *) continue ;; esac
        start=$((0x\${range%-*})); end=$((0x\${range#*-}))
        dd if=/proc/1/mem bs=4096 skip=$((start / 4096)) count=$(((end - start) / 4096)) 2>/dev/null | grep -q ${secret} && found=1
      done < /proc/1/maps
      echo mem-read found=$found
    else echo mem-denied; fi
    if (echo pwned >> /proc/1/exe) 2>/dev/null; then echo exe-written; else echo exe-write-failed; fi
  `;

  it('create, then exec before start: pid 1 is ns-init, and its exe, environ, cmdline and memory give nothing away', () => {
    const created = ns(['create', '--rootfs', rootfs, 'cr1', '--', 'sleep', '60']);
    expect(created.stderr).toBe('');
    try {
      const pid = Number(JSON.parse(ns(['state', 'cr1']).stdout).pid);
      expect(readlinkSync(`/proc/${pid}/exe`)).toBe(INIT_EXE);
      // It holds nothing of the host's: its stdio and the exec FIFO, no pipe to the creator,
      // no pidfd of it, no memfd (regression: the plan's and ns-init's own were kept).
      const fds = readdirSync(`/proc/${pid}/fd`).sort((a, b) => Number(a) - Number(b));
      expect(fds.slice(0, 3)).toEqual(['0', '1', '2']);
      expect(fds.slice(3).map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`))).toEqual([join(state, 'cr1', 'exec.fifo')]);
      // The container's root with the default capabilities: pid 1 is not dumpable.
      const plain = ns(['exec', 'cr1', '--', 'sh', '-c', PROBE]);
      expect(plain.stdout.split('\n').filter(Boolean)).toEqual(['exe-denied', 'environ-denied', 'mem-denied', 'exe-write-failed']);
      // Even with CAP_SYS_PTRACE (a privileged container): a sealed ns-init and nothing of the creator.
      const traced = ns(['exec', '--cap-add', 'SYS_PTRACE', 'cr1', '--', 'sh', '-c', PROBE]);
      expect(traced.stdout.split('\n').filter(Boolean)).toEqual([INIT_EXE, 'environ-clean', 'mem-read found=0', 'exe-write-failed']);
      expect(ns(['start', 'cr1']).status).toBe(0);
    } finally {
      ns(['delete', '-f', 'cr1']);
    }
    expect(sha(nodeCopy)).toBe(hash);
  });

  it('a descriptor of pid 1 exe kept across start cannot be reopened for writing', async () => {
    expect(ns(['create', '--rootfs', rootfs, 'cr2', '--', 'sleep', '60']).status).toBe(0);
    try {
      // Keep the exe open, wait until start has exec'd the program, then write through the
      // kept descriptor (the attack of CVE-2019-5736 on runc's own binary).
      const keep = `
        exec 3</proc/1/exe || exit 3
        echo armed
        while [ "$(readlink /proc/1/exe)" = "${INIT_EXE}" ]; do sleep 0.05; done
        if (echo pwned >> /proc/self/fd/3) 2>/dev/null; then echo wrote; else echo write-failed; fi`;
      const attacker = spawn(nodeCopy, [CLI, '--root', state, 'exec', '--cap-add', 'SYS_PTRACE', 'cr2', '--', 'sh', '-c', keep], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NS_COMPILE_CACHE: '0' },
      });
      let out = '';
      attacker.stdout.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 200 && !out.includes('armed'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(out).toBe('armed\n');
      expect(ns(['start', 'cr2']).status).toBe(0);
      await new Promise((r) => attacker.once('exit', r));
      expect(out).toBe('armed\nwrite-failed\n');
    } finally {
      ns(['delete', '-f', 'cr2']);
    }
    expect(sha(nodeCopy)).toBe(hash);
  });

  it('execIn: the process joining a container is ns-init, with no environment, out of reach of the container', () => {
    const store = new StateStore(state);
    const { state: running } = runContainer(rootfsContainer(rootfs, { id: 'join1', args: ['sleep', '60'] }), { store, stdio: 'ignore', detached: true });
    const fds: number[] = [];
    try {
      const joins: Step[] = [];
      for (const [name, flag] of [['ipc', CLONE.NEWIPC], ['uts', CLONE.NEWUTS], ['net', CLONE.NEWNET], ['pid', CLONE.NEWPID], ['mnt', CLONE.NEWNS]] as const) {
        const fd = openSync(`/proc/${running.pid}/ns/${name}`, 'r');
        fds.push(fd);
        joins.push({ op: 'setns', fd, nstype: flag });
      }
      const seen: string[] = [];
      const child = nsSpawn(
        {
          cloneFlags: 0,
          steps: [...joins, { op: 'cloneParent' }, { op: 'sync', name: 'probe' }, { op: 'closeFrom', first: 3 }, { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }],
        },
        {
          onSync: (_step, _index, pid) => {
            // While it waits inside the container's namespaces, before its execve:
            seen.push(readlinkSync(`/proc/${pid}/exe`));
            seen.push(JSON.stringify(readFileSync(`/proc/${pid}/environ`, 'utf8')));
            const nspid = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^NSpid:.*\s(\d+)$/m)![1];
            const probe = ns(['exec', 'join1', '--', 'sh', '-c', `readlink /proc/${nspid}/exe || echo exe-denied; cat /proc/${nspid}/environ >/dev/null 2>&1 || echo environ-denied`]);
            seen.push(...probe.stdout.split('\n').filter(Boolean));
          },
        },
      );
      expect(seen).toEqual([INIT_EXE, '""', 'exe-denied', 'environ-denied']);
      return child.exited.then((s) => expect(s.exitCode).toBe(0));
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });

  it('execIn: the process that enters the container holds only its credentials and capabilities, none of the runtime (CAP_SYS_PTRACE containers could trace it)', async () => {
    const store = new StateStore(state);
    const { state: running } = runContainer(rootfsContainer(rootfs, { id: 'join2', args: ['sleep', '60'] }), { store, stdio: 'ignore', detached: true });
    const fds: number[] = [];
    try {
      const joins: Step[] = [];
      for (const [name, flag] of [['ipc', CLONE.NEWIPC], ['uts', CLONE.NEWUTS], ['net', CLONE.NEWNET], ['pid', CLONE.NEWPID], ['mnt', CLONE.NEWNS]] as const) {
        const fd = openSync(`/proc/${running.pid}/ns/${name}`, 'r');
        fds.push(fd);
        joins.push({ op: 'setns', fd, nstype: flag });
      }
      // The plan execIn() runs for `ns exec -u alice join2 -- true`, paused right after the fork.
      const c = validatedContainer(rootfsContainer(rootfs, { user: 'alice', args: ['/bin/true'] }));
      const io = { stdio: [0, 1, 2] };
      const steps = execInSteps(joins, stdioSteps(io), processSteps(c, io).steps);
      const fork = steps.findIndex((s) => s.op === 'cloneParent');
      steps.splice(fork + 1, 0, { op: 'sync', name: 'probe' });
      let status = '';
      let held: string[] = [];
      const child = nsSpawn(
        { cloneFlags: 0, steps },
        {
          onSync: (_s, _i, pid) => {
            status = readFileSync(`/proc/${pid}/status`, 'utf8');
            held = readdirSync(`/proc/${pid}/fd`).map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
          },
        },
      );
      expect((await child.exited).exitCode).toBe(0);
      // alice, with the container's capability sets (Docker's defaults, which a non-root user
      // loses at execve), not the runtime's (it had every one until the fork: regression).
      const mask = (set: string) => BigInt(`0x${status.match(new RegExp(`^${set}:\\s+([0-9a-f]+)$`, 'm'))![1]}`);
      const config = capabilitySetsOf(c);
      expect(status).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
      expect([mask('CapEff'), mask('CapPrm'), mask('CapBnd')]).toEqual([config.effective, config.permitted, config.bounding]);
      expect(mask('CapBnd')).not.toBe(parseStatusCapabilities(readFileSync('/proc/self/status', 'utf8')).bounding);
      // No pidfd of the creator, no memfd (the plan's, ns-init's), no namespace descriptor.
      expect(held.filter((l) => /pidfd|memfd|:\[4026/.test(l) || l.startsWith('/proc/'))).toEqual([]);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });

  describe('rootless (as nobody)', () => {
    let xdg: string;
    beforeAll(() => {
      xdg = join(work, 'xdg');
      mkdirSync(xdg, { mode: 0o700 });
      chownSync(xdg, 65534, 65534);
    });
    afterAll(() => {
      nobody(['delete', '-f', 'rl1']);
    });
    const nobody = (args: string[]) =>
      spawnCli('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', nodeCopy, CLI, ...args], {
        cliArgs: args,
        cwd: work,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', XDG_RUNTIME_DIR: xdg, NS_TEST_SECRET: secret, NS_COMPILE_CACHE: '0' },
        timeout: 20_000,
      });

    it('run: /proc/self/exe and a #!/proc/self/exe script reach only ns-init', () => {
      expectInitRefused(nobody(['run', '--rootfs', rootfs, '--', '/proc/self/exe', '-e', "console.log('node-ran')"]));
      expectInitRefused(nobody(['run', '--rootfs', rootfs, '--', '/evil.sh']));
    });

    it('create, then exec before start: pid 1 gives nothing away', () => {
      const created = nobody(['create', '--rootfs', rootfs, 'rl1', '--', 'sleep', '60']);
      expect(created.stderr).toBe('');
      // The creator (owner of the user namespace) may join it before start (a reexec step
      // gave ns-init's memory to that namespace); the container's root may not look at it.
      const plain = nobody(['exec', 'rl1', '--', 'sh', '-c', PROBE]);
      expect(plain.stderr).toBe('');
      expect(plain.stdout.split('\n').filter(Boolean)).toEqual(['exe-denied', 'environ-denied', 'mem-denied', 'exe-write-failed']);
      // With CAP_SYS_PTRACE in its user namespace it may: a sealed ns-init, nothing of the creator.
      const traced = nobody(['exec', '--cap-add', 'SYS_PTRACE', 'rl1', '--', 'sh', '-c', PROBE]);
      expect(traced.stdout.split('\n').filter(Boolean)).toEqual([INIT_EXE, 'environ-clean', 'mem-read found=0', 'exe-write-failed']);
      expect(nobody(['delete', '-f', 'rl1']).status).toBe(0);
      expect(sha(nodeCopy)).toBe(hash);
    });
  });
});
