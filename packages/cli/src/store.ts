/**
 * The state root every lifecycle command works in: `--root DIR` (relative to the working
 * directory), else the library's default (`/run/ns` for root, as runc's `/run/runc`).
 */
import { statSync } from 'node:fs';
import { NsError, StateStore, defaultStateRoot } from '@ns/namespaces';
import { absolutePath, baseDir, type ResolvedIo } from './io.js';
import { usage } from './errors.js';

/**
 * The global options of `ns`, as runc's: given before the verb (`--root` also after it). See
 * setupGlobals() for what each does.
 */
export interface GlobalOptions {
  /** `--root DIR`: where container state lives. */
  root?: string;
  /** `--log FILE`: the runtime's own log (errors and warnings), default stderr. */
  log?: string;
  /** `--log-format text|json`. */
  logFormat?: string;
  /** `--debug`: debug lines in the log too. */
  debug?: boolean;
  /** `--systemd-cgroup`: refused for run and create (no systemd cgroup driver). */
  systemdCgroup?: boolean;
  /** `--rootless true|false|auto`: accepted; ns's rootless mode follows its effective uid. */
  rootless?: string;
}

/**
 * The state store `--root` selects (nothing is created until a container is); without
 * `--root`, the default root of `io.env` (the caller's XDG_RUNTIME_DIR, also for a call handed
 * to `ns serve`).
 */
export function openStore(global: GlobalOptions, io: Pick<ResolvedIo, 'cwd' | 'cwdGone'> & { env?: NodeJS.ProcessEnv }): StateStore {
  // An empty --root would be the working directory: a slip, never meant.
  if (global.root === '') throw usage('--root: empty (a directory for container state is needed)', 'root');
  const root = absolutePath(baseDir(io), global.root ?? defaultStateRoot(io.env), '--root');
  checkRoot(root, global.root !== undefined);
  return new StateStore(root);
}

/**
 * A state root that is a file, or lies under one, fails every verb (`list` too) with
 * `ENOTDIR` naming `--root`, as runc's `mkdir ROOT: not a directory`: not with the errno of
 * whichever mkdir or open ran into it. A root that does not exist is made with the first
 * container; other errors come up where the root is used.
 * @throws NsError `ENOTDIR`, `path` `root`.
 */
function checkRoot(root: string, given: boolean): void {
  const flag = given ? '--root' : 'the state root (the default of --root)';
  let dir: boolean;
  try {
    dir = statSync(root).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') return;
    throw new NsError('ENOTDIR', `${flag} ${root}: not a directory (a file is on its path)`, { path: 'root', cause: err });
  }
  if (!dir) throw new NsError('ENOTDIR', `${flag} ${root}: not a directory (a directory for container state is needed)`, { path: 'root' });
}
