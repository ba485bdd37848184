/**
 * `ns exec [options] ID CMD ARGS...` (or `ID -- CMD ARGS...`): run another process in a running container, as
 * `runc exec`: it joins the namespaces of the container's init and its root, with the
 * container's environment, working directory, user and capabilities unless told otherwise,
 * and `ns` waits for it in the foreground (stdio, `-t`, signals and exit status as `ns run`).
 */
import { closeSync } from 'node:fs';
import { native } from '@ns/syscalls';
import { ErrorCode, MAX_ID, NsError, addProcessCapabilities, changeCapabilities, currentStatus, execIn, type ContainerState, type ExecInProcess, type StateStore } from '@ns/namespaces';
import { EXIT, exitCodeFor, reportError, reportWarning } from '../errors.js';
import { consoleSocketError, preservedFds, writePidFile } from '../detach.js';
import { processFromFile } from './exec-process.js';
import { absolutePath, baseDir, type ResolvedIo } from '../io.js';
import { runForeground } from '../start.js';
import { applyEnv, checkUserOption, withTerm } from '../flags.js';

/** The options of `ns exec`. */
export interface ExecCommandOptions {
  /** The container id (first positional argument). */
  id: string;
  /** The command: the words after the ID, or after `--` (see execWords()). */
  command?: string[];
  /** `-t, --tty`: allocate a pseudo-terminal (in the container's /dev/pts). */
  tty?: boolean;
  /** `-u, --user USER[:GROUP]`: name or uid from the container's /etc/passwd (default: the container's user). */
  user?: string;
  /**
   * `-g, --additional-gids GID` (repeatable), as `runc exec`: supplementary group ids added to
   * the container's `process.user.additionalGids` for this process (as given on the command line).
   */
  additionalGids?: string[];
  /** `-e, --env K=V` / `-e K`: added to the container's environment (repeatable). */
  env?: string[];
  /** `--cwd DIR`: working directory inside the container (default: the container's). */
  cwd?: string;
  /** `--cap-add CAP` / `--cap-drop CAP`: change the container's capabilities for this process. */
  capAdd?: string[];
  capDrop?: string[];
  /**
   * `-c, --cap CAP` (repeatable), as runc exec: added to the process's bounding, effective and
   * permitted sets (and ambient where inheritable has it), on top of the container's.
   */
  cap?: string[];
  /** `--preserve-fds N`: pass descriptors 3 .. 3+N-1 of `ns` on to the process at the same numbers (runc exec). */
  preserveFds?: number;
  /** `-p, --process FILE`: the process as an OCI `process` JSON object instead (runc exec `--process`). */
  process?: string;
  /** `--ignore-paused`: exec into a paused container anyway (the process waits, frozen, until resume), as runc. */
  ignorePaused?: boolean;
  /** `-d, --detach`: start it and exit 0 without waiting (runc exec `--detach`). */
  detach?: boolean;
  /** `--pid-file FILE`: write the process's pid there once it runs (runc exec `--pid-file`). */
  pidFile?: string;
  /** `--console-socket PATH` (with `-d` and `-t`): send the pty master there (runc exec `--console-socket`). */
  consoleSocket?: string;
}

/**
 * `-g, --additional-gids` values as group ids: each a decimal integer 0 ... 4294967294
 * (2^32 - 2, as setgroups(2) takes; runc exec refuses negatives the same way).
 * @throws NsError `ERR_NS_CONFIG` (path `additionalGids`) naming the flag and the value.
 */
export function parseAdditionalGids(values: readonly string[]): number[] {
  return values.map((value) => {
    const gid = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!(gid <= MAX_ID)) {
      throw new NsError(ErrorCode.CONFIG, `--additional-gids ${JSON.stringify(value)}: expected a group id, an integer 0..${MAX_ID}`, { path: 'additionalGids' });
    }
    return gid;
  });
}

/**
 * The process `ns exec` starts in `state`'s container (capabilities: see {@link execState}).
 * With `-t` the environment gets `TERM=xterm` when it has no `TERM` (as docker exec). With
 * `-g`, the supplementary groups are the container's `additionalGids` and then those, as
 * `runc exec` (plus, for a user given without a group, its /etc/group memberships, as ever).
 * @throws NsError `ERR_NS_CONFIG` for no command, a bad `-e` or a bad `-g`.
 */
export function execProcess(options: ExecCommandOptions, state: ContainerState, hostEnv: NodeJS.ProcessEnv): ExecInProcess {
  if (options.command === undefined || options.command.length === 0) {
    throw new NsError(ErrorCode.CONFIG, 'no command given: ns exec ID CMD ARGS... (or ns exec ID -- CMD ARGS...)', { path: 'args' });
  }
  const proc: ExecInProcess = { args: [...options.command], terminal: options.tty ?? false };
  if (options.env !== undefined && options.env.length > 0) proc.env = applyEnv(state.config.env, options.env, hostEnv);
  if (proc.terminal) {
    const env = proc.env ?? state.config.env ?? [];
    if (!env.some((e) => e.startsWith('TERM='))) proc.env = withTerm(env);
  }
  if (options.user !== undefined) proc.user = checkUserOption(options.user);
  if (options.cwd !== undefined) proc.cwd = options.cwd;
  if (options.additionalGids !== undefined && options.additionalGids.length > 0) {
    proc.additionalGids = [...(state.config.additionalGids ?? []), ...parseAdditionalGids(options.additionalGids)];
  }
  return proc;
}

/**
 * The state execIn() is given: with `--cap-add` / `--cap-drop`, a copy whose config has the
 * changed capability sets (as `ns run` changes them, for the exec's user), then with `--cap`
 * the process's own additions (addProcessCapabilities, runc exec's), since execIn() takes the
 * process's capabilities from the container config.
 * @param warnings receives a warning for each `--cap-add` name the running kernel does not know
 * @throws NsError `ERR_NS_CONFIG` naming an unknown capability.
 */
export function execState(options: ExecCommandOptions, state: ContainerState, warnings: string[] = []): ContainerState {
  const add = options.capAdd ?? [];
  const drop = options.capDrop ?? [];
  const cap = options.cap ?? [];
  if (add.length === 0 && drop.length === 0 && cap.length === 0) return state;
  let config = state.config;
  if (add.length > 0 || drop.length > 0) config = { ...changeCapabilities({ ...config, user: options.user ?? config.user }, add, drop, { warnings }), user: config.user };
  // runc exec --cap: on top of the sets as they are now.
  if (cap.length > 0) config = addProcessCapabilities(config, cap, { warnings });
  return { ...state, config };
}

/**
 * `ns exec`: the process's exit status (128 + N when killed by signal N); 125 when ns failed,
 * including an unknown container or one that is not running; 126 / 127 when the command
 * cannot be executed / is not found.
 */
/** SIGKILL `pid` through a pidfd (a process that has exited already: nothing). */
function killPid(pid: number): void {
  let fd = -1;
  try {
    fd = native().pidfdOpen(pid);
    native().pidfdSignal(fd, 9);
  } catch {
    // gone
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export async function execCommand(options: ExecCommandOptions, store: StateStore, io: ResolvedIo): Promise<number> {
  let state: ContainerState;
  let proc: ExecInProcess;
  const warnings: string[] = [];
  let extraFds: number[] = [];
  try {
    state = store.read(options.id);
    // runc exec's words (exec.go): a stopped container, and a paused one, where the process
    // would hang frozen (ns exec forwards SIGTERM to it, so not even that ends it).
    const status = currentStatus(state);
    if (status === 'stopped') throw new NsError(ErrorCode.STATE, `cannot exec in a stopped container: ${options.id}`);
    if (status === 'paused' && !options.ignorePaused) {
      throw new NsError(ErrorCode.STATE, `cannot exec in a paused container (use --ignore-paused to override): ${options.id}`);
    }
    if (options.process !== undefined) {
      if (options.command !== undefined && options.command.length > 0) throw new NsError(ErrorCode.CONFIG, '--process gives the command: no words after the ID with it', { path: 'args' });
      proc = processFromFile(options.process, baseDir(io), state.config);
    } else {
      proc = execProcess(options, state, io.env);
    }
    state = execState(options, state, warnings);
    extraFds = preservedFds(options.preserveFds);
    // runc's two rules (utils_linux.go validateProcessSpec), in its words.
    if (options.consoleSocket !== undefined && (!options.detach || !proc.terminal)) throw new NsError(ErrorCode.CONFIG, 'cannot use console socket if ns will not detach or allocate tty', { path: 'consoleSocket' });
    if (options.detach && proc.terminal && options.consoleSocket === undefined) throw new NsError(ErrorCode.CONFIG, 'cannot allocate tty if ns will detach without setting console socket (--console-socket PATH)', { path: 'terminal' });
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
  for (const w of warnings) reportWarning(io, w);
  const pidFile = options.pidFile !== undefined ? absolutePath(baseDir(io), options.pidFile, '--pid-file') : undefined;
  // Handed over by a front that clones (ns serve): only a detached exec (protocol.ts).
  const front = io.front;
  if (front && !options.detach) {
    reportError(io, new NsError(ErrorCode.STATE, 'serve: a foreground exec reached the server (it runs detached ones only)'));
    return EXIT.FAILURE;
  }
  if (options.detach) {
    try {
      const consoleSocket = options.consoleSocket !== undefined ? { consoleSocket: absolutePath(baseDir(io), options.consoleSocket, '--console-socket') } : {};
      // The caller's descriptors and a clone by its front, through a server; else ours.
      const stdio = front ? [...front.stdio] : ['inherit' as const, 'inherit' as const, 'inherit' as const];
      const p = execIn(state, proc, { detached: true, stdio: [...stdio, ...extraFds], ...consoleSocket, ignorePaused: options.ignorePaused === true, ...(front ? { cloneVia: front.cloneVia } : {}) });
      // Never reaped here: its exit status belongs to the caller's subreaper (conmon and
      // containerd's shim wait for the pid in the pid file), as runc leaves it.
      p.release();
      if (front) {
        front.containerPid = p.pid;
        const pid = p.pid;
        front.rollback = async () => killPid(pid);
      }
      if (pidFile !== undefined) writePidFile(pidFile, p.pid);
      return 0;
    } catch (err) {
      reportError(io, consoleSocketError(err));
      return exitCodeFor(err);
    }
  }
  return runForeground(
    (execOptions) => {
      const p = execIn(state, proc, { ...execOptions, ignorePaused: options.ignorePaused === true });
      if (pidFile !== undefined) writePidFile(pidFile, p.pid);
      return p;
    },
    io,
    // --preserve-fds: past 2, at the same numbers (with a terminal too, as runc).
    { terminal: proc.terminal ?? false, ...(extraFds.length > 0 ? { stdio: ['inherit', 'inherit', 'inherit', ...extraFds] } : {}) },
  );
}
