/**
 * The `namespaces` of a container config and the id mappings that go with them, as
 * validateContainer() checks them: shapes and combinations only (the namespace files a config
 * joins are opened and checked when it starts: nsfiles.ts).
 */
import { isAbsolute } from 'node:path';
import { configError } from '@ns/syscalls';
import { NAMESPACE_TYPES, type Container } from './container.js';
import { checkIdMappings } from './idmap.js';
import { checkTimeNamespace } from './time-offsets.js';

/** A value for a message (JSON where possible). */
function show(v: unknown): string {
  try {
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** uid_map/gid_map entries: the shape here, the ranges in {@link checkIdMappings}. */
function checkMappingShape(value: unknown, field: string): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw configError(`${field}: expected a list of { containerID, hostID, size }, got ${show(value)}`, field);
  const id = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  for (let i = 0; i < value.length; i++) {
    const m = value[i] as Record<string, unknown> | null;
    if (typeof m !== 'object' || m === null || Array.isArray(m) || !id(m.containerID) || !id(m.hostID) || !id(m.size) || m.size === 0) {
      throw configError(`${field}[${i}]: expected { containerID, hostID, size } (non-negative integers, size >= 1), got ${show(m)}`, `${field}[${i}]`);
    }
  }
}

/**
 * Check `namespaces`, `uidMappings` and `gidMappings`: each entry a known type, listed once,
 * with an absolute `path` (no NUL) when joined; id mappings with a new user namespace (at least
 * one line each, as the kernel takes them), none with a joined one (it has its maps already)
 * or without one. A type left out is shared with the caller (config-linux.md "Namespaces"). A
 * time namespace and `timeOffsets`: time-offsets.ts.
 * @throws NsError `ERR_NS_CONFIG` naming the entry (`namespaces[2].path`) or the mapping.
 */
export function checkNamespaces(c: Container): void {
  if (!Array.isArray(c.namespaces)) {
    throw configError('namespaces: expected a list of { type, path? } (linux.namespaces); rootfsContainer() fills it', 'namespaces');
  }
  const types = new Map<string, number>();
  for (let i = 0; i < c.namespaces.length; i++) {
    const ns = c.namespaces[i]!;
    if (typeof ns !== 'object' || ns === null) throw configError(`namespaces[${i}]: expected { type, path? }`, `namespaces[${i}]`);
    if (!(NAMESPACE_TYPES as readonly string[]).includes(ns.type)) {
      throw configError(`namespaces[${i}].type: unknown namespace type ${show(ns.type)}`, `namespaces[${i}].type`);
    }
    if (types.has(ns.type)) {
      const what = ns.type === 'network' ? 'an existing network namespace cannot be combined with a new one' : 'listed twice';
      throw configError(`namespaces[${i}]: ${ns.type} namespace ${what}`, `namespaces[${i}]`);
    }
    types.set(ns.type, i);
    const field = `namespaces[${i}].path`;
    if (ns.path === undefined) continue;
    if (typeof ns.path !== 'string') throw configError(`${field}: expected a path string, got ${show(ns.path)}`, field);
    if (!isAbsolute(ns.path)) throw configError(`${field}: must be absolute, got ${JSON.stringify(ns.path)}`, field);
    if (ns.path.includes('\0')) throw configError(`${field}: contains a NUL byte`, field);
  }
  checkMappingShape(c.uidMappings, 'uidMappings');
  checkMappingShape(c.gidMappings, 'gidMappings');
  const user = types.get('user');
  const maps = Boolean(c.uidMappings?.length || c.gidMappings?.length);
  if (user === undefined) {
    if (maps) throw configError('uidMappings: id mappings need a user namespace in namespaces', 'uidMappings');
  } else if (c.namespaces[user]!.path !== undefined) {
    if (maps) throw configError(`uidMappings: the user namespace joined by path (namespaces[${user}]) has its own id maps; leave uidMappings and gidMappings out`, 'uidMappings');
  } else {
    checkIdMappings(c.uidMappings ?? [], 'uidMappings');
    checkIdMappings(c.gidMappings ?? [], 'gidMappings');
  }
  checkTimeNamespace(c);
}
