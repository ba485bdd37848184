/**
 * `ns start ID`: let a created container run its command (OCI start, as `runc start`).
 */
import { startCreatedContainer, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';

/** `ns start`: 0 once the container's process has been let go; 125 when it is not created. */
export async function startCommand(id: string, store: StateStore, io: ResolvedIo): Promise<number> {
  try {
    // Its poststart hooks run where this call runs (the caller's directory, also for `ns serve`).
    await startCreatedContainer(store, id, io.cwdGone === true ? {} : { cwd: io.cwd });
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
