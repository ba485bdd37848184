/**
 * `ns serve`: a warm `ns` that runs the calls fronts hand to it (docs/cli-start.md, option C).
 *
 * Each connection is checked with SO_PEERCRED (this user's only), then its request is read
 * without ever blocking the event loop (a libuv watcher and MSG_DONTWAIT): argv, working
 * directory, environment and the caller's descriptors 0, 1, 2. A call the policy
 * (protocol.ts handedOff) does not take is answered `F` at once. The others run one at a time,
 * in arrival order, with the CLI's main() in this process, its writers on the caller's
 * descriptors 1 and 2: main() swaps process-wide state while it runs (the `warning` listeners,
 * see index.ts), and the verbs served take milliseconds, so a queue costs nothing and keeps
 * every call exactly as it would run in a Node of its own. A malformed request, another
 * user, or a request not complete in time closes that connection only.
 */
import { closeSync, openSync, readFileSync, statSync, write, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { native, peerCred, recvFds, unixAccept, unwatchFd, watchReadable } from '@ns/syscalls';
import type { CliIo, FrontCall, ResolvedIo } from '../io.js';
import { ANSWER_REFUSED, ANSWER_RUNNING, MalformedRequest, REQUEST_FDS, decodeRequest, handedOff, requestLength, statusAnswer, verbAt, QUIT, type HandoffRequest } from './protocol.js';
import { bindServerSocket, removeServerSocket } from './socket.js';

/** main() of the CLI, as index.ts exports it. */
export type MainFunction = (argv: readonly string[], io?: CliIo) => Promise<number>;

/** How long a client may take to send its whole request (ms) before its connection is closed. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** A server, once listening. */
export interface Server {
  /** The socket's path, `<root>/.server`. */
  path: string;
  /** Stop: no new connection is taken, the socket file goes; resolves once the running call and those queued are done. */
  close(): Promise<void>;
}

interface Pending {
  fd: number;
  /** The peer's pid (SO_PEERCRED, in this server's pid namespace; 0 when not visible here). */
  pid: number;
  chunks: Buffer[];
  bytes: number;
  fds: number[];
  timer: NodeJS.Timeout;
}

const closeQuietly = (fd: number): void => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
};

/**
 * Write all of `data` to `fd` (one of the caller's descriptors, whose file description the
 * caller shares: it may be non-blocking, so EAGAIN waits a little and tries again). A reader
 * gone (EPIPE) or another error drops the rest, as `ns` ignores EPIPE on its own output.
 */
function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const step = (offset: number): void => {
      if (offset >= data.length) return resolve();
      write(fd, data, offset, data.length - offset, null, (err, n) => {
        if (err?.code === 'EAGAIN') return void setTimeout(() => step(offset), 2);
        if (err) return resolve();
        step(offset + n);
      });
    };
    step(0);
  });
}

/** A front's connection closed (frontByte). */
const CLOSED = -1;

/**
 * The byte the front at the other end of `conn` sent after its request, without waiting: null
 * when there is none, CLOSED when it has closed the connection (or it failed: ECONNRESET ...).
 */
function frontByte(conn: number): number | null {
  try {
    const got = recvFds(conn, 1, 0);
    if (got === null) return null;
    return got.data.length === 0 ? CLOSED : got.data[0]!;
  } catch {
    return CLOSED;
  }
}

/**
 * Whether the front gave up before its call was started: it sent `Q` (protocol.ts), or closed
 * the connection. Nothing else comes from a front after its request.
 */
function frontQuit(conn: number): boolean {
  const b = frontByte(conn);
  return b === CLOSED || b === QUIT;
}

/** Whether the front has closed its connection (it sends nothing after its request). */
function frontGone(conn: number): boolean {
  return frontByte(conn) === CLOSED;
}

/**
 * Whether `request` is a `create` whose bundle's config.json has hooks the runtime itself runs
 * (`prestart`, `createRuntime`): run by the server they would get its cgroup, rlimits and
 * credentials, not the caller's as runc's do, and a slow one would hold every other call back.
 * Such a create is left to the front's Node. A config that cannot be read or parsed is not
 * judged here: the create says what is wrong with it, as through Node.
 */
function runtimeHooks(request: HandoffRequest): boolean {
  const words = request.argv;
  const at = verbAt(words)?.i ?? words.length;
  if (words[at] !== 'create') return false;
  let bundle = '.';
  for (let i = at + 1; i < words.length && words[i] !== '--'; i++) {
    const w = words[i]!;
    if (w === '--bundle' || w === '-b') bundle = words[i + 1] ?? '.';
    else if (w.startsWith('--bundle=')) bundle = w.slice('--bundle='.length);
  }
  try {
    const config = JSON.parse(readFileSync(resolve(request.cwd, bundle, 'config.json'), 'utf8')) as { hooks?: Record<string, unknown[]> };
    return ['prestart', 'createRuntime'].some((k) => Array.isArray(config.hooks?.[k]) && config.hooks[k].length > 0);
  } catch {
    return false;
  }
}

/** The namespaces a caller must share with the server for its call to mean the same here. */
const NAMESPACES = ['mnt', 'pid', 'net', 'user', 'uts', 'ipc', 'cgroup'] as const;

/**
 * Whether the process `pid` is in this server's namespaces and root directory: paths, pids,
 * cgroups and the network a call names must be the same for both, and a container created for it starts in
 * the caller's (the front clones it). A caller elsewhere (another mount namespace, a pid
 * namespace where the server cannot see it: pid 0) is refused, and its front runs the call in
 * a Node of its own there.
 */
function sameNamespaces(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // And the same root directory: a chroot()ed caller's paths are not the server's either.
    return [...NAMESPACES.map((ns) => `ns/${ns}`), 'root'].every((what) => {
      const theirs = statSync(`/proc/${pid}/${what}`);
      const ours = statSync(`/proc/self/${what}`);
      return theirs.ino === ours.ino && theirs.dev === ours.dev;
    });
  } catch {
    return false; // gone, or a namespace this kernel does not have for it
  }
}

/** The fields of /proc/PID/status that say how confined a process is. */
function confinement(pid: number | 'self'): { eff: bigint; bnd: bigint; nnp: string; seccomp: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
    const eff = field('CapEff');
    const bnd = field('CapBnd');
    if (eff === undefined || bnd === undefined) return null;
    return { eff: BigInt(`0x${eff}`), bnd: BigInt(`0x${bnd}`), nnp: field('NoNewPrivs') ?? '0', seccomp: field('Seccomp') ?? '0' };
  } catch {
    return null;
  }
}

/**
 * Whether the process `pid` is at least as privileged as this server: every capability the
 * server has in its effective and bounding sets, no `no_new_privs` or seccomp filter the
 * server does not have. The server acts for its caller with its own privileges (cgroups, id
 * maps, hooks): a caller confined more than it (a root process without CAP_SYS_ADMIN, under a
 * seccomp filter) must not get a container made with more; its front runs the call itself.
 */
function asPrivileged(pid: number): boolean {
  const theirs = confinement(pid);
  const ours = confinement('self');
  if (!theirs || !ours) return false;
  return (theirs.eff & ours.eff) === ours.eff && (theirs.bnd & ours.bnd) === ours.bnd && (theirs.nnp === ours.nnp || theirs.nnp === '0') && theirs.seccomp === ours.seccomp;
}

/**
 * Run one handed-off call: main() with writers on the caller's descriptors 1 and 2 (in the
 * order they were written), its working directory and environment.
 * @returns the exit status, once everything written has reached the caller's descriptors
 */
async function runCall(main: MainFunction, request: HandoffRequest, fds: number[], front?: FrontCall): Promise<number> {
  let output = Promise.resolve();
  const writer = (fd: number) => (text: string) => {
    const data = Buffer.from(text, 'utf8');
    output = output.then(() => writeAll(fd, data));
  };
  // Node's fs.realpathSync (lib/fs.js) takes a path prefix it has cached as "not a link" to
  // end the walk when the *last stat made anywhere in the process* was of a FIFO or a socket,
  // so a module the call loads lazily (proper-lockfile) would resolve through its pnpm symlink
  // and miss its dependencies. A fresh `ns` never has that; this server has just stat'ed its
  // socket or a previous call's FIFO: make the last stat a directory's before each call.
  statSync('/');
  let status: number;
  // The caller's umask for the files the call creates (state, pid file, log), as in its own
  // process; one call runs at a time, and nothing else here creates files meanwhile.
  const umask = request.umask !== undefined ? process.umask(request.umask) : undefined;
  try {
    status = await main(request.argv, { stdout: writer(fds[1]!), stderr: writer(fds[2]!), cwd: request.cwd, env: request.env, ...(front ? { front } : {}) });
  } catch (err) {
    // main() reports its own errors; this is a bug of ns, said as bin.ts says it.
    writer(fds[2]!)(`ns: ${err instanceof Error ? err.message : String(err)}\n`);
    status = 125;
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  await output;
  return status;
}

/**
 * Listen on `<root>/.server` and serve this user's calls until close().
 * @param root the state root (absolute)
 * @param main the CLI's main(), run for each call
 * @param io where the server's own lines go (a refused peer)
 * @throws NsError `ERR_NS_STATE` when a server answers at the path already, `EPERM` when the
 *   root or the path is not this user's (see bindServerSocket())
 */
export function startServer(root: string, main: MainFunction, io: Pick<ResolvedIo, 'stderr'>): Server {
  const socket = bindServerSocket(root);
  const uid = process.geteuid?.() ?? 0;
  const pending = new Map<number, Pending>();
  let queue = Promise.resolve();
  let closed = false;

  const drop = (p: Pending): void => {
    clearTimeout(p.timer);
    pending.delete(p.fd);
    unwatchFd(p.fd);
    for (const fd of p.fds) closeQuietly(fd);
  };

  const answer = (fd: number, data: Buffer): void => {
    try {
      writeSync(fd, data);
    } catch {
      // the front went away: nothing to tell
    }
  };

  const dispatch = (p: Pending): void => {
    // The request is complete: stop watching (which closes the watched descriptor once
    // libuv is done with it) and answer on a copy.
    const conn = native().dup(p.fd);
    const fds = p.fds;
    p.fds = [];
    const message = Buffer.concat(p.chunks);
    drop(p);
    let request: HandoffRequest;
    try {
      request = decodeRequest(message);
    } catch {
      for (const fd of fds) closeQuietly(fd);
      return closeQuietly(conn);
    }
    const finish = (): void => {
      for (const fd of fds) closeQuietly(fd);
      closeQuietly(conn);
    };
    const clones = request.clones === true;
    if (closed || !handedOff(request.argv, clones) || !sameNamespaces(p.pid) || !asPrivileged(p.pid) || runtimeHooks(request)) {
      answer(conn, ANSWER_REFUSED);
      return finish();
    }
    queue = queue.then(async () => {
      // The front gave up waiting for its turn ('Q', or gone): it runs the call itself.
      if (frontQuit(conn)) {
        answer(conn, ANSWER_REFUSED);
        return finish();
      }
      answer(conn, ANSWER_RUNNING);
      // A front that clones: the container's process (create) is made by it, on the caller's stdio.
      const front: FrontCall | undefined = clones ? { stdio: [fds[0]!, fds[1]!, fds[2]!], cloneVia: conn } : undefined;
      const status = await runCall(main, request, fds, front);
      // The front went away meanwhile (its caller killed): nobody will get this container or
      // process, so it goes too, as a set-up dies with a Node creator killed on the way.
      if (front?.rollback && frontGone(conn)) await front.rollback();
      answer(conn, statusAnswer(status, clones, front?.containerPid ?? 0));
      finish();
    });
  };

  const onReadable = (p: Pending): void => {
    for (;;) {
      let got;
      try {
        got = recvFds(p.fd, 65536, REQUEST_FDS + 1);
      } catch {
        return drop(p);
      }
      if (got === null) return; // nothing more for now
      p.fds.push(...got.fds);
      // Descriptors come with the header only, exactly 0, 1 and 2; the kernel cut none.
      if (got.truncated || p.fds.length > REQUEST_FDS || (got.fds.length > 0 && p.bytes > 0)) return drop(p);
      if (got.data.length === 0) return drop(p); // end of file before the request was complete
      p.chunks.push(got.data);
      p.bytes += got.data.length;
      let total: number | null;
      try {
        total = requestLength(Buffer.concat(p.chunks));
      } catch (err) {
        if (err instanceof MalformedRequest) return drop(p);
        throw err;
      }
      if (total !== null && p.bytes > total) return drop(p);
      if (total !== null && p.bytes === total) {
        if (p.fds.length !== REQUEST_FDS) return drop(p);
        return dispatch(p);
      }
    }
  };

  // A descriptor held in reserve: out of descriptors (EMFILE), accept() fails and leaves the
  // connection queued, the socket stays readable and the watcher would spin while the front
  // waits for an answer for ever. Closing the spare lets one accept() take the connection,
  // which is closed at once (the front runs the call itself), until the queue is empty.
  let spare = -1;
  const reserve = (): void => {
    try {
      spare = openSync('/dev/null', 'r');
    } catch {
      spare = -1;
    }
  };
  reserve();

  const shed = (): boolean => {
    if (spare < 0) return false;
    closeQuietly(spare);
    spare = -1;
    let fd: number | null = null;
    try {
      fd = unixAccept(socket.fd, 0);
    } catch {
      // gone meanwhile
    }
    if (fd !== null) closeQuietly(fd);
    reserve();
    return fd !== null;
  };

  const onConnection = (): void => {
    for (;;) {
      let fd: number | null;
      try {
        fd = unixAccept(socket.fd, 0);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code === 'EMFILE' || code === 'ENFILE') && shed()) continue;
        return; // ECONNABORTED ...: the next readable event tries again
      }
      if (fd === null) return;
      let cred;
      try {
        cred = peerCred(fd);
      } catch {
        closeQuietly(fd);
        continue;
      }
      if (cred.uid !== uid) {
        io.stderr(`ns serve: refused a connection of uid ${cred.uid} (pid ${cred.pid}): this server serves uid ${uid} only\n`);
        closeQuietly(fd);
        continue;
      }
      const p: Pending = { fd, pid: cred.pid, chunks: [], bytes: 0, fds: [], timer: setTimeout(() => drop(p), REQUEST_TIMEOUT_MS) };
      p.timer.unref();
      pending.set(fd, p);
      try {
        watchReadable(fd, () => onReadable(p));
      } catch {
        clearTimeout(p.timer);
        pending.delete(fd);
        closeQuietly(fd);
      }
    }
  };

  watchReadable(socket.fd, onConnection);
  // Leaving some other way than close() (an uncaught error): no socket left behind either.
  const onExit = (): void => removeServerSocket(socket);
  process.on('exit', onExit);

  return {
    path: socket.path,
    async close() {
      if (closed) return queue;
      closed = true;
      process.removeListener('exit', onExit);
      unwatchFd(socket.fd);
      removeServerSocket(socket);
      if (spare >= 0) closeQuietly(spare);
      for (const p of [...pending.values()]) drop(p);
      await queue;
    },
  };
}
