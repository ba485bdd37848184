/**
 * Integration-test helpers: a child shell held before its command until it is in the cgroup
 * (like the spawn engine's sync step), every pid a test starts recorded so cleanup kills only
 * those, and the test's own parent cgroup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Cgroup, type CgroupOptions } from '../../src/manager.js';

const started = new Set<ChildProcess>();

export interface Held {
  child: ChildProcess;
  pid: number;
  /** Let the command run (writes the line `read` waits for). */
  release(): void;
  /** Exit code / signal once it ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** `sh -c 'read go; CMD'`: started now, runs CMD after release(). */
export function holdShell(cmd: string): Held {
  const child = spawn('/bin/sh', ['-c', `read go; ${cmd}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  if (child.pid === undefined) throw new Error('spawn /bin/sh failed');
  return { child, pid: child.pid, release: () => child.stdin!.write('go\n'), exited, stdout: () => out, stderr: () => err };
}

/** Kill what this file started and is still running (never anything else). */
export function killStarted(): void {
  for (const c of started) c.kill('SIGKILL');
}

/** A parent cgroup path of this test run: /ns-test-<pid>-<random>. */
export function testParent(): string {
  return `/ns-test-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Remove the test parent in every hierarchy (killing leftovers of ours first). */
export async function removeParent(path: string, options: CgroupOptions = {}): Promise<void> {
  killStarted();
  await Cgroup.open(path, options).destroy(10_000);
}

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
