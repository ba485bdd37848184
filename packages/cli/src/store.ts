/**
 * The state root every lifecycle command works in: `--root DIR` (relative to the working
 * directory), else the library's default (`/run/ns` for root, as runc's `/run/runc`).
 */
import { resolve } from 'node:path';
import { StateStore, defaultStateRoot } from '@ns/namespaces';
import type { ResolvedIo } from './io.js';

/** The global options of `ns`, accepted before or after the command name. */
export interface GlobalOptions {
  /** `--root DIR`: where container state lives. */
  root?: string;
}

/** The state store `--root` selects (nothing is created until a container is). */
export function openStore(global: GlobalOptions, io: Pick<ResolvedIo, 'cwd'>): StateStore {
  return new StateStore(resolve(io.cwd, global.root ?? defaultStateRoot()));
}
