/**
 * `ns resume ID`: thaw a paused container (v1 freezer, v2 cgroup.freeze), as `runc resume`.
 */
import { resumeContainer, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';

/** `ns resume`: 0 once thawed; 125 for an unknown container, one that is not paused, or one without a cgroup. */
export function resumeCommand(id: string, store: StateStore, io: ResolvedIo): number {
  try {
    resumeContainer(store, id);
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
