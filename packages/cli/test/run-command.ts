/**
 * Runs a command for the CLI integration tests and collects its output (shared by the
 * *.int.test.ts files; not a test itself).
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';

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
}

/** Start `cmd args` (killed by its pid with SIGKILL after `timeoutMs`). */
export function start(cmd: string, args: string[], options: StartOptions = {}): Running {
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
