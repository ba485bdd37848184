import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { ErrorCode, NsError, configError } from '@ns/syscalls';

/** One line of /proc/PID/uid_map or gid_map (OCI `linux.uidMappings[]`). user_namespaces(7). */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The host id a container id maps to, or null when it is not mapped. */
export function mapToHost(id: number, mappings: readonly IdMapping[]): number | null {
  for (const m of mappings) {
    if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  }
  return null;
}

/** The text written to /proc/PID/uid_map: one `containerID hostID size` line per mapping. */
export function formatIdMap(mappings: readonly IdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/**
 * Check mappings as the kernel would (at most 340 lines, sizes > 0, ranges inside 0..2^32-1,
 * no two container ranges or host ranges overlapping).
 * @throws NsError `ERR_NS_CONFIG` naming `field[i]`.
 */
export function checkIdMappings(mappings: readonly IdMapping[], field: string): void {
  if (mappings.length === 0) throw configError(`${field}: a user namespace needs at least one mapping`, field);
  if (mappings.length > 340) throw configError(`${field}: at most 340 mappings (user_namespaces(7))`, field);
  mappings.forEach((m, i) => {
    const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
    if (!ok(m.containerID) || !ok(m.hostID) || !ok(m.size) || m.size === 0 || m.containerID + m.size > 2 ** 32 || m.hostID + m.size > 2 ** 32) {
      throw configError(`${field}[${i}]: expected {containerID, hostID, size} within 0..4294967295 and size > 0`, `${field}[${i}]`);
    }
    for (let j = 0; j < i; j++) {
      const o = mappings[j]!;
      const overlap = (a: number, b: number) => a < b + o.size && b < a + m.size;
      if (overlap(m.containerID, o.containerID) || overlap(m.hostID, o.hostID)) {
        throw configError(`${field}[${i}]: overlaps ${field}[${j}]`, `${field}[${i}]`);
      }
    }
  });
}

/**
 * The rootless mapping: the calling user and group as root inside, one id each, as
 * `runc spec --rootless` and `unshare -r` do.
 */
export function rootlessMappings(): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  return {
    uidMappings: [{ containerID: 0, hostID: process.geteuid?.() ?? 0, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: process.getegid?.() ?? 0, size: 1 }],
  };
}

/**
 * True when an unprivileged caller can write these maps itself: only its own id, one id
 * (and then /proc/PID/setgroups must say "deny" before gid_map is written).
 */
function ownIdOnly(mappings: readonly IdMapping[], own: number): boolean {
  return mappings.length === 1 && mappings[0]!.size === 1 && mappings[0]!.hostID === own;
}

/**
 * Whether setgroups(2) stays allowed in the container: yes when root writes the maps (or
 * newgidmap does), no for an unprivileged caller mapping its own group (the kernel needs
 * "deny" first). user_namespaces(7) "Interaction with system calls that change process GIDs".
 */
export function setgroupsAllowed(gidMappings: readonly IdMapping[]): boolean {
  const euid = process.geteuid?.() ?? 0;
  return euid === 0 || !ownIdOnly(gidMappings, process.getegid?.() ?? 0);
}

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
