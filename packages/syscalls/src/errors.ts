import { constants } from 'node:os';

/** The project's own error codes, beside errno names (`ENOENT`, `EPERM` ...). */
export const ErrorCode = {
  /** A container config, CLI option or OCI config.json field is invalid. */
  CONFIG: 'ERR_NS_CONFIG',
  /** A container, user, group or file named in the config does not exist. */
  NOT_FOUND: 'ERR_NS_NOT_FOUND',
  /** The operation does not fit the container's state (not running, already exists ...). */
  STATE: 'ERR_NS_STATE',
  /** The child died before execve without reporting a failed step. */
  DIED: 'ERR_NS_CHILD_DIED',
  /** The native addon is missing or cannot load on this platform. */
  NATIVE: 'ERR_NS_NATIVE',
  /** An OCI hook (prestart, createRuntime ...) could not run, failed or timed out. */
  HOOK: 'ERR_NS_HOOK',
} as const;

export interface NsErrorDetails {
  /** errno value, negative as in Node's system errors (`-2` for ENOENT). */
  errno?: number;
  /** The system call that failed (`mount`, `execve` ...). */
  syscall?: string;
  /** The path or field the error is about. */
  path?: string;
  /** Index of the failed plan step. */
  step?: number;
  cause?: unknown;
}

/**
 * The one error class of @ns. `code` is a stable string: an errno name for a failed system
 * call, or one of {@link ErrorCode}. Messages say what failed, on what, and why.
 */
export class NsError extends Error {
  readonly code: string;
  errno?: number;
  syscall?: string;
  path?: string;
  step?: number;

  constructor(code: string, message: string, details: NsErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NsError';
    this.code = code;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
    if (details.path !== undefined) this.path = details.path;
    if (details.step !== undefined) this.step = details.step;
  }
}

let errnoNames: Map<number, string> | undefined;

/** The name of a positive errno number (`2` -> `ENOENT`), or `E<n>` when unknown. */
export function errnoName(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(constants.errno)) {
      if (!errnoNames.has(value)) errnoNames.set(value, name);
    }
  }
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** Shorthand for a config error naming its field or path. */
export function configError(message: string, path?: string): NsError {
  return new NsError(ErrorCode.CONFIG, message, path === undefined ? {} : { path });
}
