/**
 * Issue 15, the published container-escape classes of runc, against @ns:
 * - CVE-2019-16884 / CVE-2021-30465: mount races. A mount's destination is swapped for a
 *   symlink (renameat2 RENAME_EXCHANGE, fixtures/hostile/swap.c) while set-up runs: 200
 *   starts against a swapper loop. No mount, directory or file may land outside the rootfs,
 *   nor over the container's /proc.
 * - CVE-2024-21626: a leaked working-directory descriptor. The runtime is given host directory
 *   descriptors without close-on-exec (as runc leaked one of /sys/fs/cgroup) and a cwd of
 *   `/proc/self/fd/N`: the process must never get a working directory, or a descriptor, of
 *   the host's.
 * - CVE-2023-27561 (and CVE-2019-19921): /proc over symlinks. A rootfs whose /proc is a
 *   symlink, so that the proc mount lands elsewhere: wherever procfs shows up in the
 *   container, the masked and read-only paths hold.
 * - CVE-2025-31133: /dev/null redirected. With the rootfs' own /dev (a config without a /dev
 *   tmpfs), masked paths are bound from the container's /dev/null: a symlink there to
 *   /proc/sys/kernel/core_pattern must not turn a masked path into a writable view of the
 *   host's core_pattern, and a dangling one must not leave the paths unmasked.
 * CVE-2019-5736 (/proc/self/exe) is hostexe.int.test.ts. Each case is refused or contained,
 * and the host decoy, the host's mount table and this process's children are as before.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, exec, rootfsContainer, type MountConfig } from '../src/index.js';
import { ROOTFS, isRoot } from './helpers.js';
import { childrenSettle, copyRootfs, hostMountsFor, outcome, snapshot, type Outcome } from './hostile-helpers.js';

const CLI = new URL('../../cli/dist/ns.cjs', import.meta.url).pathname;
const SWAP_C = new URL('./fixtures/hostile/swap.c', import.meta.url).pathname;
const hasCc = spawnSync('cc', ['--version']).status === 0;
const sh = (script: string) => ['/bin/sh', '-c', script];
/** A clear refusal: an errno name or one of the project's codes. */
const expectClear = (o: Outcome) => o.kind === 'refused' && expect(o.code).toMatch(/^(E[A-Z0-9]+|ERR_NS_[A-Z_]+)$/);
const defaults = (): MountConfig[] => DEFAULT_MOUNTS.map((m) => ({ ...m, options: [...(m.options ?? [])] }));

/** In the container: is the root reached by climbing from the cwd the container's own? Which fds does a process hold? */
const CWD_PROBE = `a=$(stat -c %d:%i /); p=.; for i in $(seq 40); do p=$p/..; done; b=$(stat -c %d:%i $p)
[ "$a" = "$b" ] && echo root-ok || echo ESCAPED; echo "fds: $(ls /proc/self/fd | tr '\\n' ' ')"`;

describe.skipIf(!isRoot || !ROOTFS)('runc escape classes (as root)', () => {
  let work: string;
  let decoy: string;
  let mountsBefore: string[];
  const tally: Record<string, number> = {};
  const samples: Record<string, string> = {};
  const count = (key: string, message = '') => {
    tally[key] = (tally[key] ?? 0) + 1;
    samples[key] ??= message;
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ns-cve-'));
    decoy = join(work, 'host-decoy');
    mkdirSync(decoy);
    writeFileSync(join(decoy, 'canary'), 'canary\n');
    mountsBefore = hostMountsFor(work);
  });
  afterAll(() => {
    try {
      expect(hostMountsFor(work)).toEqual(mountsBefore);
    } finally {
      rmSync(work, { recursive: true, force: true });
      if (process.env.NS_TEST_TIMINGS) console.log(JSON.stringify({ tally, samples }, null, 1));
    }
  });

  describe.skipIf(!hasCc)('CVE-2019-16884 / CVE-2021-30465: a mount destination swapped for a symlink during set-up', () => {
    let swapBin: string;
    beforeAll(() => {
      swapBin = join(work, 'swap');
      const cc = spawnSync('cc', ['-O2', '-o', swapBin, SWAP_C], { encoding: 'utf8' });
      expect(cc.stderr).toBe('');
    });

    // Where the symlink swapped in points: the host through /oldroot (absolute and relative:
    // set-up runs between two pivot_roots with the host at /oldroot), the host by its own
    // path, and the container's /proc.
    const targets = (d: string) => [`/oldroot${d}`, `../oldroot${d}`, `../../../../../../..${d}`, '/proc'];
    const STARTS = 200;

    it(`${STARTS} starts against a swapper loop: nothing lands outside the rootfs or over /proc`, async () => {
      const r = copyRootfs(ROOTFS, join(work, 'race'));
      const src = join(work, 'race-src');
      writeFileSync(src, 'marker\n');
      const before = snapshot(decoy, work);
      const list = targets(decoy);
      for (const [k, target] of list.entries()) {
        rmSync(join(r, 'dst'), { recursive: true, force: true });
        rmSync(join(r, 'dst.swap'), { recursive: true, force: true });
        mkdirSync(join(r, 'dst'));
        symlinkSync(target, join(r, 'dst.swap'));
        const swapper = spawn(swapBin, [join(r, 'dst'), join(r, 'dst.swap')], { stdio: ['ignore', 'pipe', 'inherit'] });
        try {
          await new Promise<void>((resolve, reject) => {
            swapper.stdout.once('data', () => resolve());
            swapper.once('exit', (code) => reject(new Error(`swapper exited ${code}`)));
          });
          const mounts = [
            ...defaults(),
            { destination: '/dst/sub/file', type: 'bind', source: src, options: ['bind'] },
            { destination: '/dst/t/u', type: 'tmpfs', source: 'tmpfs' },
          ];
          const probe = 'cat /dst/sub/file 2>/dev/null; awk \'$5=="/proc"\' /proc/self/mountinfo | tail -1 | grep -q " - proc " && echo procok';
          const n = k < list.length - 1 ? Math.floor(STARTS / list.length) : STARTS - Math.floor(STARTS / list.length) * (list.length - 1);
          for (let i = 0; i < n; i++) {
            const o = await outcome(rootfsContainer(r, { args: sh(probe), mounts }));
            const to = target.startsWith('/proc') ? '/proc' : 'host';
            count(o.kind === 'refused' ? `race ${to}: refused ${o.code}` : `race ${to}: ran`, o.kind === 'refused' ? o.message : o.stdout);
            expectClear(o);
            if (o.kind === 'ran') expect(o.stdout).toMatch(/(^|\n)procok\n$/);
          }
        } finally {
          swapper.kill('SIGKILL'); // the swapper this test started
          await new Promise((resolve) => (swapper.exitCode !== null || swapper.signalCode !== null ? resolve(null) : swapper.once('exit', resolve)));
        }
        expect(snapshot(decoy, work).decoy).toBe(before.decoy);
      }
      expect(await childrenSettle(before.children)).toEqual([]);
      expect(snapshot(decoy, work)).toEqual(before);
      expect(readdirSync(decoy)).toEqual(['canary']);
    }, 300_000);
  });

  describe('CVE-2024-21626: a leaked directory descriptor and a cwd of /proc/self/fd/N', () => {
    const FDS = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    /** bash opening `decoy` on every fd of FDS without close-on-exec, then exec'ing `ns ARGS...` (it inherits them). */
    const leaky = (args: string[]) => {
      const opens = FDS.map((fd) => `exec ${fd}<"$D"`).join('; ');
      return spawnSync('bash', ['-c', `${opens}; exec "$@"`, 'bash', process.execPath, CLI, '--root', join(work, 'state'), ...args], {
        encoding: 'utf8',
        env: { ...process.env, D: decoy },
        timeout: 20_000,
      });
    };

    it('ns run --cwd /proc/self/fd/N with host directories leaked to ns: refused, or the cwd is the container\'s', () => {
      const r = copyRootfs(ROOTFS, join(work, 'cwd-run'));
      const before = snapshot(decoy, work);
      for (const n of [0, 1, 2, ...FDS]) {
        const p = leaky(['run', '--rootfs', r, '--cwd', `/proc/self/fd/${n}`, '--', 'sh', '-c', CWD_PROBE]);
        expect(p.signal).toBeNull();
        count(p.status === 125 ? 'cwd fd run: refused' : 'cwd fd run: ran', p.stderr);
        if (p.status === 125) expect(p.stderr).toMatch(/^ns: [^\n]*\/proc\/self\/fd[^\n]*\n$/);
        else expect({ status: p.status, stdout: p.stdout }).toEqual({ status: 0, stdout: 'root-ok\nfds: 0 1 2 3 \n' });
      }
      // And the process itself, from ns run without --cwd: the leaked descriptors are not its.
      const plain = leaky(['run', '--rootfs', r, '--', 'sh', '-c', CWD_PROBE]);
      expect(plain.stdout).toBe('root-ok\nfds: 0 1 2 3 \n');
      expect(snapshot(decoy, work)).toEqual(before);
    });

    it('ns exec --cwd /proc/self/fd/N into a running container, with host directories leaked to ns', () => {
      const r = copyRootfs(ROOTFS, join(work, 'cwd-exec'));
      const before = snapshot(decoy, work);
      // The detached container's output to /dev/null: with runc's pass-through it would keep
      // this spawnSync's pipes open until it ends.
      expect(leaky(['run', '-d', '--stdout', '/dev/null', '--stderr', '/dev/null', '--rootfs', r, 'cve21626', '--', 'sleep', '60']).status).toBe(0);
      try {
        for (const n of [0, 1, 2, ...FDS]) {
          const p = leaky(['exec', '--cwd', `/proc/self/fd/${n}`, 'cve21626', '--', 'sh', '-c', CWD_PROBE]);
          expect(p.signal).toBeNull();
          count(p.status === 125 ? 'cwd fd exec: refused' : 'cwd fd exec: ran', p.stderr);
          if (p.status === 125) expect(p.stderr).toMatch(/^ns: [^\n]*\/proc\/self\/fd[^\n]*\n$/);
          else expect({ status: p.status, stdout: p.stdout }).toEqual({ status: 0, stdout: 'root-ok\nfds: 0 1 2 3 \n' });
        }
        const plain = leaky(['exec', 'cve21626', '--', 'sh', '-c', CWD_PROBE]);
        expect(plain.stdout).toBe('root-ok\nfds: 0 1 2 3 \n');
      } finally {
        leaky(['delete', '-f', 'cve21626']);
      }
      expect(snapshot(decoy, work).decoy).toBe(before.decoy);
    });

    it('library exec() with cwd /proc/self/fd/N; pid 1 holds 0, 1, 2 only and its cwd and root are the rootfs', async () => {
      const r = copyRootfs(ROOTFS, join(work, 'cwd-lib'));
      const before = snapshot(decoy, work);
      for (const n of [0, 1, 2, ...FDS]) {
        const o = await outcome(rootfsContainer(r, { cwd: `/proc/self/fd/${n}`, args: sh(CWD_PROBE) }));
        count(`cwd fd library: ${o.kind}`, o.kind === 'refused' ? o.message : o.stdout);
        expectClear(o);
        if (o.kind === 'ran') expect(o.stdout).toBe('root-ok\nfds: 0 1 2 3 \n');
      }
      // Seen from the host: a running pid 1's descriptors, working directory and root.
      const p = exec(rootfsContainer(r, { args: ['sleep', '30'] }), { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        expect(readdirSync(`/proc/${p.pid}/fd`).sort()).toEqual(['0', '1', '2']);
        const rootSt = statSync(r);
        for (const link of ['cwd', 'root']) {
          const st = statSync(`/proc/${p.pid}/${link}`);
          expect([st.dev, st.ino], link).toEqual([rootSt.dev, rootSt.ino]);
        }
      } finally {
        p.kill('SIGKILL');
        await p.wait();
      }
      expect(await childrenSettle(before.children)).toEqual([]);
      expect(snapshot(decoy, work)).toEqual(before);
    });
  });

  describe('CVE-2025-31133: the container\'s /dev/null redirected while masked paths are bound from it', () => {
    // Never written to: a masked path that is the host's core_pattern is reported, not used.
    const MASK_PROBE = `for f in /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list /proc/timer_stats /proc/sched_debug; do
      [ -e $f ] || continue
      t=$(stat -c %F:%t:%T $f)
      [ "$t" = "character special file:1:3" ] || echo "UNMASKED $f ($t$(test -w $f && echo ', writable')): $(head -c 40 $f 2>&1 | head -1)"
    done; echo end`;
    /** /proc and /sys only: the rootfs' own /dev, with the trap at /dev/null. */
    const noDev = () => defaults().filter((m) => !m.destination.startsWith('/dev'));
    const layouts: [string, (r: string) => void][] = [
      ['/dev/null -> /proc/sys/kernel/core_pattern', (r) => symlinkSync('/proc/sys/kernel/core_pattern', join(r, 'dev/null'))],
      ['/dev/null -> /proc/sysrq-trigger', (r) => symlinkSync('/proc/sysrq-trigger', join(r, 'dev/null'))],
      ['/dev/null a dangling symlink', (r) => symlinkSync('/nonexistent', join(r, 'dev/null'))],
      ['/dev/null a regular file', (r) => writeFileSync(join(r, 'dev/null'), 'not null\n')],
      ['/dev/null the device /dev/zero (1:5)', (r) => expect(spawnSync('mknod', [join(r, 'dev/null'), 'c', '1', '5']).status).toBe(0)],
      ['/dev/null the real null device (1:3), the control', (r) => expect(spawnSync('mknod', [join(r, 'dev/null'), 'c', '1', '3']).status).toBe(0)],
    ];
    layouts.forEach(([name, plant], i) => {
      it(`${name}: refused, or every masked file is the null device`, async () => {
        const r = copyRootfs(ROOTFS, join(work, `devnull${i}`));
        plant(r);
        const before = snapshot(decoy, work);
        const o = await outcome(rootfsContainer(r, { args: sh(MASK_PROBE), mounts: noDev() }));
        count(`/dev/null redirected: ${o.kind === 'refused' ? `refused ${o.code}` : 'ran'}`, o.kind === 'refused' ? o.message : o.stdout);
        expectClear(o);
        if (o.kind === 'ran') expect(o.stdout).toBe('end\n');
        expect(await childrenSettle(before.children)).toEqual([]);
        expect(snapshot(decoy, work)).toEqual(before);
      });
    });
  });

  describe('CVE-2023-27561 / CVE-2019-19921: /proc over symlinks', () => {
    /** Wherever procfs shows in the container: /proc/sys and sysrq-trigger read-only, timer_list and kcore masked. */
    const PROC_PROBE = `for m in /proc /p /etc /sys /dev /tmp; do
      [ -e $m/self/stat ] || continue
      echo "procfs at $m"
      test -w $m/sys/kernel/core_pattern && echo "WRITABLE $m/sys"
      test -w $m/sysrq-trigger && echo "WRITABLE $m/sysrq-trigger"
      [ "$(head -c1 $m/timer_list 2>/dev/null | wc -c)" = 0 ] || echo "UNMASKED $m/timer_list"
    done; echo end`;
    const layouts: [string, (r: string) => void][] = [
      ['/proc -> /p (a directory of the rootfs)', (r) => (mkdirSync(join(r, 'p')), symlinkSync('/p', join(r, 'proc')))],
      ['/proc -> p (relative)', (r) => (mkdirSync(join(r, 'p')), symlinkSync('p', join(r, 'proc')))],
      ['/proc -> /etc', (r) => symlinkSync('/etc', join(r, 'proc'))],
      ['/proc -> /sys', (r) => symlinkSync('/sys', join(r, 'proc'))],
      ['/proc -> /dev (a tmpfs of the container)', (r) => symlinkSync('/dev', join(r, 'proc'))],
      ['/proc -> /tmp/../p', (r) => (mkdirSync(join(r, 'p')), symlinkSync('/tmp/../p', join(r, 'proc')))],
      ['/proc -> /p, /p -> /etc (a chain)', (r) => (symlinkSync('/etc', join(r, 'p')), symlinkSync('/p', join(r, 'proc')))],
      ['/proc a file', (r) => writeFileSync(join(r, 'proc'), '')],
    ];
    layouts.forEach(([name, plant], i) => {
      it(`${name}: refused, or the masks hold wherever procfs is`, async () => {
        const r = copyRootfs(ROOTFS, join(work, `proc${i}`));
        rmSync(join(r, 'proc'), { recursive: true });
        plant(r);
        const before = snapshot(decoy, work);
        const o = await outcome(rootfsContainer(r, { args: sh(PROC_PROBE) }));
        count(`proc symlink: ${o.kind === 'refused' ? `refused ${o.code}` : 'ran'}`, o.kind === 'refused' ? o.message : o.stdout);
        expectClear(o);
        if (o.kind === 'ran') {
          expect(o.stdout).not.toMatch(/WRITABLE|UNMASKED/);
          expect(o.stdout).toMatch(/end\n$/);
        }
        expect(await childrenSettle(before.children)).toEqual([]);
        expect(snapshot(decoy, work)).toEqual(before);
      });
    });
  });
});
