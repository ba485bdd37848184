/**
 * `ns list [--format table|json] [--quiet]`: the containers under the state root, as
 * `runc list`: a table ID PID STATUS BUNDLE CREATED OWNER (PID 0 once stopped), the same as
 * a JSON array, or (`-q`) the ids alone.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listContainers, parsePasswd, type ContainerStatus, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';
import { formatTable } from '../table.js';

/** The options of `ns list`. */
export interface ListOptions {
  /** `-f, --format`: `table` (default) or `json`. */
  format?: 'table' | 'json';
  /** `-q, --quiet`: print the ids only. */
  quiet?: boolean;
}

/** One container as `ns list --format json` prints it (the fields of runc's). */
export interface ListEntry {
  ociVersion: string;
  id: string;
  /** Pid of the init in the host's pid namespace; 0 once stopped. */
  pid: number;
  status: ContainerStatus;
  bundle: string;
  /** Root filesystem (absolute), or null for the embedded default. */
  rootfs: string | null;
  /** ISO 8601. */
  created: string;
  annotations?: Record<string, string>;
  /** The user owning the state folder (a name from /etc/passwd, else `#UID`). */
  owner: string;
}

/** User names of the host, by uid (read once). */
function ownerName(uid: number, names: Map<number, string>): string {
  if (names.size === 0) {
    try {
      for (const entry of parsePasswd(readFileSync('/etc/passwd', 'utf8'))) if (!names.has(entry.uid)) names.set(entry.uid, entry.name);
    } catch {
      // no /etc/passwd
    }
  }
  return names.get(uid) ?? `#${uid}`;
}

/** Every container in `store`, with its live status. */
export function listEntries(store: StateStore): ListEntry[] {
  const names = new Map<number, string>();
  return listContainers(store).map((state) => {
    let uid = 0;
    try {
      uid = statSync(join(store.root, state.id)).uid;
    } catch {
      // deleted meanwhile
    }
    return {
      ociVersion: state.ociVersion,
      id: state.id,
      pid: state.status === 'stopped' ? 0 : state.pid,
      status: state.status,
      bundle: state.bundle,
      rootfs: state.config.rootfs,
      created: state.created,
      ...(Object.keys(state.annotations ?? {}).length > 0 ? { annotations: state.annotations } : {}),
      owner: ownerName(uid, names),
    };
  });
}

/** `ns list`: 0 with the list on stdout (a header alone, or `[]`, when there is none). */
export function listCommand(options: ListOptions, store: StateStore, io: ResolvedIo): number {
  try {
    const entries = listEntries(store);
    if (options.quiet) {
      io.stdout(entries.map((e) => `${e.id}\n`).join(''));
    } else if (options.format === 'json') {
      io.stdout(`${JSON.stringify(entries)}\n`);
    } else {
      const rows = entries.map((e) => [e.id, e.pid, e.status, e.bundle, e.created, e.owner]);
      io.stdout(formatTable([['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...rows]));
    }
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
