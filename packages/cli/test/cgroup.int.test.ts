/**
 * The cgroup verbs for real, as root (issue 10): `ns pause` / `resume`, `update`, `events`,
 * and `ps` / `kill --all` / `delete -f` of containers with a cgroup, each run detached from a
 * bundle whose config.json has `linux.resources`. Every container's cgroup lives under this
 * file's own parent (/ns-test-cli-<pid>), removed in afterAll whatever happened; nothing is
 * written to the host's own cgroups, and cleanup only kills processes inside that parent.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCgroupLayout } from '@ns/namespaces';
import { start, type Result } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
const MiB = 1024 * 1024;
const parent = `/ns-test-cli-${process.pid}`;
const layout = isRoot ? hostCgroupLayout() : undefined;
/** The controllers these tests need, wherever the host has them. */
const ready = !!layout && ['memory', 'pids'].every((c) => layout.controllers[c]);

let tmp: string;
let root: string;

/** `ns --root <this file's root> ARGS...`. */
const ns = (args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<Result> =>
  start(process.execPath, [BIN, '--root', root, ...args], options).done;

/** The directory of a container's cgroup (or of the parent) in the hierarchy of `controller`. */
function cgroupDir(controller: string, id?: string): string {
  const h = layout!.controllers[controller]!;
  return join(h.mountPoint, parent, id ?? '');
}

/** The directories of a container's cgroup (or of the parent), one per hierarchy of the host. */
const allDirs = (id?: string): string[] =>
  [...layout!.v1, ...(layout!.unified ? [layout!.unified] : [])].map((h) => join(h.mountPoint, parent, id ?? ''));

/** Pids listed in a cgroup directory's cgroup.procs. */
function procs(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** Gone, or a zombie waiting for its parent to reap it: killed either way. */
function dead(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Poll `check` every 20 ms until it is true; fails after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The live status `ns state` reports. */
async function status(id: string): Promise<string> {
  const r = await ns(['state', id]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { status: string }).status;
}

/** One `ns events --stats` line, parsed. */
async function statsOf(id: string): Promise<{ type: string; id: string; data: Record<string, any> }> {
  const r = await ns(['events', '--stats', id]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.split('\n')).toHaveLength(2); // one line
  return JSON.parse(r.stdout);
}

/**
 * `ns spec` into a new bundle running `sh -c SCRIPT`, with `resources` merged into its
 * linux.resources and a cgroupsPath under this file's parent; then `ns run -d --bundle`.
 */
async function runLimited(id: string, script: string, resources: Record<string, unknown>, options: { pidNamespace?: boolean } = {}): Promise<void> {
  const bundle = mkdtempSync(join(tmp, `bundle-${id}-`));
  const spec = await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal', '--', '/bin/sh', '-c', script]);
  expect(spec.code, spec.stderr).toBe(0);
  const file = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as { linux: { resources?: object; cgroupsPath?: string; namespaces: { type: string }[] } };
  config.linux.resources = { ...config.linux.resources, ...resources };
  config.linux.cgroupsPath = `${parent}/${id}`;
  if (options.pidNamespace === false) config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'pid');
  writeFileSync(file, JSON.stringify(config));
  const r = await ns(['run', '-d', '--bundle', bundle, id]);
  expect(r.code, r.stderr).toBe(0);
}

/** Remove a cgroup directory tree of ours: thaw it, kill what is in it, rmdir children first. */
async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) await removeTree(join(dir, entry.name));
  if (existsSync(join(dir, 'freezer.state'))) writeFileSync(join(dir, 'freezer.state'), 'THAWED');
  if (existsSync(join(dir, 'cgroup.freeze'))) writeFileSync(join(dir, 'cgroup.freeze'), '0');
  for (const pid of procs(dir)) {
    try {
      process.kill(pid, 'SIGKILL'); // in this file's own cgroup: one of its containers' processes
    } catch {
      // gone
    }
  }
  await until(`${dir} to be removable`, () => {
    try {
      rmdirSync(dir);
      return true;
    } catch {
      return false;
    }
  });
}

describe.skipIf(!isRoot || !ROOTFS || !ready)('cgroup verbs (as root)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build @ns/cli first (pnpm --filter @ns/cli build)`);
    tmp = mkdtempSync(join(tmpdir(), 'ns-cli-cgroup-'));
    root = join(tmp, 'state');
  });

  afterAll(async () => {
    try {
      if (root && existsSync(root)) for (const id of readdirSync(root)) if (!id.endsWith('.lock')) await ns(['delete', '-f', id]);
    } finally {
      for (const dir of allDirs()) await removeTree(dir);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
    for (const dir of allDirs()) expect(existsSync(dir), dir).toBe(false);
  });

  it('pause freezes the container (state and list say paused), resume thaws it; runc-like errors otherwise', async () => {
    await runLimited('p1', 'exec sleep 300', { pids: { limit: 32 } });
    expect((await ns(['resume', 'p1'])).stderr).toBe('ns: container not paused: p1\n');
    expect(await ns(['pause', 'p1'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await status('p1')).toBe('paused');
    const list = await ns(['list', '--format', 'json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: 'p1', status: 'paused' })]);
    expect((await ns(['list'])).stdout).toMatch(/^p1 +\d+ +paused /m);
    if (layout!.controllers.freezer) expect(readFileSync(join(cgroupDir('freezer', 'p1'), 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
    expect(await ns(['pause', 'p1'])).toMatchObject({ code: 125, stderr: 'ns: container p1 is already paused\n' });
    expect(await ns(['resume', 'p1'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await status('p1')).toBe('running');
    expect((await ns(['resume', 'p1'])).code).toBe(125);
    expect((await ns(['delete', '-f', 'p1'])).code).toBe(0);
    // Not running any more: pause, resume, update and events all refuse, exit 125.
    await runLimited('p2', 'exit 0', { pids: { limit: 32 } });
    await until('p2 to stop', async () => (await status('p2')) === 'stopped');
    for (const args of [['pause', 'p2'], ['resume', 'p2'], ['update', '--pids-limit', '4', 'p2'], ['events', '--stats', 'p2']]) {
      const r = await ns(args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr, args.join(' ')).toMatch(/^ns: .*(stopped|not running)\b.*\n$/);
    }
    expect((await ns(['delete', 'p2'])).code).toBe(0);
  });

  it('update --pids-limit 8 reads back through events --stats; flags win over -r; a memory limit below the usage is refused naming the flag, field and file', async () => {
    // 8 MiB in a tmpfs file: charged to the container, and with no swap it cannot be reclaimed.
    await runLimited('u1', 'head -c 8388608 /dev/zero > /dev/shm/fill; exec sleep 300', { memory: { limit: 64 * MiB }, pids: { limit: 32 } });
    await until('the tmpfs file to be charged', async () => (await statsOf('u1')).data.memory.usage.usage > 8 * MiB);

    expect(await ns(['update', '--pids-limit', '8', 'u1'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const stats = await statsOf('u1');
    expect(stats).toMatchObject({ type: 'stats', id: 'u1' });
    expect(stats.data.pids).toEqual({ current: 1, limit: 8 });
    expect(stats.data.memory.usage.limit).toBe(64 * MiB);
    expect(stats.data.cpu.usage.total).toBeGreaterThan(0);
    expect(readFileSync(join(cgroupDir('pids', 'u1'), 'pids.max'), 'utf8').trim()).toBe('8');

    // -r FILE, with a flag over one of its fields; and -r - from stdin.
    const file = join(tmp, 'resources.json');
    writeFileSync(file, JSON.stringify({ pids: { limit: 16 }, memory: { limit: 48 * MiB } }));
    expect((await ns(['update', '-r', file, '--pids-limit', '12', 'u1'])).code).toBe(0);
    expect((await statsOf('u1')).data).toMatchObject({ pids: { limit: 12 }, memory: { usage: { limit: 48 * MiB } } });
    expect((await ns(['update', '-r', '-', 'u1'], { input: '{"pids": {"limit": 20}}' })).code).toBe(0);
    expect((await statsOf('u1')).data.pids.limit).toBe(20);
    expect((await ns(['update', '--memory', '40m', '--memory-swap', '-1', 'u1'])).code).toBe(0);
    expect((await statsOf('u1')).data.memory.usage.limit).toBe(40 * MiB);

    // Below the usage: refused, the limit stays (v1: the kernel says EBUSY; v2: checked
    // against memory.current first, where the kernel would OOM-kill the container instead).
    const low = await ns(['update', '--memory', '1m', 'u1']);
    expect(low.code).toBe(125);
    expect(low.stderr).toMatch(
      layout!.mode === 'unified' ? /^ns: --memory: .*linux\.resources\.memory\.limit.*not above the current usage/ : /^ns: --memory: .*memory\.limit_in_bytes.*linux\.resources\.memory\.limit.*EBUSY/,
    );
    expect(low.stderr.split('\n')).toHaveLength(2);
    expect((await statsOf('u1')).data.memory.usage.limit).toBe(40 * MiB);
    // A value the flag cannot take, and one the library's range check refuses: named.
    expect(await ns(['update', '--memory', '12q', 'u1'])).toMatchObject({ code: 125, stderr: expect.stringMatching(/^ns: --memory "12q": expected a size/) });
    expect(await ns(['update', '--blkio-weight', '5', 'u1'])).toMatchObject({ code: 125, stderr: expect.stringMatching(/^ns: --blkio-weight: linux\.resources\.blockIO\.weight: /) });
    expect(await ns(['update', '--kernel-memory', '1g', 'u1'])).toMatchObject({ code: 125, stderr: expect.stringMatching(/^ns: --kernel-memory: kernel memory limits are not supported/) });

    expect((await ns(['delete', '-f', 'u1'])).code).toBe(0);
    for (const dir of allDirs('u1')) expect(existsSync(dir), dir).toBe(false);
  });

  it('events --interval 1s streams stats lines and an oom line when a process hits the memory limit, and ends when the container stops', async () => {
    await runLimited('e1', 'exec sleep 300', { memory: { limit: 32 * MiB, swap: 32 * MiB } });
    const events = start(process.execPath, [BIN, '--root', root, 'events', '--interval', '1s', 'e1'], { timeoutMs: 30_000 });
    await events.waitFor('"type":"stats"');
    // A second process allocating beyond the limit: the OOM killer takes it (exit 137).
    const dd = await ns(['exec', 'e1', '--', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
    expect(dd.code).toBe(137);
    await events.waitFor('"type":"oom"');
    expect(await status('e1')).toBe('running'); // the init was not the one killed
    expect((await ns(['kill', 'e1', 'KILL'])).code).toBe(0);
    const r = await events.done;
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; id: string; data?: any });
    expect(lines.filter((l) => l.type === 'oom')).toEqual([{ type: 'oom', id: 'e1' }]);
    const stats = lines.filter((l) => l.type === 'stats');
    expect(stats.length).toBeGreaterThanOrEqual(1);
    expect(stats[0]!).toMatchObject({ id: 'e1', data: { memory: { usage: { limit: 32 * MiB } }, pids: { current: 1 } } });

    expect((await ns(['delete', '-f', 'e1'])).code).toBe(0);
    expect(existsSync(cgroupDir('memory', 'e1'))).toBe(false);
  });

  it('events | head -1: the stream ends quietly with status 0 when its reader goes away (runc dies of SIGPIPE: 141)', async () => {
    await runLimited('e2', 'exec sleep 300', { pids: { limit: 8 } });
    try {
      const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} --root ${JSON.stringify(root)} events --interval 100ms e2`;
      const r = spawnSync('bash', ['-c', `${cmd} | head -1; echo "status \${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      const [line, status] = r.stdout.trimEnd().split('\n');
      expect(JSON.parse(line!)).toMatchObject({ type: 'stats', id: 'e2' });
      expect(status).toBe('status 0');
    } finally {
      await ns(['delete', '-f', 'e2']);
    }
  });

  it('ps and kill --all reach every process of the cgroup, also without a pid namespace of its own; delete removes the cgroup', async () => {
    await runLimited('k1', 'sleep 300 & sleep 300 & wait', { pids: { limit: 32 } }, { pidNamespace: false });
    const dir = cgroupDir('pids', 'k1');
    await until('three processes in the cgroup', () => procs(dir).length === 3);
    const pids = procs(dir);

    const ps = await ns(['ps', '--format', 'json', 'k1']);
    expect(ps.code, ps.stderr).toBe(0);
    expect(JSON.parse(ps.stdout)).toEqual(pids);
    const table = await ns(['ps', 'k1']);
    expect(table.stdout.trimEnd().split('\n').slice(1).map((l) => Number(l.split(/\s+/)[1]))).toEqual(pids);

    expect(await ns(['kill', '--all', 'k1', 'KILL'])).toMatchObject({ code: 0, stderr: '' });
    await until('every process of k1 to be killed', () => pids.every(dead));
    await until('k1 to stop', async () => (await status('k1')) === 'stopped');

    expect((await ns(['delete', 'k1'])).code).toBe(0);
    for (const d of allDirs('k1')) expect(existsSync(d), d).toBe(false);
  });
});
