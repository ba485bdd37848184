// The plan of a pool member and the record of a run (no root).
import { describe, expect, it } from 'vitest';
import { embeddedDefault, planContainer, poolMemberPlan, POOL_FDS, runDefaults, runRecordOf } from '../src/index.js';

const io = { stdio: [0, 1, 2, 20, 21] };

describe('poolMemberPlan', () => {
  it('keeps every set-up step, seccomp included, and ends with detach and awaitRun on descriptors 3 and 4', () => {
    const { plan } = planContainer(embeddedDefault({ args: ['/bin/true'], noNewPrivileges: true }), io);
    const member = poolMemberPlan(plan, 500);
    expect(member.steps.slice(0, -2)).toEqual(plan.steps.slice(0, -1));
    expect(member.steps.slice(-2)).toEqual([
      { op: 'detach', keepFds: 2 },
      { op: 'awaitRun', recordFd: POOL_FDS.record, replyFd: POOL_FDS.reply, idleTimeoutMs: 500 },
    ]);
    const ops = member.steps.map((s) => s.op);
    // Everything but the command is set up before the member waits.
    for (const op of ['pivotRoot', 'capset', 'setresuid', 'prctl', 'seccomp', 'chdir', 'closeFrom'] as const) expect(ops.indexOf(op)).toBeLessThan(ops.indexOf('detach'));
    expect(member.steps.find((s) => s.op === 'stdio')).toEqual({ op: 'stdio', fds: [0, 1, 2, 20, 21] });
    expect(member.steps.find((s) => s.op === 'closeFrom')).toEqual({ op: 'closeFrom', first: 5 });
  });

  it('refuses a plan that waits for start, or keeps other descriptors', () => {
    const { plan } = planContainer(embeddedDefault({ args: ['/bin/true'] }), { stdio: [0, 1, 2] });
    expect(() => poolMemberPlan(plan, 0)).toThrow(/must keep exactly its stdio, record and reply/);
    const created = planContainer(embeddedDefault({ args: ['/bin/true'] }), { ...io, startFifoFd: 30 }).plan;
    expect(() => poolMemberPlan(created, 0)).toThrow(/does not wait for start/);
  });
});

describe('runRecordOf', () => {
  const defaults = { env: ['PATH=/usr/bin:/bin', 'HOME=/root', 'A=1'], cwd: '/tmp' };
  it("uses the member's env and cwd by default, and searches PATH as exec() does", () => {
    const { record, bytes } = runRecordOf({ args: ['sh', '-c', 'x'] }, defaults);
    expect(record).toEqual({ cwd: '/tmp', paths: ['/usr/bin/sh', '/bin/sh'], argv: ['sh', '-c', 'x'], envp: defaults.env });
    expect(bytes.readUInt32LE(0)).toBe(bytes.length - 4);
  });

  it('gives the same record with its defaults encoded once (runDefaults)', () => {
    const once = runDefaults(defaults.env, defaults.cwd);
    for (const run of [{ args: ['sh', '-c', 'x'] }, { args: ['/bin/x'], env: ['B=1'], cwd: '/' }]) {
      const a = runRecordOf(run, once);
      const b = runRecordOf(run, defaults);
      expect(a.record).toEqual(b.record);
      expect(a.bytes.equals(b.bytes)).toBe(true);
    }
    expect(() => runDefaults(['A=\0'], '/')).toThrow(expect.objectContaining({ path: 'env[0]' }));
  });

  it("dedups a run's env (the last of a key wins) and adds the planned HOME", () => {
    const { record } = runRecordOf({ args: ['/bin/x'], env: ['B=1', 'B=2', 'HOME='], cwd: '/' }, defaults);
    expect(record).toEqual({ cwd: '/', paths: ['/bin/x'], argv: ['/bin/x'], envp: ['B=2', 'HOME=/root'] });
    expect(runRecordOf({ args: ['x'], env: ['PATH=/opt'] }, defaults).record.envp).toEqual(['PATH=/opt', 'HOME=/root']);
  });

  it('names the field of bad input', () => {
    const cases: [unknown, string][] = [
      [null, 'run'],
      [{}, 'args'],
      [{ args: [] }, 'args'],
      [{ args: [1] }, 'args'],
      [{ args: ['x'], env: 'A=1' }, 'env'],
      [{ args: ['x'], env: ['A=1', 'B'] }, 'env[1]'],
      [{ args: ['x'], cwd: 'tmp' }, 'cwd'],
      [{ args: ['x', 'a\0'] }, 'args[1]'],
      [{ args: ['x'], env: [`A=${'x'.repeat(70000)}`] }, 'args'],
      [{ args: ['x'], stdio: 'inherit' }, 'stdio'],
      [{ args: ['x'], user: 'nobody' }, 'user'],
    ];
    for (const [run, path] of cases) expect(() => runRecordOf(run as never, defaults), path).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path }));
  });

  it("with per-run stdio: entries checked, the record's mask names the descriptors sent", () => {
    const of = (stdio: unknown) => runRecordOf({ args: ['x'], stdio } as never, defaults, true);
    expect(of(undefined).stdio).toEqual([{ kind: 'pipe' }, { kind: 'pipe' }, { kind: 'pipe' }]);
    expect(of(undefined).record.stdio).toBe(7);
    expect(of('inherit').stdio).toEqual([0, 1, 2].map((fd) => ({ kind: 'fd', fd })));
    const mixed = of(['ignore', { fd: 9 }, null]);
    expect(mixed.stdio).toEqual([{ kind: 'ignore' }, { kind: 'fd', fd: 9 }, { kind: 'pipe' }]);
    expect(mixed.bytes.readUInt32LE(16)).toBe(0b110);
    expect(of('ignore').record.stdio).toBeUndefined();
    for (const [stdio, path] of [
      [['pipe'], 'stdio'],
      ['tty', 'stdio'],
      [['pipe', -1, 'pipe'], 'stdio[1]'],
      [['pipe', 'pipe', 1.5], 'stdio[2]'],
      [[{}, 'pipe', 'pipe'], 'stdio[0]'],
      // Past an int: it wrapped around to another descriptor (2 ** 32 + 1 was the caller's fd 1).
      [['ignore', 2 ** 32 + 1, 'ignore'], 'stdio[1]'],
      [['ignore', 'ignore', { fd: 2 ** 40 }], 'stdio[2]'],
      [['ignore', Number.NaN, 'ignore'], 'stdio[1]'],
    ] as const) {
      expect(() => of(stdio), path).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path }));
    }
    // A pool without per-run stdio says what it would need.
    expect(() => runRecordOf({ args: ['x'], stdio: 'pipe' }, defaults)).toThrow(/stdio: 'per-run'/);
  });

  it('a member of a per-run stdio pool reads its record from a socket', () => {
    const { plan } = planContainer(embeddedDefault({ args: ['/bin/true'] }), io);
    expect(poolMemberPlan(plan, 0, undefined, true).steps.at(-1)).toEqual({ op: 'awaitRun', recordFd: 3, replyFd: 4, idleTimeoutMs: 0, receiveStdio: true });
    expect(poolMemberPlan(plan, 0).steps.at(-1)).not.toHaveProperty('receiveStdio');
  });
});
