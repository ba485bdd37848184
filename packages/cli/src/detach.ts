/**
 * `ns run -d` and `ns create`: start a container that outlives `ns`, with ns's own stdio
 * passed through, and the output files of `--stdout` and `--stderr`.
 */
import { closeSync, openSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, NsError, createContainer, deleteContainer, runContainer, type Container, type StateStore, type StdioEntry } from '@ns/namespaces';
import { EXIT, reportError, exitCodeFor } from './errors.js';
import { absolutePath, baseDir, type ResolvedIo } from './io.js';

/** Where the container's output goes: `--stdout FILE`, `--stderr FILE`. */
export interface OutputFiles {
  stdout?: string;
  stderr?: string;
  /**
   * Both stdout and stderr, unless `stdout` / `stderr` say otherwise (what `run --log` used
   * to be; the CLI no longer sets it, see LOG_AFTER_VERB).
   * @deprecated give `stdout` and `stderr` the same file
   */
  log?: string;
}

/** Descriptors opened for {@link OutputFiles}; `close()` closes them (the child has its own copies). */
export interface OpenedOutput {
  /** stdio[1], stdio[2]: a descriptor, or undefined when no file was given. */
  stdout?: number;
  stderr?: number;
  close(): void;
}

/**
 * Open the output files for appending, creating them (mode 0644 before the umask), as a
 * shell's `>>`. `--stdout` / `--stderr` win over `--log` for their stream; a file given
 * for both is opened once. Relative paths are taken from `cwd` (null: the working directory
 * is gone, only absolute paths then).
 * @throws NsError with the errno name and path when a file cannot be opened (nothing is left open).
 */
export function openOutputFiles(files: OutputFiles, cwd: string | null): OpenedOutput {
  const opened = new Map<string, number>();
  const open = (option: string, file: string): number => {
    const path = absolutePath(cwd, file, option);
    const known = opened.get(path);
    if (known !== undefined) return known;
    try {
      const fd = openSync(path, 'a', 0o644);
      opened.set(path, fd);
      return fd;
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
      throw new NsError(code, `${option} ${path}: cannot open for writing: ${code}`, { path, syscall: 'open', cause });
    }
  };
  const close = () => {
    for (const fd of opened.values()) closeSync(fd);
    opened.clear();
  };
  try {
    const out: OpenedOutput = { close };
    const stdout = files.stdout ?? files.log;
    const stderr = files.stderr ?? files.log;
    if (stdout !== undefined) out.stdout = open(files.stdout !== undefined ? '--stdout' : '--log', stdout);
    if (stderr !== undefined) out.stderr = open(files.stderr !== undefined ? '--stderr' : '--log', stderr);
    return out;
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * `ns run -d`: start `container` detached (no parent-death signal, not holding ns's event
 * loop), record its state in `store`, and return 0 once its command runs, printing nothing
 * (as `runc run -d`). With `createOnly` (`ns create`), return once it is set up and waiting
 * for `ns start` instead.
 *
 * Its stdio is runc's "detached pass-through" (runc docs/terminals.md): the container's
 * process gets the very descriptors 0, 1, 2 that `ns` was started with, and keeps them after
 * `ns` exits: containerd's shim and conmon hand the runtime pipes and read the container from
 * them (and the end of a piped stdin reaches it as end of file). `files.stdout` /
 * `files.stderr` (`--stdout` / `--stderr`) send one of them to a file instead; `files.log`
 * (the library's "both") still does so for both. With a terminal the pty's master goes to
 * `extras.consoleSocket` (runc `--console-socket`), without which a terminal is refused with
 * runc's message.
 */
/** runc's `--pid-file` and `--preserve-fds` of `create` and `run -d`. */
export interface DetachExtras {
  /** Write the container process's pid there once it is created (runc `--pid-file`; no newline, written whole by a rename). */
  pidFile?: string;
  /** Pass descriptors 3 .. 3+N-1 of `ns` on to the container at the same numbers (runc `--preserve-fds N`). */
  preserveFds?: number;
  /** With a terminal: send the pty master to the unix socket at this path (runc `--console-socket`). */
  consoleSocket?: string;
}

/**
 * The descriptors `--preserve-fds N` passes on: 3 .. 3+N-1, each checked to be open.
 * @throws NsError `ERR_NS_CONFIG` naming `--preserve-fds` and the first closed descriptor.
 */
export function preservedFds(n: number | undefined): number[] {
  if (n === undefined || n === 0) return [];
  if (!Number.isInteger(n) || n < 0 || n > 65536) throw new NsError(ErrorCode.CONFIG, `--preserve-fds ${n}: expected a count of descriptors after 2`, { path: 'preserveFds' });
  const fds = Array.from({ length: n }, (_, i) => 3 + i);
  for (const fd of fds) {
    // Node takes the lowest free numbers for its own descriptors as it starts, the event
    // loop's epoll first: when the caller gave fewer than N, the first one missing is Node's
    // epoll (or eventfd), never a thing to hand to a container.
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      throw new NsError(ErrorCode.CONFIG, `--preserve-fds ${n}: descriptor ${fd} is not open in ns`, { path: 'preserveFds' });
    }
    if (/^anon_inode:\[(eventpoll|eventfd|signalfd|timerfd)\]$/.test(target)) {
      throw new NsError(ErrorCode.CONFIG, `--preserve-fds ${n}: descriptor ${fd} was not given to ns (it is Node's own ${target})`, { path: 'preserveFds' });
    }
  }
  return fds;
}

/**
 * An error of the library's `consoleSocket` option as the CLI names it (`--console-socket
 * PATH: ...`); anything else as it is.
 */
export function consoleSocketError(err: unknown): unknown {
  if (!(err instanceof NsError) || err.path !== 'consoleSocket' || !err.message.startsWith('consoleSocket ')) return err;
  return new NsError(err.code, `--console-socket ${err.message.slice('consoleSocket '.length)}`, {
    path: 'consoleSocket',
    cause: err,
    ...(err.errno !== undefined ? { errno: err.errno } : {}),
    ...(err.syscall !== undefined ? { syscall: err.syscall } : {}),
  });
}

/** Write `pid` to `file` whole: a temporary file beside it, renamed over it (as runc `--pid-file`). */
export function writePidFile(file: string, pid: number): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, String(pid), { mode: 0o644 });
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export async function runDetached(container: Container, files: OutputFiles, store: StateStore, io: ResolvedIo, createOnly = false, extras: DetachExtras = {}): Promise<number> {
  if (container.terminal && extras.consoleSocket === undefined) {
    reportError(io, new NsError(ErrorCode.CONFIG, 'cannot allocate tty if ns will detach without setting console socket (--console-socket PATH)', { path: 'terminal' }));
    return EXIT.FAILURE;
  }
  const consoleSocket = extras.consoleSocket !== undefined ? absolutePath(baseDir(io), extras.consoleSocket, '--console-socket') : undefined;
  let output: OpenedOutput;
  try {
    output = openOutputFiles(files, baseDir(io));
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
  try {
    const pidFile = extras.pidFile !== undefined ? absolutePath(baseDir(io), extras.pidFile, '--pid-file') : undefined;
    // Handed over by a front (ns serve): the caller's descriptors, and the front clones.
    const front = io.front;
    const inherit = (k: 0 | 1 | 2): StdioEntry => (front ? front.stdio[k] : 'inherit');
    const stdio: StdioEntry[] = [inherit(0), output.stdout ?? inherit(1), output.stderr ?? inherit(2), ...preservedFds(extras.preserveFds)];
    const console = consoleSocket !== undefined && container.terminal ? { consoleSocket } : {};
    const via = front ? { cloneVia: front.cloneVia } : {};
    const { state, process: proc } = createOnly ? createContainer(container, { store, stdio, ...console, ...via }) : runContainer(container, { store, detached: true, stdio, ...console, ...via });
    if (front) {
      // The front's child: its exit is the client's to reap, never watched here.
      proc.release();
      front.containerPid = state.pid;
      front.rollback = async () => void (await deleteContainer(store, state.id, { force: true }).catch(() => undefined));
    }
    if (pidFile !== undefined) {
      try {
        writePidFile(pidFile, state.pid);
      } catch (err) {
        // As runc: a container whose pid file cannot be written is taken down again.
        await deleteContainer(store, state.id, { force: true }).catch(() => undefined);
        throw new NsError((err as NodeJS.ErrnoException).code ?? 'EIO', `--pid-file ${pidFile}: ${(err as Error).message}`, { path: pidFile, cause: err });
      }
    }
    return 0;
  } catch (err) {
    reportError(io, consoleSocketError(err));
    return exitCodeFor(err);
  } finally {
    output.close();
  }
}
