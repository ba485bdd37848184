import { MS, configError } from '@ns/syscalls';

/** mount(8) options turned into what mount(2) takes. */
export interface ParsedMountOptions {
  /** MS_* flags for the first mount(2) call (no propagation flags). */
  flags: number;
  /** Flags cleared by an explicit option (`rw`, `suid` ...), kept for remounts. */
  cleared: number;
  /** Propagation type to apply after mounting, as MS_* flags (MS_PRIVATE | MS_REC ...), or 0. */
  propagation: number;
  /** Filesystem-specific options passed as `data` (`mode=755,size=65536k`), or null. */
  data: string | null;
  /** A bind mount (`bind` or `rbind` option, or type `bind`). */
  bind: boolean;
  /** `rbind`: recursive bind. */
  recursive: boolean;
}

const FLAG_OPTIONS: Record<string, [set: number, clear: number]> = {
  ro: [MS.RDONLY, 0],
  rw: [0, MS.RDONLY],
  nosuid: [MS.NOSUID, 0],
  suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0],
  dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0],
  exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0],
  async: [0, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0],
  mand: [MS.MANDLOCK, 0],
  nomand: [0, MS.MANDLOCK],
  noatime: [MS.NOATIME, 0],
  atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0],
  diratime: [0, MS.NODIRATIME],
  relatime: [MS.RELATIME, 0],
  norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0],
  nostrictatime: [0, MS.STRICTATIME],
  nosymfollow: [MS.NOSYMFOLLOW, 0],
  silent: [MS.SILENT, 0],
  loud: [0, MS.SILENT],
  defaults: [0, 0],
};

/** Every mount option parseMountOptions() knows (runtime-spec features.md `mountOptions`). */
export function knownMountOptions(): string[] {
  return [...Object.keys(FLAG_OPTIONS), ...ROOTFS_PROPAGATION, 'bind', 'rbind', 'idmap', 'ridmap'];
}

/**
 * Propagation modes by name: config-linux.md lists the first four for `rootfsPropagation`;
 * runc also takes the recursive `r` forms, which mount(8) options use too.
 */
export const ROOTFS_PROPAGATION = ['shared', 'slave', 'private', 'unbindable', 'rshared', 'rslave', 'rprivate', 'runbindable'] as const;

/** A name of {@link ROOTFS_PROPAGATION} to its MS_* flags (mount_namespaces(7) "Shared subtrees"). */
const PROPAGATION_FLAGS: Readonly<Record<(typeof ROOTFS_PROPAGATION)[number], number>> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};
const PROPAGATION_OPTIONS: Readonly<Record<string, number>> = PROPAGATION_FLAGS;

/**
 * Whether an OCI mount is a bind mount by the spec's rule (config.md "Mounts", as runc): type
 * `bind`, or a `bind` / `rbind` option. The checks of a config and of a config.json use this;
 * {@link parseMountOptions} also takes ns's own `rbind` type.
 */
export function isBindMount(m: { type?: string | undefined; options?: readonly string[] | undefined }): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/**
 * Parse a propagation name (`rprivate`, `slave` ...) into MS_* flags.
 * @throws NsError ERR_NS_CONFIG naming `field` for an unknown name.
 */
export function parsePropagation(name: string, field: string): number {
  // Own keys only: `constructor` or `toString` is no propagation.
  const flags = Object.hasOwn(PROPAGATION_OPTIONS, name) ? PROPAGATION_OPTIONS[name] : undefined;
  if (flags === undefined) throw configError(`${field}: unknown propagation "${name}"`, field);
  return flags;
}

/**
 * Split OCI `mounts[].options` (mount(8) vocabulary) into mount(2) flags, propagation and
 * the filesystem data string. Unknown options are passed to the filesystem as data, as
 * runc does (`mode=755`, `size=65536k`, `newinstance`, `gid=5`).
 *
 * @param type the mount's `type` (`bind` makes it a bind mount).
 * @see mount(8) "FILESYSTEM-INDEPENDENT MOUNT OPTIONS", OCI runtime-spec config.md "Mounts"
 */
export function parseMountOptions(options: readonly string[] = [], type?: string): ParsedMountOptions {
  let flags = 0;
  let cleared = 0;
  let propagation = 0;
  let bind = type === 'bind' || type === 'rbind';
  let recursive = type === 'rbind';
  const data: string[] = [];
  for (const option of options) {
    const flag = Object.hasOwn(FLAG_OPTIONS, option) ? FLAG_OPTIONS[option] : undefined;
    if (flag) {
      flags = (flags | flag[0]) & ~flag[1];
      cleared = (cleared | flag[1]) & ~flag[0];
      continue;
    }
    const prop = Object.hasOwn(PROPAGATION_OPTIONS, option) ? PROPAGATION_OPTIONS[option] : undefined;
    if (prop !== undefined) {
      propagation = prop;
      continue;
    }
    if (option === 'bind' || option === 'rbind') {
      bind = true;
      recursive ||= option === 'rbind';
      continue;
    }
    // idmap, X-mount.* and similar userspace-only options are not for the kernel; nor is
    // tmpcopyup, a runtime's (taken only where there is nothing to copy: oci-unsupported.ts).
    // idmap and ridmap are made with mount_setattr(2) (config/idmap-mounts.ts).
    if (option.startsWith('X-') || option.startsWith('x-') || option === 'tmpcopyup' || option === 'idmap' || option === 'ridmap') continue;
    data.push(option);
  }
  return { flags, cleared, propagation, data: data.length ? data.join(',') : null, bind, recursive };
}
