/**
 * runForeground()'s terminal output, on its own: a fake container process (no library, no
 * root) whose "pty" is a stream, run by the built dist/start.js in a child node process so
 * that ns's real stdout is a pipe to a slow or vanishing reader.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const START = fileURLToPath(new URL('../dist/start.js', import.meta.url));

/** argv: `finite N` (N lines, then the process has already exited) or `endless` (until killed). */
const SCRIPT = `
import { EventEmitter } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { runForeground } from ${JSON.stringify(START)};
const [mode, count] = process.argv.slice(2);
let killed = null;
let produced = 0;
const launch = () => {
  const proc = new EventEmitter();
  let finish;
  const exited = new Promise((resolve) => (finish = resolve));
  if (mode === 'finite') finish({ exitCode: 0, signal: null });
  // A pty-like source that honours backpressure: read() is called only when there is room.
  proc.stdout = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      for (;;) {
        if (mode === 'finite' && produced >= Number(count)) return void this.push(null);
        if (killed) return void this.push(null);
        if (!this.push(String(++produced) + '\\r\\n')) return;
      }
    },
  });
  proc.stdin = new PassThrough();
  proc.terminal = { resize() {} };
  proc.wait = () => exited;
  proc.kill = (signal) => {
    killed = signal;
    finish({ exitCode: null, signal: 'SIGKILL' });
    return true;
  };
  return proc;
};
const io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), cwd: '/', cwdGone: false, env: {} };
const status = await runForeground(launch, io, { terminal: true });
process.stderr.write('status=' + status + ' killed=' + killed + ' produced-over-1M=' + (produced > 1e6) + '\\n');
process.exitCode = status;
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let script: string;
beforeAll(() => {
  if (!existsSync(START)) throw new Error(`${START} is missing: build @ns/cli first (cd packages/cli && npx tsc -p .)`);
  dir = mkdtempSync(join(tmpdir(), 'ns-cli-start-'));
  script = join(dir, 'foreground.mjs');
  writeFileSync(script, SCRIPT);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `pipeline` in bash, `$RUN` the fake foreground run; killed with SIGKILL after 30 s. */
function bash(pipeline: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `RUN="${process.execPath} ${script}"; ${pipeline}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('runForeground with a terminal', () => {
  it('writes all the output to a reader slower than 2 s, after the process has exited', async () => {
    const r = await bash('$RUN finite 200000 | (sleep 3; wc -l); echo "status=${PIPESTATUS[0]}"');
    expect(r.stdout).toBe('200000\nstatus=0\n');
    expect(r.stderr).toBe('status=0 killed=null produced-over-1M=false\n');
  }, 40_000);

  it('kills the process (SIGKILL) and exits 141 when the reader goes away, without reading on', async () => {
    const started = Date.now();
    const r = await bash('$RUN endless | head -1; echo "status=${PIPESTATUS[0]}"');
    expect(r.stdout).toBe('1\r\nstatus=141\n');
    // Backpressure: the process was not read ahead without bound before EPIPE came.
    expect(r.stderr).toBe('status=141 killed=SIGKILL produced-over-1M=false\n');
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 40_000);
});
