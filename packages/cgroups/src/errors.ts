/** The project's own error codes this package throws, beside errno names (`EBUSY`, `EINVAL` ...). */
export const ERR_NS_CONFIG = 'ERR_NS_CONFIG';
/** The cgroup is not in a state the operation needs (not empty, cannot freeze, still busy). */
export const ERR_NS_STATE = 'ERR_NS_STATE';

export interface CgroupErrorDetails {
  /** errno value, negative as in Node's system errors (`-16` for EBUSY). */
  errno?: number;
  /** The system call that failed (`write`, `mkdir`, `rmdir` ...). */
  syscall?: string;
  /** The file or directory the error is about (`/sys/fs/cgroup/memory/ns/web1/memory.limit_in_bytes`). */
  path?: string;
  /** The config field the error is about (`linux.resources.memory.limit`). */
  jsonPath?: string;
  cause?: unknown;
}

/**
 * The error this package throws. `code` is a stable string, with the same convention as
 * `@ns/syscalls`' NsError (which this package does not import, so that it stays free of the
 * native addon): an errno name when a cgroupfs call failed (`EBUSY`, `EINVAL`, `ENOENT` ...),
 * `ERR_NS_CONFIG` for a bad or unsupported `linux.resources` field or `cgroupsPath`, and
 * `ERR_NS_STATE` when the cgroup is not fit for the operation. `jsonPath` names the config
 * field and `path` the cgroup file when they are known.
 */
export class CgroupError extends Error {
  readonly code: string;
  errno?: number;
  syscall?: string;
  path?: string;
  jsonPath?: string;

  constructor(code: string, message: string, details: CgroupErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CgroupError';
    this.code = code;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
    if (details.path !== undefined) this.path = details.path;
    if (details.jsonPath !== undefined) this.jsonPath = details.jsonPath;
  }
}

/** A bad config field: `ERR_NS_CONFIG`, the message starting with the JSON path. */
export function configError(jsonPath: string, message: string, path?: string): CgroupError {
  return new CgroupError(ERR_NS_CONFIG, `${jsonPath}: ${message}`, path === undefined ? { jsonPath } : { jsonPath, path });
}

/** A Node system error (`err.code` an errno name) or anything else thrown by `fs`. */
interface SystemError {
  code?: unknown;
  errno?: unknown;
}

/** The errno name of a thrown Node fs error (`EBUSY`), or undefined when it is not one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as SystemError | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * Wrap a failed cgroupfs call into a CgroupError keeping the errno name as `code`:
 * `write 33554432 to /sys/fs/cgroup/memory/ns/a/memory.limit_in_bytes (linux.resources.memory.limit): EBUSY`.
 */
export function fsError(err: unknown, syscall: string, path: string, what: string, jsonPath?: string): CgroupError {
  const code = errnoCode(err) ?? 'EIO';
  const errno = (err as SystemError | null)?.errno;
  const field = jsonPath === undefined ? '' : ` (${jsonPath})`;
  const reason = ERRNO_HINTS[code] === undefined ? code : `${code}, ${ERRNO_HINTS[code]}`;
  return new CgroupError(code, `${what}${field}: ${reason}`, {
    syscall,
    path,
    cause: err,
    ...(typeof errno === 'number' ? { errno } : {}),
    ...(jsonPath === undefined ? {} : { jsonPath }),
  });
}

/** What an errno usually means on cgroupfs, appended to messages. */
const ERRNO_HINTS: Record<string, string> = {
  ENOENT: 'no such file (controller or kernel feature missing?)',
  EINVAL: 'the kernel refused the value',
  EBUSY: 'busy (a limit below current usage, or the cgroup still has processes)',
  ENOSPC: 'no CPUs or memory nodes left (empty cpuset?)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EOPNOTSUPP: 'not supported by this kernel',
  ENODEV: 'no such device',
  ERANGE: 'value out of range',
};
