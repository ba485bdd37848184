/**
 * Id-mapped bind mounts (OCI config.md "Mounts": the `idmap` and `ridmap` options, a mount's
 * `uidMappings` and `gidMappings`): which mounts are id-mapped, with which mappings, and the
 * config errors the spec asks for, each naming its field.
 */
import { configError } from '@ns/syscalls';
import { checkIdMappings, type IdMapping } from './idmap.js';
import { ownsNamespace, type Container, type MountConfig } from './container.js';
import { isBindMount } from './mountopts.js';

/** What the plan needs of an id-mapped mount. */
export interface MountIdmap {
  /** On-disk uid `containerID` is shown as `hostID` on the mount (mount_setattr(2) MOUNT_ATTR_IDMAP). */
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** `ridmap`: every mount of an `rbind` tree is mapped, not only its top. */
  recursive: boolean;
}

/** A mount's own mapping list: undefined when absent or empty (config.md allows `[]` with [r]idmap). */
function ownMappings(m: MountConfig, key: 'uidMappings' | 'gidMappings', field: string): IdMapping[] | undefined {
  const v: unknown = m[key];
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return undefined;
  if (!Array.isArray(v)) throw configError(`${field}.${key}: expected a list of {containerID, hostID, size}`, `${field}.${key}`);
  checkIdMappings(v as IdMapping[], `${field}.${key}`);
  return v as IdMapping[];
}

/**
 * Whether mount `index` of `c` is id-mapped, and how: an `idmap` or `ridmap` option, or
 * `uidMappings`/`gidMappings` without one (as runc: non-recursive). Its own mappings are used;
 * without them the container's user namespace mappings (config.md: the runtime MAY), and with
 * neither an error (MUST).
 *
 * @param field the mount's path in messages (`mounts[2]`)
 * @returns null for a mount that is not id-mapped
 * @throws NsError `ERR_NS_CONFIG` naming the field: only one of `uidMappings`/`gidMappings`
 *   (config.md: each MUST come with the other), a bad mapping (`mounts[2].uidMappings[0]: ...`),
 *   an id-mapped mount that is not a bind mount (runc likewise), no mappings and no user namespace
 *   of the container's own, or a caller that is not root (mount_setattr(2) MOUNT_ATTR_IDMAP
 *   needs CAP_SYS_ADMIN over the source's file system, the host's).
 * @see mount_setattr(2), OCI runtime-spec config.md "Mounts"
 */
export function mountIdmap(c: Pick<Container, 'namespaces' | 'uidMappings' | 'gidMappings'>, m: MountConfig, index: number, field = `mounts[${index}]`): MountIdmap | null {
  const options = m.options ?? [];
  const at = options.findLastIndex((o) => o === 'idmap' || o === 'ridmap');
  const uids = ownMappings(m, 'uidMappings', field);
  const gids = ownMappings(m, 'gidMappings', field);
  if (at < 0 && uids === undefined && gids === undefined) return null;
  const what = at >= 0 ? `${field}.options[${at}]` : `${field}.${uids ? 'uidMappings' : 'gidMappings'}`;
  if ((uids === undefined) !== (gids === undefined)) {
    const missing = uids === undefined ? 'uidMappings' : 'gidMappings';
    throw configError(`${field}.${missing}: an id-mapped mount needs both uidMappings and gidMappings (config.md: one MUST come with the other)`, `${field}.${missing}`);
  }
  if (!isBindMount(m)) throw configError(`${what}: id-mapped mounts are made of bind mounts only (add "bind" or "rbind"), as runc`, what);
  if ((process.geteuid?.() ?? 0) !== 0) {
    throw configError(`${what}: an id-mapped mount needs root (mount_setattr MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN over the host's file system)`, what);
  }
  const recursive = at >= 0 && options[at] === 'ridmap';
  if (uids !== undefined && gids !== undefined) return { uidMappings: uids, gidMappings: gids, recursive };
  if (ownsNamespace(c, 'user') && c.uidMappings?.length && c.gidMappings?.length) {
    return { uidMappings: [...c.uidMappings], gidMappings: [...c.gidMappings], recursive };
  }
  throw configError(`${what}: ${options[at]} needs the mount's uidMappings and gidMappings, or a user namespace of the container's own whose mappings it takes`, what);
}
