/**
 * The state root every lifecycle command works in: `--root DIR` (relative to the working
 * directory), else the library's default (`/run/ns` for root, as runc's `/run/runc`).
 */
import { StateStore, defaultStateRoot } from '@ns/namespaces';
import { absolutePath, baseDir, type ResolvedIo } from './io.js';

/** The global options of `ns`, accepted before or after the command name. */
export interface GlobalOptions {
  /** `--root DIR`: where container state lives. */
  root?: string;
}

/** The state store `--root` selects (nothing is created until a container is). */
export function openStore(global: GlobalOptions, io: Pick<ResolvedIo, 'cwd' | 'cwdGone'>): StateStore {
  return new StateStore(absolutePath(baseDir(io), global.root ?? defaultStateRoot(), '--root'));
}
