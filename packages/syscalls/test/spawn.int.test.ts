import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLONE, NsError, native, spawn, spawnAsync, type Step } from '../src/index.js';

const root = process.getuid?.() === 0;

/** Run a shell command in a child (no new namespaces unless asked) and collect its stdout. */
async function run(cmd: string, steps: Step[] = [], cloneFlags = 0) {
  const [r, w] = native().pipe();
  const child = spawn({
    cloneFlags,
    steps: [
      { op: 'stdio', fds: [0, w, 2] },
      ...steps,
      { op: 'closeFrom', first: 3 },
      { op: 'execve', paths: ['/bin/sh'], argv: ['sh', '-c', cmd], envp: ['PATH=/usr/bin:/bin'] },
    ],
  });
  const { closeSync, createReadStream } = await import('node:fs');
  closeSync(w);
  const chunks: Buffer[] = [];
  for await (const c of createReadStream('', { fd: r })) chunks.push(c as Buffer);
  const status = await child.exited;
  return { out: Buffer.concat(chunks).toString(), status, child };
}

describe.skipIf(!root)('spawn (as root)', () => {
  it('runs the plan and reports the exit status', async () => {
    const { out, status } = await run('echo hello; exit 7');
    expect(out).toBe('hello\n');
    expect(status).toEqual({ exitCode: 7, signal: null });
  });

  it('reports death by signal', async () => {
    const { status } = await run('kill -9 $$');
    expect(status).toEqual({ exitCode: null, signal: 9 });
  });

  it('names the failed step, its path and the errno code', () => {
    let err: unknown;
    try {
      spawn({ cloneFlags: 0, steps: [{ op: 'execve', paths: ['/bin/nope'], argv: ['nope'], envp: [] }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NsError);
    expect((err as NsError).message).toBe('execve /bin/nope: ENOENT');
    expect((err as NsError).code).toBe('ENOENT');
    expect((err as NsError).path).toBe('/bin/nope');
    expect((err as NsError).step).toBe(0);
  });

  it('stops at the first failing step', () => {
    expect(() =>
      spawn({
        cloneFlags: CLONE.NEWNS,
        steps: [
          { op: 'mount', source: 'proc', target: '/does/not/exist', fstype: 'proc', flags: 0, data: null },
          { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] },
        ],
      }),
    ).toThrow('mount proc on /does/not/exist: ENOENT');
  });

  it('ignoreMissing turns ENOENT of a step into success', async () => {
    const { status } = await run('exit 0', [{ op: 'chdir', path: '/nope/nope', ignoreMissing: true }]);
    expect(status.exitCode).toBe(0);
  });

  it('creates the namespaces asked for: pid 1 in a new pid namespace, own hostname', async () => {
    const { out } = await run('echo $$ $(hostname)', [{ op: 'sethostname', hostname: 'inside' }], CLONE.NEWPID | CLONE.NEWUTS);
    expect(out.trim()).toBe('1 inside');
    expect(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()).not.toBe('inside');
  });

  it('meets the parent at sync steps, which acts while the child waits', async () => {
    const seen: string[] = [];
    const [r, w] = native().pipe();
    const child = spawn(
      {
        cloneFlags: 0,
        steps: [
          { op: 'stdio', fds: [0, w, 2] },
          { op: 'sync', name: 'first' },
          { op: 'sync', name: 'second' },
          { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] },
        ],
      },
      {
        onSync: (step, index, pid) => {
          seen.push(`${step.name}@${index}`);
          // The child is stopped at the step: it has not exec'd yet.
          expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain('true');
        },
      },
    );
    const { closeSync } = await import('node:fs');
    closeSync(r);
    closeSync(w);
    expect(seen).toEqual(['first@1', 'second@2']);
    expect((await child.exited).exitCode).toBe(0);
  });

  it('kills and reaps the child when onSync throws, and rethrows', () => {
    let pid = 0;
    expect(() =>
      spawn(
        { cloneFlags: 0, steps: [{ op: 'sync', name: 'x' }, { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }] },
        {
          onSync: (_s, _i, p) => {
            pid = p;
            throw new Error('parent says no');
          },
        },
      ),
    ).toThrow('parent says no');
    expect(pid).toBeGreaterThan(0);
    expect(() => readFileSync(`/proc/${pid}/stat`)).toThrow(); // reaped: no zombie left
  });

  it('earlySync: the first sync step\'s onSync runs once, right after the clone, and the child passes the step only after it returned', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/ns-early-`);
    try {
      const file = `${dir}/after`;
      writeFileSync(file, '');
      const seen: string[] = [];
      const child = spawn(
        {
          cloneFlags: 0,
          steps: [
            { op: 'sync', name: 'early' },
            { op: 'writeFile', path: file, data: 'went on' },
            { op: 'sync', name: 'later' },
            // ENOENT if the child passed 'later' before its call: one go-ahead byte too many
            // (the early step's, had the child asked for it as well as finding it written).
            { op: 'mkdir', path: `${dir}/later/x`, mode: 0o755, existOk: false },
            { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] },
          ],
        },
        {
          earlySync: true,
          onSync: (step, index, pid) => {
            seen.push(`${step.name}@${index}`);
            if (step.name === 'later') {
              const until = Date.now() + 30;
              while (Date.now() < until) {
                // busy: a child with a spare go-ahead would be past step 3 by now
              }
              mkdirSync(`${dir}/later`);
            }
            if (step.name !== 'early') return;
            expect(pid).toBeGreaterThan(0);
            // However long this takes, the child waits at step 0: step 1 has not run.
            const until = Date.now() + 30;
            while (Date.now() < until) {
              // busy: the child has all the time it needs to reach step 0
            }
            expect(readFileSync(file, 'utf8')).toBe('');
          },
        },
      );
      expect(seen).toEqual(['early@0', 'later@2']);
      expect(readFileSync(file, 'utf8')).toBe('went on');
      expect((await child.exited).exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('earlySync: an index names a later sync step; the steps before it run meanwhile, those after wait for the call', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/ns-early-`);
    try {
      const [before, after] = [`${dir}/before`, `${dir}/after`];
      writeFileSync(before, '');
      writeFileSync(after, '');
      const seen: string[] = [];
      const steps = [
        { op: 'writeFile', path: before, data: 'ran' },
        { op: 'sync', name: 'early' },
        { op: 'writeFile', path: after, data: 'went on' },
        { op: 'sync', name: 'later' },
        { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] },
      ] as const;
      const child = spawn(
        { cloneFlags: 0, steps: [...steps] },
        {
          earlySync: 1,
          onSync: (step, index) => {
            seen.push(`${step.name}@${index}`);
            if (step.name !== 'early') return;
            const until = Date.now() + 30;
            while (Date.now() < until) {
              // busy: the child reaches step 1 meanwhile, and waits there
            }
            expect(readFileSync(after, 'utf8')).toBe('');
          },
        },
      );
      expect(seen).toEqual(['early@1', 'later@3']);
      expect(readFileSync(before, 'utf8')).toBe('ran');
      expect(readFileSync(after, 'utf8')).toBe('went on');
      expect((await child.exited).exitCode).toBe(0);
      // An index that is not a sync step: no early call, each sync step's call when reached.
      seen.length = 0;
      const plain = spawn({ cloneFlags: 0, steps: [...steps] }, { earlySync: 0, onSync: (step, index) => void seen.push(`${step.name}@${index}`) });
      expect(seen).toEqual(['early@1', 'later@3']);
      expect((await plain.exited).exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('earlySync: a go-ahead step before the early one still waits for its own call (the early go-ahead is not written ahead then)', async () => {
    const { mkdtempSync, mkdirSync, rmSync, statSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/ns-early-`);
    try {
      const seen: string[] = [];
      const child = spawn(
        {
          cloneFlags: 0,
          steps: [
            { op: 'sync', name: 'first' },
            // Fails with ENOENT if the child passed 'first' before its call made `made`.
            { op: 'mkdir', path: `${dir}/made/x`, mode: 0o755, existOk: false },
            { op: 'sync', name: 'early' },
            { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] },
          ],
        },
        {
          earlySync: 2,
          onSync: (step, index) => {
            seen.push(`${step.name}@${index}`);
            if (step.name !== 'first') return;
            const until = Date.now() + 30;
            while (Date.now() < until) {
              // busy: a child given a go-ahead written ahead would be past step 1 by now
            }
            mkdirSync(`${dir}/made`);
          },
        },
      );
      expect(seen).toEqual(['early@2', 'first@0']);
      expect(statSync(`${dir}/made/x`).isDirectory()).toBe(true);
      expect((await child.exited).exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('earlySync: an error thrown by the early call kills and reaps the child, and is rethrown', () => {
    let pid = 0;
    expect(() =>
      spawn(
        { cloneFlags: 0, steps: [{ op: 'sync', name: 'x' }, { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }] },
        {
          earlySync: true,
          onSync: (_s, _i, p) => {
            pid = p;
            throw new Error('no cgroup for you');
          },
        },
      ),
    ).toThrow('no cgroup for you');
    expect(pid).toBeGreaterThan(0);
    expect(() => readFileSync(`/proc/${pid}/stat`)).toThrow(); // reaped
  });

  it('resets signal dispositions and the mask (Node ignores SIGPIPE; the child must not)', async () => {
    const { out } = await run('grep -E "^(SigIgn|SigBlk|SigCgt)" /proc/self/status');
    expect(out).toMatch(/SigBlk:\s+0+\n/);
    expect(out).toMatch(/SigIgn:\s+0+\n/);
  });

  it('kills the container when the Node process that spawned it dies (PR_SET_PDEATHSIG)', async () => {
    const { spawn: spawnNode } = await import('node:child_process');
    const script = `
      import('${new URL('../dist/index.js', import.meta.url).href}').then(({ spawn, CLONE }) => {
        const c = spawn({ cloneFlags: CLONE.NEWPID, steps: [{ op: 'execve', paths: ['/bin/sleep'], argv: ['sleep', '60'], envp: [] }] });
        console.log(c.pid);
      });`;
    const parent = spawnNode(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('sleep');
    parent.kill('SIGKILL');
    await new Promise((resolve) => parent.once('exit', resolve));
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      try {
        alive = !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        alive = false;
      }
      if (alive) await new Promise((r) => setTimeout(r, 20));
    }
    expect(alive).toBe(false);
  });

  it('leaves only the requested descriptors open across execve', async () => {
    const { out } = await run('ls /proc/self/fd');
    // 0, 1, 2 and the one ls opens to read the directory.
    expect(out.split('\n').filter(Boolean).map(Number).sort()).toEqual([0, 1, 2, 3]);
  });

  it('kill() uses the pidfd and returns false once the child is gone', async () => {
    const child = spawn({ cloneFlags: 0, steps: [{ op: 'stdio', fds: [0, 1, 2] }, { op: 'execve', paths: ['/bin/sleep'], argv: ['sleep', '30'], envp: [] }] });
    expect(child.kill(15)).toBe(true);
    expect(await child.exited).toEqual({ exitCode: null, signal: 15 });
    expect(child.kill(9)).toBe(false);
  });

  it('cloneParent: after setns into a pid namespace the real process is inside it, and is ours to wait for', async () => {
    const init = spawn({ cloneFlags: CLONE.NEWPID | CLONE.NEWNS, steps: [{ op: 'execve', paths: ['/bin/sleep'], argv: ['sleep', '30'], envp: [] }] });
    try {
      const { openSync, closeSync } = await import('node:fs');
      const nsfd = openSync(`/proc/${init.pid}/ns/pid`, 'r');
      const { out, status, child } = await run('echo $$; exit 5', [
        { op: 'prctl', option: 4 /* PR_SET_DUMPABLE */, arg2: 0, arg3: 0, arg4: 0, arg5: 0 },
        { op: 'setns', fd: nsfd, nstype: CLONE.NEWPID },
        { op: 'cloneParent' },
      ]);
      closeSync(nsfd);
      expect(out).toBe('2\n'); // the second process of the container's pid namespace
      expect(status).toEqual({ exitCode: 5, signal: null });
      expect(child.pid).not.toBe(init.pid);
    } finally {
      init.kill(9);
      await init.exited;
    }
  });

  it('reports a failed step after cloneParent with its name, and reaps both processes', () => {
    expect(() =>
      spawn({ cloneFlags: 0, steps: [{ op: 'cloneParent' }, { op: 'execve', paths: ['/bin/nope'], argv: ['nope'], envp: [] }] }),
    ).toThrow('execve /bin/nope: ENOENT');
  });

  it('runs many children at once and reaps every one', async () => {
    const children = Array.from({ length: 50 }, () =>
      spawn({ cloneFlags: CLONE.NEWPID | CLONE.NEWNS, steps: [{ op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }] }),
    );
    const statuses = await Promise.all(children.map((c) => c.exited));
    expect(statuses.every((s) => s.exitCode === 0)).toBe(true);
    for (const c of children) expect(() => readFileSync(`/proc/${c.pid}/stat`)).toThrow();
  });
});

describe.skipIf(!root)('stdio of the child (as root)', () => {
  it('clears O_NONBLOCK on 0-2 as libuv does: a shared non-blocking pipe must not fail writes (regression)', async () => {
    const { Socket } = await import('node:net');
    const [r, w] = native().pipe();
    // Wrapping the write end in a libuv handle makes its file description non-blocking.
    const writer = new Socket({ fd: w, readable: false, writable: true });
    const reader = new Socket({ fd: r, readable: true, writable: false });
    let out = '';
    reader.on('data', (d: Buffer) => (out += d.toString()));
    const child = spawn({
      cloneFlags: 0,
      steps: [
        { op: 'stdio', fds: [0, w, 2] },
        { op: 'closeFrom', first: 3 },
        { op: 'execve', paths: ['/bin/sh'], argv: ['sh', '-c', 'grep ^flags /proc/self/fdinfo/1'], envp: [] },
      ],
    });
    await child.exited;
    writer.destroy();
    await new Promise((resolve) => reader.once('close', resolve));
    const flags = parseInt(out.trim().split(/\s+/)[1]!, 8);
    expect(flags & 0o4000).toBe(0); // O_NONBLOCK
  });
});

describe.skipIf(!root)('spawnAsync (as root)', () => {
  const execTrue = { op: 'execve' as const, paths: ['/bin/true'], argv: ['true'], envp: [] };

  it('returns before the child has set itself up, and resolves once it exec\'d', async () => {
    let pidAtSync = 0;
    const pending = spawnAsync(
      { cloneFlags: CLONE.NEWPID, steps: [{ op: 'sync', name: 'hold' }, execTrue] },
      { onSync: (_s, _i, pid) => (pidAtSync = pid) },
    );
    // The child waits at its sync step until the event loop runs onSync: it cannot have
    // exec'd yet, so spawnAsync() returned without waiting for the set-up.
    expect(pidAtSync).toBe(0);
    const child = await pending;
    expect(pidAtSync).toBe(child.pid);
    expect(await child.exited).toEqual({ exitCode: 0, signal: null });
  });

  it('rejects with the failed step, its path and errno, and reaps the child', async () => {
    const err = await spawnAsync({ cloneFlags: 0, steps: [{ op: 'execve', paths: ['/bin/nope'], argv: ['nope'], envp: [] }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NsError);
    expect((err as NsError).message).toBe('execve /bin/nope: ENOENT');
  });

  it('rejects with the error onSync throws, the child killed and reaped', async () => {
    let pid = 0;
    const err = await spawnAsync(
      { cloneFlags: 0, steps: [{ op: 'sync', name: 'x' }, execTrue] },
      {
        onSync: (_s, _i, p) => {
          pid = p;
          throw new Error('parent says no');
        },
      },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('parent says no');
    expect(() => readFileSync(`/proc/${pid}/stat`)).toThrow();
  });

  it('runs after a cloneParent step with the real exit status', async () => {
    const child = await spawnAsync({
      cloneFlags: 0,
      steps: [{ op: 'cloneParent' }, { op: 'execve', paths: ['/bin/sh'], argv: ['sh', '-c', 'exit 6'], envp: [] }],
    });
    expect(await child.exited).toEqual({ exitCode: 6, signal: null });
  });

  it('many at once, all reaped', async () => {
    const children = await Promise.all(Array.from({ length: 50 }, () => spawnAsync({ cloneFlags: CLONE.NEWPID, steps: [execTrue] })));
    const statuses = await Promise.all(children.map((c) => c.exited));
    expect(statuses.every((s) => s.exitCode === 0)).toBe(true);
  });
});
