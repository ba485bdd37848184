import { configError } from '@ns/syscalls';

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
 * @internal setgroupsAllowed() and writeIdMaps()
 */
export function ownIdOnly(mappings: readonly IdMapping[], own: number): boolean {
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
