/**
 * `ns delete [--force] ID`: remove a stopped container's state, as `runc delete`. A running
 * container is refused unless `--force`, which kills every process in it (SIGKILL) first.
 * Nothing stays mounted: every mount lived in the container's own mount namespace.
 */
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
 * unknown or invalid id. As runc, `--force` on an unknown id is not an error (a folder left
 * without a state file by an aborted start is removed).
 */
export async function deleteCommand(id: string, options: DeleteOptions, store: StateStore, io: ResolvedIo): Promise<number> {
  try {
    // Its poststop hooks run where this call runs (the caller's directory, also for `ns serve`).
    await deleteContainer(store, id, { force: options.force ?? false, ...(io.cwdGone === true ? {} : { cwd: io.cwd }) });
    return 0;
  } catch (err) {
    if (options.force && (err as { code?: unknown }).code === ErrorCode.NOT_FOUND) {
      try {
        store.remove(id);
        return 0;
      } catch (removeErr) {
        err = removeErr;
      }
    }
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
