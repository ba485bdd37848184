/**
 * The seccomp agent hand-off (OCI config-linux.md "Seccomp", `listenerPath` /
 * `listenerMetadata`): at the `seccompNotify` step the container's set-up process has
 * installed its filter with a listener and waits; the parent takes a copy of the listener
 * (pidfd_getfd(2), as runc takes it from runc init), connects to the agent's unix socket at
 * `listenerPath` and sends it, with the container process state JSON as the message's data,
 * in one SCM_RIGHTS message (runc's sendContainerProcessState). Only then is the process let
 * go: a process whose listener could not be delivered never runs (the start fails, the child
 * is killed and everything made for it removed).
 */
import { closeSync } from 'node:fs';
import { NsError, configError, pidfdGetfd, sendFd, unixConnect } from '@ns/syscalls';
import type { LinuxSeccomp } from '@ns/seccomp';
import type { Container } from '../config/container.js';
import { SECCOMP_LISTENER_SYNC, seccompNotifies } from '../plan/seccomp.js';
import { registerSyncHandler, type SyncContext } from '../process/sync.js';
import { OCI_VERSION } from './state.js';
import { socketProblem } from '../process/unix-socket.js';

/** The JSON path of the listener's socket in messages. */
const FIELD = 'linux.seccomp.listenerPath';

/** The OCI state of the container as the agent gets it (runtime-spec `State`). */
export interface ListenerState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/**
 * What the agent receives as the message's data: runtime-spec `ContainerProcessState`
 * (config-linux.md "Seccomp"; runc's specs.ContainerProcessState), `fds` naming the one
 * descriptor the message carries.
 */
export interface ContainerProcessState {
  ociVersion: string;
  fds: ['seccompFd'];
  /** The process the filter is for (the container's process, or the one `exec` started). */
  pid: number;
  metadata: string;
  state: ListenerState;
}

/**
 * The state of a container being started (`creating`, its process `pid`), or for a process
 * joined to a running container (execIn()), that container's (`running`, its init's pid),
 * as runc sends them.
 */
export type ListenerStateOf = (pid: number) => ListenerState;

/**
 * Check before anything is started that the agent's socket is there: `listenerPath` must name
 * an existing unix socket (whether someone listens on it is known only at the hand-off).
 * @throws NsError `ERR_NS_CONFIG` naming `linux.seccomp.listenerPath` and the cause.
 */
export function checkSeccompListener(container: Pick<Container, 'seccomp'>): void {
  if (!seccompNotifies(container.seccomp)) return;
  const path = container.seccomp.listenerPath ?? '';
  const problem = socketProblem(path);
  if (problem?.why === 'is not a unix socket') throw configError(`${FIELD}: ${path} is not a unix socket (the seccomp agent's socket is expected there); nothing was started`, FIELD);
  if (problem) throw Object.assign(configError(`${FIELD}: ${path} ${problem.why}: the seccomp agent must listen on a unix socket there; nothing was started`, FIELD), { cause: problem.cause });
}

/**
 * Take the listener out of process `pid` (descriptor `fd` there) and send it with the state
 * to the agent at `profile.listenerPath`.
 * @throws NsError naming `linux.seccomp.listenerPath` (code the errno name: `ECONNREFUSED`
 *   when nobody listens, `EPIPE` when the agent hung up ...)
 */
export function sendSeccompListener(profile: LinuxSeccomp, pid: number, fd: number, state: ListenerState): void {
  const path = profile.listenerPath ?? '';
  const message: ContainerProcessState = { ociVersion: OCI_VERSION, fds: ['seccompFd'], pid, metadata: profile.listenerMetadata ?? '', state };
  const listener = pidfdGetfd(pid, fd);
  try {
    let socket: number;
    try {
      socket = unixConnect(path);
    } catch (cause) {
      const code = (cause as NsError).code;
      const why =
        code === 'ECONNREFUSED'
          ? 'nobody listens there (or it is not a socket)'
          : code === 'ENOENT'
            ? 'it does not exist'
            : code === 'EAGAIN'
              ? 'its listener accepts no more connections (queue full)'
              : (cause as Error).message;
      throw new NsError(code, `${FIELD}: cannot connect to the seccomp agent at ${path}: ${why}; the container's process was not started`, { path: FIELD, syscall: 'connect', cause });
    }
    try {
      sendFd(socket, listener, JSON.stringify(message));
    } catch (cause) {
      const code = (cause as NsError).code;
      throw new NsError(code, `${FIELD}: cannot send the seccomp listener to ${path}: ${code}; the container's process was not started`, { path: FIELD, syscall: 'sendmsg', cause });
    } finally {
      closeSync(socket);
    }
  } finally {
    closeSync(listener);
  }
}

/** The state a sync context's container is started with (`creating`; see {@link ListenerStateOf}). */
function startingState(ctx: SyncContext): ListenerState {
  const c = ctx.container;
  return { ociVersion: OCI_VERSION, id: c.id, status: 'creating', pid: ctx.pid, bundle: c.bundle ?? safeCwd(), annotations: { ...(c.annotations ?? {}) } };
}

function safeCwd(): string {
  try {
    return process.cwd();
  } catch {
    return '/';
  }
}

registerSyncHandler(SECCOMP_LISTENER_SYNC, (ctx) => {
  const profile = ctx.container.seccomp;
  if (!seccompNotifies(profile)) throw new NsError('ERR_NS_CONFIG', `sync step ${JSON.stringify(SECCOMP_LISTENER_SYNC)}: the profile has no SCMP_ACT_NOTIFY rule`);
  sendSeccompListener(profile, ctx.pid, ctx.value, ctx.ociState ? ctx.ociState(ctx.pid) : startingState(ctx));
});
