// The `hook` step (ns-init's hook.cc) on its own, in a plain child: the state with the pid the
// parent saw at the last sync step, argv and envp as given, stdout and stderr to `output`, no
// other descriptor, the exit status, a signal, the timeout (its process group killed), a hook
// that does not read a state larger than a pipe holds, an exec that fails. Encoding and error
// wording need no root.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OP_CODES, STEP_BYTES, describeStep, encodePlan, spawn, stepError, type HookStep, type Plan, type Step } from '../src/index.js';

const root = process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), 'ns-hook-step-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TRUE: Step = { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] };

function hook(script: string, extra: Partial<HookStep> = {}): HookStep {
  return { op: 'hook', path: '/bin/sh', argv: ['sh', '-c', script, 'arg0', 'one'], envp: ['FOO=bar'], state: ['{"pid":', '}'], timeout: 0, cwd: null, root: null, output: 2, field: 'hooks.startContainer[0]', ...extra };
}

function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a throw');
}

describe('hook step: encoding and errors (no root needed)', () => {
  it('encodes timeout, output, path, cwd, root, argv, envp and the state parts', () => {
    const b = encodePlan({ cloneFlags: 0, steps: [hook('x', { timeout: 1500, cwd: '/newroot', root: '/oldroot' })] });
    expect(b.readUInt32LE(40)).toBe(OP_CODES.hook);
    expect(OP_CODES.hook).toBe(70);
    expect(b.readBigInt64LE(40 + 8)).toBe(1500n);
    expect(b.readBigInt64LE(40 + 16)).toBe(2n);
    const vecOff = b.readUInt32LE(20);
    const strOff = b.readUInt32LE(24);
    const str = (id: number) => b.toString('utf8', strOff + id, b.indexOf(0, strOff + id));
    expect([0, 1, 2, 3].map((j) => b.readUInt32LE(40 + 56 + 4 * j)).map((id) => (id === 0xffffffff ? null : str(id)))).toEqual(['/bin/sh', '/newroot', '/oldroot', null]);
    const vec = (j: number) => {
      const at = vecOff + b.readUInt32LE(40 + 72 + 4 * j);
      return Array.from({ length: b.readUInt32LE(at) }, (_, k) => str(b.readUInt32LE(at + 4 + 4 * k)));
    };
    expect(vec(0)).toEqual(['sh', '-c', 'x', 'arg0', 'one']);
    expect(vec(1)).toEqual(['FOO=bar']);
    expect(vec(2)).toEqual(['{"pid":', '}']);
    expect(STEP_BYTES).toBe(88);
    expect(describeStep(hook('x', { root: '/oldroot' }))).toBe('hook /bin/sh (root /oldroot)');
  });

  it('words failures as the hooks run by the parent: ERR_NS_HOOK naming the field and the path', () => {
    const h = hook('x', { timeout: 2000 });
    expect(stepError(h, 3, 125, undefined, 3)).toMatchObject({ code: 'ERR_NS_HOOK', message: 'hooks.startContainer[0] (/bin/sh): exited with status 3', step: 3 });
    expect(stepError(h, 3, 125, undefined, 0x100 | 9).message).toBe('hooks.startContainer[0] (/bin/sh): was killed by SIGKILL');
    expect(stepError(h, 3, 110).message).toBe('hooks.startContainer[0] (/bin/sh): did not finish within its timeout of 2 s and was killed');
    expect(stepError(h, 3, 2).message).toBe('hooks.startContainer[0] (/bin/sh): cannot be run: ENOENT');
    const check: Step = { op: 'execCheck', paths: ['/newroot/x'], displayPath: '/x', field: 'hooks.startContainer[1]' };
    expect(stepError(check, 1, 2)).toMatchObject({ code: 'ERR_NS_HOOK', message: 'hooks.startContainer[1] (/x): cannot be run: ENOENT', syscall: 'hook' });
  });
});

describe.skipIf(!root)('hook step, run by ns-init (root)', () => {
  it('writes the state with the pid of the last sync, runs argv and envp as given, stdout and stderr to `output`, nothing else open', async () => {
    const out = join(work, 'out');
    const stdio = [openSync('/dev/null', 'r'), openSync(out, 'w'), openSync(join(work, 'unused'), 'w')];
    const plan: Plan = {
      cloneFlags: 0,
      steps: [
        // The hook's stdout and stderr: the child's 1 (here a file), its own 2 left alone.
        { op: 'stdio', fds: stdio },
        { op: 'sync', name: 'pid' },
        hook(`echo "stdin=$(cat) argv0=$0 arg=$1 FOO=$FOO fds=$(ls /proc/self/fd | tr '\\n' ' ')"; echo to-stderr >&2`, { output: 1 }),
        { op: 'closeFrom', first: 3 },
        TRUE,
      ],
    };
    let synced = 0;
    try {
      const child = spawn(plan, { onSync: (_s, _i, pid) => (synced = pid) });
      expect((await child.exited).exitCode).toBe(0);
      expect(synced).toBe(child.pid);
      // 0, 1, 2 and the one `ls` reads /proc/self/fd with: nothing of ns-init's.
      expect(readFileSync(out, 'utf8')).toBe(`stdin={"pid":${child.pid}} argv0=arg0 arg=one FOO=bar fds=0 1 2 3 \nto-stderr\n`);
    } finally {
      stdio.forEach((fd) => closeSync(fd));
    }
  });

  it('fails with the exit status, a signal, the timeout (what it started killed too) or the exec error', async () => {
    const run = (h: HookStep) => thrown(() => spawn({ cloneFlags: 0, steps: [{ op: 'sync', name: 'pid' }, h, TRUE] }, { onSync: () => {} }));
    expect(run(hook('exit 7'))).toMatchObject({ code: 'ERR_NS_HOOK', message: 'hooks.startContainer[0] (/bin/sh): exited with status 7' });
    expect(run(hook('kill -SEGV $$'))).toMatchObject({ message: 'hooks.startContainer[0] (/bin/sh): was killed by SIGSEGV' });
    const pidFile = join(work, 'bg');
    expect(run(hook(`sleep 30 & echo $! > ${pidFile}; wait`, { timeout: 300 }))).toMatchObject({ message: 'hooks.startContainer[0] (/bin/sh): did not finish within its timeout of 0.3 s and was killed' });
    const bg = Number(readFileSync(pidFile, 'utf8'));
    let state = '';
    try {
      state = readFileSync(`/proc/${bg}/stat`, 'utf8');
    } catch {
      state = 'gone';
    }
    expect(state === 'gone' || / Z /.test(state)).toBe(true);
    expect(run(hook('x', { path: join(work, 'missing') }))).toMatchObject({ message: `hooks.startContainer[0] (${join(work, 'missing')}): cannot be run: ENOENT` });
  });

  it('a hook that never reads a state larger than a pipe holds: its exit status decides (no SIGPIPE, no hang)', async () => {
    const big = 'x'.repeat(1 << 20);
    const ok = spawn({ cloneFlags: 0, steps: [{ op: 'sync', name: 'pid' }, hook('exit 0', { state: [`{"a":"${big}","pid":`, '}'] }), TRUE] }, { onSync: () => {} });
    expect((await ok.exited).exitCode).toBe(0);
    const stuck = hook('sleep 30', { state: [`{"a":"${big}","pid":`, '}'], timeout: 300 });
    expect(thrown(() => spawn({ cloneFlags: 0, steps: [{ op: 'sync', name: 'pid' }, stuck, TRUE] }, { onSync: () => {} })).message).toMatch(/did not finish within its timeout/);
  });
});
