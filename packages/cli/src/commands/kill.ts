/**
 * `ns kill [--all] ID [SIGNAL]`: send a signal to the container's init (or with `--all`, to
 * every process in it), as `runc kill`. The signal is a name with or without `SIG`, in any
 * case (`TERM`, `SIGKILL`, `kill`), or a number; default SIGTERM. A pid reused since the
 * container stopped is never signalled (the library checks its start time through a pidfd).
 */
import { ErrorCode, NsError, killContainer, signalNumber, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';

/** The options of `ns kill`. */
export interface KillOptions {
  /** `-a, --all`: every process of the container, not only its init. */
  all?: boolean;
}

/**
 * The number of a signal given on the command line.
 * @throws NsError `ERR_NS_CONFIG` naming the signal and the accepted forms.
 */
export function parseSignal(signal: string): number {
  try {
    return signalNumber(signal);
  } catch {
    throw new NsError(
      ErrorCode.CONFIG,
      `unknown signal ${JSON.stringify(signal)} (expected a name such as TERM, SIGKILL or hup, or a number from 0 to 64)`,
      { path: 'signal' },
    );
  }
}

/** `ns kill`: 0 when sent; 125 for an unknown signal, an unknown container or one not running. */
export function killCommand(id: string, signal: string | undefined, options: KillOptions, store: StateStore, io: ResolvedIo): number {
  try {
    const number = parseSignal(signal ?? 'SIGTERM');
    killContainer(store, id, number, { all: options.all ?? false });
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
