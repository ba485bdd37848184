/**
 * The listening socket of `ns serve`: `<root>/.server`, mode 0600, owned by the server's user.
 * A path this user does not own, or that is not a socket, is never used, removed or followed;
 * a socket another server answers on makes this one refuse to start; a stale one (nobody
 * listening: a server that was killed) is replaced.
 */
import { chmodSync, closeSync, linkSync, lstatSync, mkdirSync, rmSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { NsError, ErrorCode } from '@ns/namespaces';
import { unixConnect, unixListen } from '@ns/syscalls';

/** The socket's name in the state root. */
export const SERVER_SOCKET = '.server';

/** A socket bound and listening at its path. */
export interface ServerSocket {
  /** `<root>/.server`. */
  path: string;
  /** The listening descriptor (close-on-exec, blocking). */
  fd: number;
  /** Device and inode of the socket file: only that file is removed when the server stops. */
  dev: number;
  ino: number;
}

const euid = (): number => process.geteuid?.() ?? 0;

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Make sure the state root `root` is a directory of this user (created 0700 when missing,
 * as the state store does): never a symlink or another user's directory, which could point the
 * socket somewhere else.
 * @throws NsError `EPERM` naming the path otherwise
 */
function ownRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = lstatSync(root);
  if (st.isSymbolicLink()) {
    throw new NsError('EPERM', `serve: ${root}: a symbolic link (the state root must be the server's own directory itself: give its real path)`, { path: root });
  }
  if (!st.isDirectory() || st.uid !== euid()) {
    throw new NsError('EPERM', `serve: ${root}: not a directory owned by uid ${euid()} (a state root must be the server's own)`, { path: root });
  }
}

/**
 * Clear the way for a server at `path`: nothing there, or a stale socket of this user
 * (removed). Another user's file, a symlink or anything but a socket is left alone.
 * @throws NsError `ERR_NS_STATE` when a server answers there; `EPERM` for a path not ours
 */
function clearStale(path: string): void {
  const st = lstatOrNull(path);
  if (st === null) return;
  if (!st.isSocket() || st.uid !== euid()) {
    throw new NsError('EPERM', `serve: ${path} exists and is not a socket of uid ${euid()}: left alone`, { path });
  }
  let fd: number;
  try {
    fd = unixConnect(path);
  } catch (err) {
    // Nobody listens: a server that died without removing it.
    if ((err as NsError).code === 'ECONNREFUSED') {
      unlinkSync(path);
      return;
    }
    if ((err as NsError).code === 'ENOENT') return;
    throw new NsError(ErrorCode.STATE, `serve: a server already answers at ${path} (its queue is full)`, { path });
  }
  closeSync(fd);
  throw new NsError(ErrorCode.STATE, `serve: a server already answers at ${path}`, { path });
}

/**
 * Bind the server's socket at `<root>/.server`: bound at a temporary name, made 0600, then
 * linked to its name (link(2) fails when another server got there first, so two servers
 * starting at once never both run).
 * @throws NsError `ERR_NS_STATE` when a server answers there already; `EPERM` when the root or
 *   the path is not this user's; the errno of bind/listen otherwise
 */
export function bindServerSocket(root: string): ServerSocket {
  ownRoot(root);
  const path = join(root, SERVER_SOCKET);
  clearStale(path);
  const tmp = join(root, `${SERVER_SOCKET}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  const fd = unixListen(tmp, 128);
  try {
    chmodSync(tmp, 0o600);
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new NsError(ErrorCode.STATE, `serve: another server started at ${path} meanwhile`, { path });
      }
      throw err;
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  const st = lstatSync(path);
  return { path, fd, dev: st.dev, ino: st.ino };
}

/** Remove the socket file, if it is still the one this server bound (never another's). */
export function removeServerSocket(socket: Pick<ServerSocket, 'path' | 'dev' | 'ino'>): void {
  const st = lstatOrNull(socket.path);
  if (st !== null && st.dev === socket.dev && st.ino === socket.ino) rmSync(socket.path, { force: true });
}
