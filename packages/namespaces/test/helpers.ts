import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
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

/** The host's mount table (mount points), to check nothing is left behind. */
export function hostMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!)
    .sort();
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
