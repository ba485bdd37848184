/**
 * Runs a command for the CLI integration tests and collects its output (shared by the
 * *.int.test.ts files; not a test itself).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  pid: number;
  /** Resolves once stdout contains `text`. */
  waitFor(text: string): Promise<void>;
  done: Promise<Result>;
}

export interface StartOptions {
  cwd?: string;
  timeoutMs?: number;
  input?: string;
  /** Run as this user and group (for a test of what a non-root user may not access). */
  uid?: number;
  gid?: number;
  /**
   * For `ns run -d` and `ns create`, whose container keeps ns's stdio (runc's pass-through):
   * ns's stdout and stderr are files, read when ns exits (pipes would stay open as long as
   * the container runs). `done` then resolves once ns has exited, with what the files hold.
   */
  detached?: boolean;
}

/** Whether `args` (after the global options) make ns leave a container running with its stdio: `run -d`, `create`. */
export function detaches(args: readonly string[]): boolean {
  const dashes = args.indexOf('--');
  const head = dashes < 0 ? args : args.slice(0, dashes);
  return head.includes('create') || (head.includes('run') && (head.includes('-d') || head.includes('--detach')));
}

/** {@link start} for a detaching ns: stdout and stderr to files, `done` at ns's exit. */
function startDetached(cmd: string, args: string[], options: StartOptions): Running {
  const dir = mkdtempSync(join(tmpdir(), 'ns-test-out-'));
  const out = openSync(join(dir, 'stdout'), 'w+');
  const err = openSync(join(dir, 'stderr'), 'w+');
  const stdin = options.input === undefined ? 'ignore' : 'pipe';
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid };
  let child;
  try {
    child = spawn(cmd, args, { cwd: options.cwd ?? tmpdir(), stdio: [stdin, out, err], env: process.env, ...ids });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  if (options.input !== undefined) child.stdin!.end(options.input);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', (e) => {
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout: readFileSync(join(dir, 'stdout'), 'utf8'), stderr: readFileSync(join(dir, 'stderr'), 'utf8') };
      rmSync(dir, { recursive: true, force: true });
      resolve(result);
    });
  });
  return {
    pid: child.pid!,
    done,
    waitFor: () => Promise.reject(new Error('waitFor is not available for a detached ns')),
  };
}

/** Start `cmd args` (killed by its pid with SIGKILL after `timeoutMs`). */
export function start(cmd: string, args: string[], options: StartOptions = {}): Running {
  if (options.detached ?? detaches(args)) return startDetached(cmd, args, options);
  const stdin = options.input === undefined ? 'ignore' : 'pipe';
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid };
  const child = spawn(cmd, args, { cwd: options.cwd ?? tmpdir(), stdio: [stdin, 'pipe', 'pipe'], env: process.env, ...ids });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiters.filter((w) => stdout.includes(w.text))) w.resolve();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    pid: child.pid!,
    done,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void done.then(() => reject(new Error(`exited before printing ${JSON.stringify(text)}: ${stdout} ${stderr}`)));
      }),
  };
}

/** Interface names of /proc/net/dev text, sorted. */
export const interfaces = (procNetDev: string): string[] =>
  procNetDev
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean)
    .sort();
