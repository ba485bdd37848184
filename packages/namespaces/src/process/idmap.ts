/**
 * Writing a new user namespace's id maps from the parent (the `idmap` sync step, sync.ts).
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { ErrorCode, NsError } from '@ns/syscalls';
import { formatIdMap, ownIdOnly, type IdMapping } from '../config/idmap.js';

function runHelper(tool: string, pid: number, mappings: readonly IdMapping[]): void {
  const args = [String(pid), ...mappings.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  // node:child_process is loaded here, not at import: most containers never need a helper.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code ?? 'ENOENT';
    throw new NsError(code, `${tool}: ${code === 'ENOENT' ? 'not installed (Debian package uidmap); needed to map more than your own id' : r.error.message}`, {
      path: tool,
    });
  }
  if (r.status !== 0) {
    throw new NsError(ErrorCode.CONFIG, `${tool} ${args.join(' ')}: ${(r.stderr || '').trim() || `exit status ${r.status}`}`, { path: tool });
  }
}

/**
 * Write the child's uid_map and gid_map (called at the plan's `sync` step while the child
 * waits): directly as root; as an unprivileged user, directly for a mapping of one's own
 * id (after writing "deny" to /proc/PID/setgroups), or else through newuidmap(1) and
 * newgidmap(1), which check /etc/subuid and /etc/subgid.
 *
 * @throws NsError with the errno of a failed write (`EPERM` ...) naming the file, or naming
 *   newuidmap/newgidmap when they are missing or refuse.
 * @see user_namespaces(7) "User and group ID mappings: uid_map and gid_map"
 */
export function writeIdMaps(pid: number, uidMappings: readonly IdMapping[], gidMappings: readonly IdMapping[]): void {
  const euid = process.geteuid?.() ?? 0;
  const write = (file: string, text: string) => {
    try {
      writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new NsError(code, `write /proc/${pid}/${file}: ${code}`, { path: `/proc/${pid}/${file}`, cause: err });
    }
  };
  if (euid === 0) {
    write('uid_map', formatIdMap(uidMappings));
    write('gid_map', formatIdMap(gidMappings));
    return;
  }
  if (ownIdOnly(uidMappings, euid)) write('uid_map', formatIdMap(uidMappings));
  else runHelper('newuidmap', pid, uidMappings);
  if (ownIdOnly(gidMappings, process.getegid?.() ?? 0)) {
    write('setgroups', 'deny');
    write('gid_map', formatIdMap(gidMappings));
  } else {
    runHelper('newgidmap', pid, gidMappings);
  }
}
