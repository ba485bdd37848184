/**
 * `ns exec [options] ID -- CMD ARGS...`: run another process in a running container, as
 * `runc exec`: it joins the namespaces of the container's init and its root, with the
 * container's environment, working directory, user and capabilities unless told otherwise,
 * and `ns` waits for it in the foreground (stdio, `-t`, signals and exit status as `ns run`).
 */
import { ErrorCode, NsError, currentStatus, execIn, type ContainerState, type ExecInProcess, type StateStore } from '@ns/namespaces';
import { EXIT, errorLine } from '../errors.js';
import type { ResolvedIo } from '../io.js';
import { runForeground } from '../start.js';
import { applyEnv, changeCapabilities, withTerm } from './run.js';

/** The options of `ns exec`. */
export interface ExecCommandOptions {
  /** The container id (first positional argument). */
  id: string;
  /** The command after `--`. */
  command?: string[];
  /** `-t, --tty`: allocate a pseudo-terminal (in the container's /dev/pts). */
  tty?: boolean;
  /** `-u, --user USER[:GROUP]`: name or uid from the container's /etc/passwd (default: the container's user). */
  user?: string;
  /** `-e, --env K=V` / `-e K`: added to the container's environment (repeatable). */
  env?: string[];
  /** `--cwd DIR`: working directory inside the container (default: the container's). */
  cwd?: string;
  /** `--cap-add CAP` / `--cap-drop CAP`: change the container's capabilities for this process. */
  capAdd?: string[];
  capDrop?: string[];
}

/**
 * The process `ns exec` starts in `state`'s container (capabilities: see {@link execState}).
 * With `-t` the environment gets `TERM=xterm` when it has no `TERM` (as docker exec).
 * @throws NsError `ERR_NS_CONFIG` for no command or a bad `-e`.
 */
export function execProcess(options: ExecCommandOptions, state: ContainerState, hostEnv: NodeJS.ProcessEnv): ExecInProcess {
  if (options.command === undefined || options.command.length === 0) {
    throw new NsError(ErrorCode.CONFIG, 'no command given (put it after --: ns exec ID -- CMD ARGS...)', { path: 'args' });
  }
  const proc: ExecInProcess = { args: [...options.command], terminal: options.tty ?? false };
  if (options.env !== undefined && options.env.length > 0) proc.env = applyEnv(state.config.env, options.env, hostEnv);
  if (proc.terminal) {
    const env = proc.env ?? state.config.env ?? [];
    if (!env.some((e) => e.startsWith('TERM='))) proc.env = withTerm(env);
  }
  if (options.user !== undefined) proc.user = options.user;
  if (options.cwd !== undefined) proc.cwd = options.cwd;
  return proc;
}

/**
 * The state execIn() is given: with `--cap-add` / `--cap-drop`, a copy whose config has the
 * changed capability sets (as `ns run` changes them, for the exec's user), since execIn()
 * takes the process's capabilities from the container config.
 * @throws NsError `ERR_NS_CONFIG` naming an unknown capability.
 */
export function execState(options: ExecCommandOptions, state: ContainerState): ContainerState {
  const add = options.capAdd ?? [];
  const drop = options.capDrop ?? [];
  if (add.length === 0 && drop.length === 0) return state;
  const config = changeCapabilities({ ...state.config, user: options.user ?? state.config.user }, add, drop);
  return { ...state, config: { ...config, user: state.config.user } };
}

/**
 * `ns exec`: the process's exit status (128 + N when killed by signal N); 125 when ns failed,
 * including an unknown container or one that is not running; 126 / 127 when the command
 * cannot be executed / is not found.
 */
export async function execCommand(options: ExecCommandOptions, store: StateStore, io: ResolvedIo): Promise<number> {
  let state: ContainerState;
  let proc: ExecInProcess;
  try {
    state = store.read(options.id);
    if (currentStatus(state) === 'stopped') throw new NsError(ErrorCode.STATE, `container ${options.id} is not running`);
    proc = execProcess(options, state, io.env);
    state = execState(options, state);
  } catch (err) {
    io.stderr(errorLine(err));
    return EXIT.FAILURE;
  }
  return runForeground((execOptions) => execIn(state, proc, execOptions), io, { terminal: proc.terminal ?? false });
}
