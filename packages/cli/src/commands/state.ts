/**
 * `ns state ID`: print the container's OCI state (runtime-spec runtime.md "State"), with its
 * live status, as indented JSON, as `runc state`.
 */
import { ociState, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';

/** `ns state`: 0 with the JSON on stdout; 125 for an unknown or invalid id. */
export function stateCommand(id: string, store: StateStore, io: ResolvedIo): number {
  try {
    io.stdout(`${JSON.stringify(ociState(store.read(id)), null, 2)}\n`);
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
