/**
 * Whether a path a peer should listen on (a console socket, a seccomp agent's) is a unix
 * socket: checked before anything starts, so that a wrong path fails early with its cause.
 */
import { statSync } from 'node:fs';

/**
 * What is wrong with `path` as a unix socket to connect to, or null when it is one (whether
 * someone listens there shows only at connect(2)). `why` reads after the path: `does not
 * exist`, `cannot be looked at (EACCES)`, `is not a unix socket`; `cause` is stat(2)'s error.
 */
export function socketProblem(path: string): { why: string; cause?: unknown } | null {
  try {
    return statSync(path).isSocket() ? null : { why: 'is not a unix socket' };
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    return { why: code === 'ENOENT' ? 'does not exist' : `cannot be looked at (${code})`, cause };
  }
}
