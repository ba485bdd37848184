/**
 * `--console-socket` (runc's terminals.md, "detached new terminal"): the pty master of a
 * process started with a terminal is sent to a unix socket the caller listens on, in one
 * SCM_RIGHTS message whose data is the master's name (runc's cmsg.SendRawFd), so that the
 * caller (podman's conmon, containerd's shim) owns the console while ns exits.
 */
import { closeSync } from 'node:fs';
import { NsError, sendFd, unixConnect } from '@ns/syscalls';
import { socketProblem } from './unix-socket.js';

/**
 * Check that `path` is a unix socket, connect to it and send `master` with `name`.
 * @param path the socket's path (ExecOptions.consoleSocket)
 * @param master the pty master's descriptor (the caller keeps and closes its own)
 * @param name the message's data: the master's name as runc sends it (`/dev/ptmx`)
 * @throws NsError `ERR_NS_CONFIG` (path `consoleSocket`) for a path that does not exist or is
 *   not a socket; the errno name (`ECONNREFUSED` when nobody listens, `EPIPE` ...) otherwise,
 *   each message starting `consoleSocket PATH:`.
 * @see unix(7), runc docs/terminals.md
 */
export function sendConsole(path: string, master: number, name: string): void {
  const socket = connectConsoleSocket(path);
  try {
    sendConsoleOn(socket, path, master, name);
  } finally {
    closeSync(socket);
  }
}

/**
 * The first half of {@link sendConsole}: check `path` and connect to it (runc connects before
 * it starts the container's init, which sends the console later). The caller closes it.
 * @returns the connected socket's descriptor (close-on-exec)
 * @throws NsError as sendConsole for the path and the connection
 */
export function connectConsoleSocket(path: string): number {
  const problem = socketProblem(path);
  if (problem?.why === 'is not a unix socket') throw new NsError('ERR_NS_CONFIG', `consoleSocket ${path}: not a unix socket (the console's receiver must listen on one)`, { path: 'consoleSocket' });
  if (problem) throw new NsError('ERR_NS_CONFIG', `consoleSocket ${path}: ${problem.why} (a unix socket to receive the console is expected there)`, { path: 'consoleSocket', cause: problem.cause });
  let socket: number;
  try {
    socket = unixConnect(path);
  } catch (cause) {
    const code = (cause as NsError).code;
    const why = code === 'ECONNREFUSED' ? 'nobody listens on it' : code === 'EAGAIN' ? 'its listener accepts no more connections (queue full)' : (cause as Error).message;
    throw new NsError(code, `consoleSocket ${path}: cannot connect: ${why}`, { path: 'consoleSocket', syscall: 'connect', cause });
  }
  return socket;
}

/**
 * The second half of {@link sendConsole}: send `master` with `name` on the connected `socket`.
 * @throws NsError the errno name (`EPIPE` ...), the message starting `consoleSocket PATH:`
 */
export function sendConsoleOn(socket: number, path: string, master: number, name: string): void {
  try {
    sendFd(socket, master, name);
  } catch (cause) {
    const code = (cause as NsError).code;
    throw new NsError(code, `consoleSocket ${path}: cannot send the console: ${code}`, { path: 'consoleSocket', syscall: 'sendmsg', cause });
  }
}
