/**
 * `ns delete [--force] ID`: remove a stopped container's state, as `runc delete`. A running
 * container is refused unless `--force`, which kills every process in it (SIGKILL) first.
 * Nothing stays mounted: every mount lived in the container's own mount namespace.
 */
import { join } from 'node:path';
import { ErrorCode, deleteContainer, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';

/** The options of `ns delete`. */
export interface DeleteOptions {
  /** `-f, --force`: kill a running container and delete it. */
  force?: boolean;
}

/**
 * `ns delete`: 0 when deleted; 125 for a running container without `--force`, or an
 * unknown or invalid id. As runc, a folder left without a state file by an aborted create is
 * removed, and `--force` on an unknown id is not an error.
 */
export async function deleteCommand(id: string, options: DeleteOptions, store: StateStore, io: ResolvedIo): Promise<number> {
  try {
    // Its poststop hooks run where this call runs (the caller's directory, also for `ns serve`).
    await deleteContainer(store, id, { force: options.force ?? false, ...(io.cwdGone === true ? {} : { cwd: io.cwd }) });
    return 0;
  } catch (err) {
    const e = err as { code?: unknown; path?: unknown };
    // Only a missing state file (not some other "not found" while deleting a real container).
    const noState = e.code === ErrorCode.NOT_FOUND && (options.force || e.path === join(store.dir(id), 'state.json') || e.path === store.dir(id));
    if (noState) {
      // As runc's delete.go: a folder left without a state file (a create killed half-way) is
      // removed with or without --force (containerd's shim deletes a failed create without
      // it); only --force makes an unknown id a success.
      try {
        store.remove(id);
        if (options.force) return 0;
      } catch (removeErr) {
        if (options.force) err = removeErr;
      }
    }
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
