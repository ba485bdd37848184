/**
 * `ns ps [--format table|json] ID`: the processes of a container, as `runc ps`: a
 * table UID PID PPID STAT CMD (host pids and uids, from /proc), or a JSON array of pids.
 */
import { containerProcesses, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';
import { formatTable } from '../table.js';

/** The options of `ns ps`. */
export interface PsOptions {
  /** `-f, --format`: `table` (default) or `json`. */
  format?: 'table' | 'json';
}

/**
 * `ns ps`: 0 with the processes on stdout (none for a stopped container: the table's header
 * alone, or `[]`, as runc answers containerd's `ps --format json` then); 125 for an unknown
 * container.
 */
export function psCommand(id: string, options: PsOptions, store: StateStore, io: ResolvedIo): number {
  try {
    const state = store.read(id);
    const processes = containerProcesses(state);
    if (options.format === 'json') {
      io.stdout(`${JSON.stringify(processes.map((p) => p.pid))}\n`);
    } else {
      const rows = processes.map((p) => [p.uid, p.pid, p.ppid, p.state, p.command]);
      io.stdout(formatTable([['UID', 'PID', 'PPID', 'STAT', 'CMD'], ...rows]));
    }
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
