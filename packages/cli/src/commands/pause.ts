/**
 * `ns pause ID`: freeze every process of a container through its cgroup (v1 freezer, v2
 * cgroup.freeze), as `runc pause`. While frozen, `ns list` and `ns state` say `paused`, until
 * `ns resume`.
 */
import { pauseContainer, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';

/**
 * `ns pause`: 0 once every process is frozen; 125 for an unknown container, one that is not
 * running (stopped, or already paused), or one without a cgroup of its own (no
 * `linux.resources` nor `linux.cgroupsPath` in its config).
 */
export async function pauseCommand(id: string, store: StateStore, io: ResolvedIo): Promise<number> {
  try {
    await pauseContainer(store, id);
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
