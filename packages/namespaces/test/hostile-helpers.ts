/**
 * Shared by the hardening tests of issue 15 (hostile-rootfs, hostile-cve, load); not a test
 * itself. A host "decoy" that attacks aim at, hashed before and after; the host's mount
 * table and this process's children, compared before and after; and a runner that turns one
 * container start into an outcome: refused (with the error) or ran (with its output).
 */
import { createHash } from 'node:crypto';
import { cpSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { exec, type Container, type ExecOptions } from '../src/index.js';

/**
 * A digest of a host tree: every entry's path, type, mode, owner, size, mtime (a file made and
 * removed again changes its directory's), link target and file content. Not followed: links.
 */
export function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (p: string, rel: string) => {
    const st = lstatSync(p);
    h.update(`${rel}\0${st.mode}\0${st.uid}:${st.gid}\0${st.size}\0${st.mtimeMs}\0${st.ino}\n`);
    if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else if (st.isFile()) h.update(readFileSync(p));
    else if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e), `${rel}/${e}`);
  };
  walk(root, '.');
  return h.digest('hex');
}

/** Pids of this process's children (every thread's), in any state. */
export function ownChildren(): number[] {
  const out: number[] = [];
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const text = readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread ended
    }
  }
  return out.sort((a, b) => a - b);
}

/** The one-letter state of a process (R, S, Z ...), or null when it is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Waits up to `ms` for this process's children to be back to `before` (reaped, none new). */
export async function childrenSettle(before: number[], ms = 3000): Promise<number[]> {
  let now = ownChildren();
  for (let t = 0; t < ms && now.some((p) => !before.includes(p)); t += 25) {
    await new Promise((r) => setTimeout(r, 25));
    now = ownChildren();
  }
  return now.filter((p) => !before.includes(p));
}

/** A copy of `from` (the busybox rootfs) at `dir`, links kept as they are. */
export function copyRootfs(from: string, dir: string): string {
  cpSync(from, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

export type Outcome =
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'ran'; exitCode: number | null; signal: string | null; stdout: string; stderr: string };

async function collect(stream: Readable | null): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/**
 * Start `container` with piped stdio and wait for it: `refused` when exec() throws or the
 * process fails before execve, `ran` with its output otherwise. Killed (SIGKILL, by its own
 * handle) after `ms`, which then fails the test.
 */
export async function outcome(container: Container, options: ExecOptions = {}, ms = 10_000): Promise<Outcome> {
  let p;
  try {
    p = exec(container, { stdio: ['ignore', 'pipe', 'pipe'], setupTimeout: ms, ...options });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { kind: 'refused', code: String(e.code), message: String(e.message) };
  }
  const proc = p;
  const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
  try {
    const [stdout, stderr, exit] = await Promise.all([collect(proc.stdout), collect(proc.stderr), proc.wait()]);
    if (exit.signal === 'SIGKILL') throw new Error(`container did not end within ${ms} ms: ${stdout} ${stderr}`);
    return { kind: 'ran', exitCode: exit.exitCode, signal: exit.signal ?? null, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The host's mount table (mount point and root of each mount), without what other processes
 * on this machine mount meanwhile: network namespaces under /run/netns and anything in the
 * temporary directory that does not involve one of `own` (this test's directories). A mount
 * a run leaks shows there: on a host path, or of a path below `own`.
 */
export function hostMountsFor(...own: string[]): string[] {
  const tmp = tmpdir();
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      return `${f[4]} ${f[3]}`;
    })
    .filter((m) => {
      const [point, root] = m.split(' ') as [string, string];
      if (own.some((o) => point.startsWith(o) || root.startsWith(o))) return true;
      return !point.startsWith('/run/netns') && !point.startsWith(`${tmp}/`);
    })
    .sort();
}

/** What must hold after every hostile case: the decoy and the mount table as they were, no child left. */
export interface HostSnapshot {
  decoy: string;
  mounts: string[];
  children: number[];
}

/** The decoy's hash, the mounts (see {@link hostMountsFor}; `own`: the test's directories) and the children now. */
export function snapshot(decoy: string, ...own: string[]): HostSnapshot {
  return { decoy: treeHash(decoy), mounts: hostMountsFor(decoy, ...own), children: ownChildren() };
}
