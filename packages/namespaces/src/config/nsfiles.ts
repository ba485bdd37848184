/**
 * Namespaces joined by path (`linux.namespaces[].path`): each file opened in the parent before
 * anything is spawned, checked to be a namespace of the type it is listed as (ioctl
 * NS_GET_NSTYPE), and handed to the child as a descriptor, so the child joins exactly what was
 * checked (and can still reach it after joining a user or mount namespace, as runc opens them
 * all first).
 */
import { closeSync, constants, fstatSync, openSync, statSync, type Stats } from 'node:fs';
import { ErrorCode, NsError, configError, namespaceTypeOf, type Step } from '@ns/syscalls';
import type { Container, NamespaceType } from './container.js';
import { NAMESPACE_FLAGS } from '../plan/namespaces.js';

/** The spec's name of a namespace type for messages (`network`, `mount` ...), by CLONE_NEW* flag. */
const TYPE_BY_FLAG = new Map<number, NamespaceType>(Object.entries(NAMESPACE_FLAGS).map(([type, flag]) => [flag, type as NamespaceType]));

/** A namespace file opened for joining. */
export interface JoinedNamespace {
  /** Its index in `namespaces`. */
  index: number;
  type: NamespaceType;
  path: string;
  /** An O_RDONLY, close-on-exec descriptor of it (the caller closes it). */
  fd: number;
}

let nsfsDevice: number | null | undefined;

/** The device of nsfs (every namespace file is on it), or null without /proc. */
function nsfs(): number | null {
  if (nsfsDevice === undefined) {
    try {
      nsfsDevice = statSync('/proc/self/ns/net').dev;
    } catch {
      nsfsDevice = null;
    }
  }
  return nsfsDevice;
}

/** `err` (an NsError of this file, its message starting with the JSON path) as one about `config.json: `. */
function inConfigJson(err: unknown): unknown {
  if (!(err instanceof NsError)) return err;
  return new NsError(err.code, `config.json: ${err.message}`, {
    cause: err.cause ?? err,
    ...(err.path === undefined ? {} : { path: err.path }),
    ...(err.syscall === undefined ? {} : { syscall: err.syscall }),
  });
}

/** An NsError for a failed stat or open of `path`, named by `label`. */
function fileError(cause: unknown, label: string, path: string, syscall: string): NsError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new NsError(ErrorCode.NOT_FOUND, `${label}: ${path}: no such namespace file`, { path: label, cause });
  }
  if (code === 'EACCES' || code === 'EPERM') return new NsError(code, `${label}: ${path}: permission denied`, { path: label, syscall, cause });
  return new NsError(code, `${label}: ${path}: ${(cause as Error).message}`, { path: label, syscall, cause });
}

/**
 * Open one namespace file and check that it is a namespace of `type`.
 * @throws NsError as {@link openJoinedNamespaces}.
 */
function openNamespace(path: string, type: NamespaceType, label: string): number {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (cause) {
    throw fileError(cause, label, path, 'stat');
  }
  const dev = nsfs();
  // A FIFO or a device is never opened: it could block or act.
  if (!st.isFile() || (dev !== null && st.dev !== dev)) throw configError(`${label}: ${path} is not a namespace`, label);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (cause) {
    throw fileError(cause, label, path, 'open');
  }
  try {
    if (!fstatSync(fd).isFile()) throw configError(`${label}: ${path} is not a namespace`, label);
    let flag: number;
    try {
      flag = namespaceTypeOf(fd);
    } catch (cause) {
      const code = (cause as NsError).code;
      if (code === 'ENOTTY' || code === 'EINVAL') throw configError(`${label}: ${path} is not a namespace`, label);
      throw cause;
    }
    if (flag !== NAMESPACE_FLAGS[type]) {
      const actual = TYPE_BY_FLAG.get(flag) ?? `0x${flag.toString(16)}`;
      throw configError(`${label}: ${path} is ${actual === 'ipc' ? 'an' : 'a'} ${actual} namespace, not ${type}`, label);
    }
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Open every namespace `c` joins by path, in the order of `namespaces`, each checked to be a
 * namespace of its listed type. Messages name the entry by JSON path: for a config from a
 * bundle (`c.bundle` set) `config.json: linux.namespaces[2].path`, as fromOciSpec() names the
 * fields it refuses, else `namespaces[2].path` (`error.path` is that JSON path).
 *
 * @returns the open descriptors (close-on-exec; the caller closes them), none when nothing is joined
 * @throws NsError, with every descriptor opened here closed again: `ERR_NS_NOT_FOUND` for a
 *   missing file (`config.json: linux.namespaces[2].path: /var/run/netns/x: no such namespace file`),
 *   `EACCES`/`EPERM` when it cannot be opened, `ERR_NS_CONFIG` for a file that is not a
 *   namespace (`... /etc/passwd is not a namespace`) or one of another type
 *   (`linux.namespaces[2].path: /proc/123/ns/net is a network namespace, not ipc`).
 * @see setns(2), ioctl_ns(2) NS_GET_NSTYPE, OCI runtime-spec config-linux.md "Namespaces"
 */
export function openJoinedNamespaces(c: Pick<Container, 'namespaces' | 'bundle'>): JoinedNamespace[] {
  const field = c.bundle !== undefined ? 'linux.namespaces' : 'namespaces';
  const out: JoinedNamespace[] = [];
  try {
    c.namespaces.forEach((ns, index) => {
      if (ns.path === undefined) return;
      out.push({ index, type: ns.type, path: ns.path, fd: openNamespace(ns.path, ns.type, `${field}[${index}].path`) });
    });
  } catch (err) {
    for (const j of out) closeSync(j.fd);
    throw c.bundle !== undefined ? inConfigJson(err) : err;
  }
  return out;
}

/**
 * `steps` with each setns step by path given the descriptor opened for that path: the child
 * joins the very namespace checked here (and closes the descriptor once joined).
 */
export function withJoinDescriptors(steps: readonly Step[], joined: readonly JoinedNamespace[]): Step[] {
  if (joined.length === 0) return steps as Step[];
  const byPath = new Map(joined.map((j) => [j.path, j.fd]));
  return steps.map((s) => (s.op === 'setns' && s.fd === undefined && s.path !== undefined && byPath.has(s.path) ? { ...s, fd: byPath.get(s.path)! } : s));
}
