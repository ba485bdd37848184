/**
 * Descriptors over AF_UNIX sockets (SCM_RIGHTS, unix(7)), which Node's `net` cannot pass, and
 * the seccomp user-space notification calls a listener answers with (seccomp_unotify(2)).
 * Each is one or two system calls of the addon (src/native/unix.cc, seccomp_notify.cc); a
 * failure throws NsError with the errno's name as `code` (`ECONNREFUSED`, `ENOENT` ...).
 * Descriptors returned are close-on-exec and the caller's to close (fs.closeSync).
 */
import { native } from './native.js';

/** A message received with {@link recvFd}. */
export interface ReceivedFd {
  /** The descriptor the message carried, -1 when it carried none. */
  fd: number;
  /** The message's data (runc: the file's name, or the seccomp state JSON). */
  data: Buffer;
  /** The data or the control part was cut (MSG_TRUNC / MSG_CTRUNC). */
  truncated?: true;
}

/** A seccomp notification (struct seccomp_notif). */
export interface SeccompNotification {
  /** The cookie {@link seccompNotifSend} answers with. */
  id: bigint;
  /** The calling thread, in the listener's pid namespace (0 if not visible there). */
  pid: number;
  /** The system call number (for `arch`) and its six arguments. */
  nr: number;
  arch: number;
  args: bigint[];
}

/**
 * Connect to the AF_UNIX stream socket at `path`, as runc's `net.Dial("unix", path)` for
 * `--console-socket` and `linux.seccomp.listenerPath`.
 * @returns the connected socket's descriptor
 * @throws NsError `ENOENT` (no such file), `ECONNREFUSED` (a socket nobody listens on, or a
 *   file that is not a socket), `EAGAIN` (the listener's queue is full: the connect does not
 *   wait, as Go's), `EACCES`, `ENAMETOOLONG` past 107 bytes.
 * @see connect(2), unix(7)
 */
export function unixConnect(path: string): number {
  return native().unixConnect(path);
}

/**
 * Bind an AF_UNIX stream socket at `path` and listen (a receiver, e.g. in tests).
 * @param backlog listen(2)'s queue length (default 16)
 * @throws NsError `EADDRINUSE` when `path` exists, `ENAMETOOLONG` past 107 bytes.
 */
export function unixListen(path: string, backlog?: number): number {
  return native().unixListen(path, backlog);
}

/**
 * Accept one connection on a listening socket, waiting at most `timeoutMs` milliseconds
 * (-1 for ever; it blocks the calling thread meanwhile).
 * @returns the connection's descriptor, or null when nobody connected in time
 */
export function unixAccept(fd: number, timeoutMs = -1): number | null {
  return native().unixAccept(fd, timeoutMs);
}

/**
 * Send `fd` over the connected AF_UNIX socket `socket` with `payload` as the message's data,
 * in one sendmsg(2) with an SCM_RIGHTS control message (runc's cmsg.SendRawFd).
 * @param payload the data (a string is sent as UTF-8); at least one byte is always sent
 * @throws NsError `EPIPE` / `ECONNRESET` when the peer is gone (no SIGPIPE is raised)
 */
export function sendFd(socket: number, fd: number, payload: string | Buffer): void {
  native().sendFd(socket, fd, typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload);
}

/**
 * Receive one message and the descriptor it carries (runc's cmsg.RecvFile); blocks until one
 * comes. A descriptor past the first is closed.
 * @param maxBytes the most data taken (default 4096; runc's MaxNameLen); more is cut (`truncated`)
 * @returns the message, or null at end of file
 */
export function recvFd(socket: number, maxBytes?: number): ReceivedFd | null {
  return native().recvFd(socket, maxBytes);
}

/** A message received with {@link recvFds}. */
export interface ReceivedFds {
  /** The message's data; empty with no descriptor at end of file. */
  data: Buffer;
  /** The descriptors it carried (SCM_RIGHTS), in order, close-on-exec and the caller's to close. */
  fds: number[];
  /** The control part was cut (MSG_CTRUNC): the kernel closed the descriptors that did not fit. */
  truncated?: true;
}

/**
 * Receive what is there on a connected AF_UNIX stream socket without waiting (one recvmsg(2)
 * with MSG_DONTWAIT), with the descriptors its SCM_RIGHTS control messages carry.
 * @param maxBytes the most data taken in this call (the rest stays for the next)
 * @param maxFds the most descriptors kept (at most 16); those past it are closed
 * @returns the data and descriptors, or null when nothing is there yet (EAGAIN)
 * @throws NsError `ECONNRESET`, `EBADF`, `ENOTSOCK` as recvmsg(2) says
 * @see recvmsg(2), unix(7) "SCM_RIGHTS"
 */
export function recvFds(socket: number, maxBytes: number, maxFds: number): ReceivedFds | null {
  return native().recvFds(socket, maxBytes, maxFds);
}

/** The credentials of the peer of a connected unix socket (struct ucred). */
export interface PeerCredentials {
  /** Its pid, in this process's pid namespace (0 when it is not visible there). */
  pid: number;
  uid: number;
  gid: number;
}

/**
 * Who is at the other end of the connected AF_UNIX socket `socket`, as the kernel recorded it
 * when the peer called connect(2) (or socketpair(2)): SO_PEERCRED.
 * @throws NsError `ENOTSOCK`, `EBADF`, `ENOTCONN`
 * @see unix(7) "SO_PEERCRED"
 */
export function peerCred(socket: number): PeerCredentials {
  return native().peerCred(socket);
}

/**
 * Call `onReadable()` each time descriptor `fd` can be read without blocking (data, a
 * connection to accept, end of file or an error: the next read or accept says which), polled
 * by libuv on Node's event loop, until {@link unwatchFd}. The watcher keeps the event loop
 * alive and takes `fd` over: unwatchFd closes it (never close it yourself meanwhile).
 * @throws NsError `EEXIST` when `fd` is watched already; another errno when libuv refuses it
 *   (then `fd` stays the caller's)
 * @see uv_poll_t (libuv), poll(2)
 */
export function watchReadable(fd: number, onReadable: () => void): void {
  native().watchReadable(fd, onReadable);
}

/**
 * Like {@link watchReadable}, with the reading done by the watcher: `fd` is made non-blocking
 * and, each time it can be read, read(2) once for at most `readMax` bytes (up to 1 MiB):
 * `onData(bytes)`, then at end of file (or on an error) `onData(null)`, the watcher then
 * stopped and `fd` closed (no unwatchFd). A pipe whose end of file is the news (a pool
 * member's replies) costs one call into JavaScript this way, with no read call from it.
 * @throws NsError as watchReadable; the errno of fcntl(2) (F_SETFL O_NONBLOCK), `fd` then the caller's
 */
export function watchData(fd: number, onData: (data: Buffer | null) => void, readMax = 4096): void {
  if (!Number.isInteger(readMax) || readMax < 1 || readMax > 1 << 20) throw new RangeError(`readMax: expected 1 to 1048576 bytes, got ${readMax}`);
  native().watchReadable(fd, onData, readMax);
}

/**
 * Let the watcher of `fd` ({@link watchReadable}, {@link watchData}) keep the event loop
 * alive (`on`, as a new watcher does) or not (uv_ref, uv_unref).
 * @returns false when `fd` is not watched
 */
export function refWatch(fd: number, on: boolean): boolean {
  return native().refFd(fd, on);
}

/**
 * Stop the watcher of `fd` ({@link watchReadable}) and close `fd` once libuv is done with it.
 * @returns false when `fd` was not watched (it is then left alone)
 */
export function unwatchFd(fd: number): boolean {
  return native().unwatchFd(fd);
}

/**
 * A copy of descriptor `fd` of process `pid` (pidfd_open(2), pidfd_getfd(2)), as runc takes
 * the seccomp listener from runc init. Needs ptrace access to the process.
 * @throws NsError `ESRCH` (no such process), `EBADF` (no such descriptor), `EPERM`
 */
export function pidfdGetfd(pid: number, fd: number): number {
  return native().pidfdGetfd(pid, fd);
}

/**
 * Wait at most `timeoutMs` (-1: for ever) for a notification on a seccomp listener and take
 * it (SECCOMP_IOCTL_NOTIF_RECV).
 * @returns the notification, or null when none came in time
 * @throws NsError `ENOENT` when the caller went away meanwhile
 * @see seccomp_unotify(2)
 */
export function seccompNotifRecv(listener: number, timeoutMs = -1): SeccompNotification | null {
  return native().seccompNotifRecv(listener, timeoutMs);
}

/** SECCOMP_USER_NOTIF_FLAG_CONTINUE: let the kernel run the call as if no filter had stopped it. */
export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

/**
 * Answer a notification (SECCOMP_IOCTL_NOTIF_SEND): the call returns `val` when `error` is 0,
 * else fails with errno `error` (a positive number, e.g. 1 for EPERM); with
 * `flags` {@link SECCOMP_USER_NOTIF_FLAG_CONTINUE} (val and error 0) the kernel runs it.
 * @throws NsError `ENOENT` when the caller went away meanwhile
 * @see seccomp_unotify(2)
 */
export function seccompNotifSend(listener: number, id: bigint, answer: { val?: number; error?: number; flags?: number }): void {
  native().seccompNotifSend(listener, id, answer.val ?? 0, -(answer.error ?? 0), answer.flags ?? 0);
}
