/** What exec(), execIn() and their async forms take besides the config (exec.ts). */
import type { StdioEntry } from './stdio.js';

export interface ExecOptions {
  /**
   * The process's 0, 1, 2 (and more), as child_process `stdio`: `'pipe'` (default; streams on
   * the returned process), `'inherit'`, `'ignore'`, a descriptor number, or an object with
   * an `fd` (a stream such as `process.stdout`). Ignored in terminal mode.
   */
  stdio?: 'pipe' | 'inherit' | 'ignore' | StdioEntry[];
  /** Kill the process with `killSignal` when this signal aborts. */
  signal?: AbortSignal;
  /** Signal sent on abort; default `SIGKILL` (a container's pid 1 ignores an unhandled SIGTERM). */
  killSignal?: NodeJS.Signals | number;
  /** Initial pty size in terminal mode (columns, rows); default 80x24. */
  terminalSize?: { cols: number; rows: number };
  /**
   * Terminal mode only: send the pty's master to the AF_UNIX socket at this path (SCM_RIGHTS,
   * as runc's `--console-socket`; the message's data is the master's name, `/dev/ptmx`, or
   * `/dev/pts/ptmx` for execIn()) instead of keeping it: the returned process then has no
   * `stdin`, `stdout` or `terminal`, the receiver (conmon, containerd's shim) reads and writes
   * the console. Sent before the process starts; checked first (`ERR_NS_CONFIG` naming
   * `consoleSocket` for a path that is missing or not a socket, `ECONNREFUSED` when nobody
   * listens), nothing left behind on failure.
   */
  consoleSocket?: string;
  /**
   * Let the process outlive this Node process: no PR_SET_PDEATHSIG, and the handle does not
   * keep the event loop alive (as `child_process` `detached` + `unref()`).
   */
  detached?: boolean;
  /**
   * Create only (OCI create): set the container up, then have its process wait on this FIFO
   * before execve; exec() returns at once. Implies `detached`. See createContainer().
   */
  startFifo?: string;
  /**
   * Milliseconds the set-up may take before the process is killed and the call fails with
   * `ETIMEDOUT` (default 30 000 plus the `timeout`s of the hooks run during the set-up, 0 for
   * none): a container can stop (SIGSTOP) a process that
   * joins it, which must not hang the caller. See @ns/syscalls SpawnOptions.setupTimeout.
   */
  setupTimeout?: number;
  /**
   * exec() only: have the ns front at the other end of this connected unix socket clone the
   * process, so that it is the front's child and not this process's (`ns serve` creating a
   * container for a client: the client's subreaper must reap it). See @ns/syscalls
   * SpawnOptions.cloneVia. The returned process is then not watched for its exit by this
   * process (its exit status goes to the front): release() it once created.
   */
  cloneVia?: number;
}
