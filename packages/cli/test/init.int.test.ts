/**
 * `ns run --init` through the built CLI on the busybox rootfs (issue 13): the program runs
 * under ns's init, so signals have their default actions on it (yes | head ends with SIGPIPE,
 * not "Broken pipe"), signals sent to ns or with `ns kill` reach it, and the exit status is the
 * program's own, 128 + N for signal N, as runc and docker run --init report it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateEntries } from './leftovers.js';
import { start, type Result } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

describe.skipIf(!isRoot || !ROOTFS)('ns run --init (as root)', () => {
  let tmp: string;
  let state: string;
  const ns = (rest: string[]): Promise<Result> => start(process.execPath, [BIN, '--root', state, ...rest]).done;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ns-init-cli-'));
    state = join(tmp, 'state');
  });
  afterAll(async () => {
    const left = stateEntries(state);
    try {
      for (const id of left) await ns(['delete', '-f', id]);
      expect(left).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('ns run --init -- yes | head -1: yes dies of SIGPIPE as on the host; without --init it says "Broken pipe" and exits 1', () => {
    const pipeline = (init: string[]) =>
      spawnSync('bash', ['-c', `"$0" "$1" --root "$2" run ${init.join(' ')} --rootfs "$3" -- yes | head -1; echo "status \${PIPESTATUS[0]}"`, process.execPath, BIN, state, ROOTFS!], {
        encoding: 'utf8',
        timeout: 20_000,
      });
    const withInit = pipeline(['--init']);
    expect({ stdout: withInit.stdout, stderr: withInit.stderr }).toEqual({ stdout: 'y\nstatus 141\n', stderr: '' });
    const without = pipeline([]);
    expect(without.stdout).toBe('y\nstatus 1\n');
    expect(without.stderr).toMatch(/Broken pipe/);
  });

  it('exits with the program\'s status: its code, or 128 + N for signal N (SIGKILL and SIGSEGV from itself included)', async () => {
    const cases: [string, number][] = [['exit 0', 0], ['exit 7', 7], ['kill -SEGV $$', 139], ['kill -KILL $$', 137], ['kill -TERM $$', 143], ['kill -PIPE $$', 141]];
    for (const [script, code] of cases) {
      const r = await ns(['run', '--init', '--rootfs', ROOTFS!, '--', '/bin/sh', '-c', script]);
      expect({ script, code: r.code, stderr: r.stderr }).toEqual({ script, code, stderr: '' });
    }
  });

  it('a signal sent to ns reaches the program through the init; with no handler it ends it (143, not ignored by pid 1)', async () => {
    const run = start(process.execPath, [BIN, '--root', state, 'run', '--init', '--rootfs', ROOTFS!, '--', '/bin/sh', '-c', 'echo ready; exec sleep 30']);
    try {
      await run.waitFor('ready');
      await new Promise((r) => setTimeout(r, 100)); // let sh exec sleep
      process.kill(run.pid, 'SIGTERM'); // the ns process this test started
      const r = await run.done;
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 143, stderr: '' });
    } finally {
      try {
        process.kill(run.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await run.done;
    }
  });

  it('run -d --init: pid 1 is the init, ns kill TERM reaches the program and the container stops', async () => {
    const id = `init-d-${process.pid}`;
    const started = await start(process.execPath, [BIN, '--root', state, 'run', '-d', '--init', '--rootfs', ROOTFS!, id, '--', 'sleep', '1000'], { detached: true }).done;
    expect(started.code).toBe(0);
    try {
      const ps = await ns(['exec', id, '--', 'ps', '-o', 'pid,comm']);
      expect(ps.stdout).toMatch(/^\s*1 ns-init$/m);
      expect(ps.stdout).toMatch(/^\s*2 sleep$/m);
      expect((await ns(['kill', id, 'TERM'])).code).toBe(0);
      let status = '';
      for (let i = 0; i < 100 && status !== 'stopped'; i++) {
        status = (JSON.parse((await ns(['state', id])).stdout) as { status: string }).status;
        if (status !== 'stopped') await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe('stopped');
    } finally {
      await ns(['delete', '-f', id]);
    }
  });

  it('create --init, then start: the init starts with the program (after the exec FIFO)', async () => {
    const id = `init-c-${process.pid}`;
    const created = await start(process.execPath, [BIN, '--root', state, 'create', '--init', '--rootfs', ROOTFS!, id, '--', 'sleep', '1000'], { detached: true }).done;
    expect(created.code).toBe(0);
    try {
      expect((await ns(['start', id])).code).toBe(0);
      const ps = await ns(['exec', id, '--', 'ps', '-o', 'pid,comm']);
      expect(ps.stdout).toMatch(/^\s*1 ns-init$/m);
      expect(ps.stdout).toMatch(/^\s*2 sleep$/m);
    } finally {
      await ns(['delete', '-f', id]);
    }
  });

  it('--dry-run shows the init step right before execve', async () => {
    const r = await ns(['run', '--dry-run', '--init', '--rootfs', ROOTFS!, '--', 'true']);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-2)).toMatch(/init: fork the program, forward signals, reap$/);
    expect(lines.at(-1)).toMatch(/execve /);
  });
});
