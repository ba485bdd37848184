import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { hostMountPoints } from '../../../scripts/testing/host-mounts.mjs';
import { exec, type Container, type ContainerExit, type ExecOptions } from '../src/index.js';

export const isRoot = process.getuid?.() === 0;
/** The busybox rootfs built by scripts/build-test-rootfs.sh (vitest global setup). */
export const ROOTFS = process.env.NS_TEST_ROOTFS ?? '';

async function collect(stream: Readable | null): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export interface RunResult extends ContainerExit {
  stdout: string;
  stderr: string;
  pid: number;
}

/** exec() a container with piped stdio and wait for it to end. */
export async function run(container: Container, options: ExecOptions = {}): Promise<RunResult> {
  const p = exec(container, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const [stdout, stderr, exit] = await Promise.all([collect(p.stdout), collect(p.stderr), p.wait()]);
  return { stdout, stderr, ...exit, pid: p.pid };
}

export function hostMounts(): string[] {
  return hostMountPoints();
}

/** True when no process with this pid exists any more (reaped, not a zombie). */
export function gone(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return false;
  } catch {
    return true;
  }
}

/** Whether `ns ARGS` leaves a container running with ns's own stdio: `run -d`, `create` (before any `--`). */
export function detaches(args: readonly string[]): boolean {
  const dashes = args.indexOf('--');
  const head = dashes < 0 ? args : args.slice(0, dashes);
  return head.includes('create') || (head.includes('run') && (head.includes('-d') || head.includes('--detach')));
}

/**
 * spawnSync() for a CLI call, with stdout and stderr in files read back at exit when `args`
 * detach (see {@link detaches}): the container keeps ns's stdio (runc's pass-through), and
 * spawnSync() would wait for pipes it holds until the container exits.
 */
export function spawnCli(cmd: string, args: string[], options: SpawnSyncOptions & { cliArgs?: string[] }): { status: number | null; stdout: string; stderr: string } {
  const { cliArgs, ...spawnOptions } = options;
  if (!detaches(cliArgs ?? args)) {
    const r = spawnSync(cmd, args, { ...spawnOptions, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ns-test-out-'));
  try {
    const out = openSync(join(dir, 'stdout'), 'w+');
    const err = openSync(join(dir, 'stderr'), 'w+');
    let status: number | null;
    try {
      status = spawnSync(cmd, args, { ...spawnOptions, stdio: ['ignore', out, err] }).status;
    } finally {
      closeSync(out);
      closeSync(err);
    }
    return { status, stdout: readFileSync(join(dir, 'stdout'), 'utf8'), stderr: readFileSync(join(dir, 'stderr'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
