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
