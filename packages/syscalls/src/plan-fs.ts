/**
 * The plan's file-system steps: mounts, pivot_root, chroot, chdir and the files a set-up
 * creates (mkdir, mknod, symlink, touch, chown, chmod). Part of plan.ts, which re-exports them.
 */
import type { StepCommon } from './plan.js';

/** mount(2): `mount(source, target, fstype, flags, data)`. */
export interface MountStep extends StepCommon {
  op: 'mount';
  source: string | null;
  target: string;
  fstype: string | null;
  /** MS_* flags (see {@link MS}). */
  flags: number;
  data: string | null;
}

/** umount2(2). `flags` are MNT_* / UMOUNT_* flags. */
export interface Umount2Step extends StepCommon {
  op: 'umount2';
  target: string;
  flags: number;
}

/** mkdir(2). With `existOk`, EEXIST is not an error. `mode` is an octal permission number. */
export interface MkdirStep extends StepCommon {
  op: 'mkdir';
  path: string;
  mode: number;
  existOk: boolean;
}

/** Create an empty regular file if it does not exist: open(2) with O_CREAT, then close. */
export interface TouchStep extends StepCommon {
  op: 'touch';
  path: string;
  mode: number;
}

/** mknod(2). `mode` includes the file type (S_IFCHR | 0o666); `major`/`minor` make the dev_t. */
export interface MknodStep extends StepCommon {
  op: 'mknod';
  path: string;
  mode: number;
  major: number;
  minor: number;
}

/** symlink(2): create `path` pointing at `target`. With `existOk`, EEXIST is not an error. */
export interface SymlinkStep extends StepCommon {
  op: 'symlink';
  target: string;
  path: string;
  existOk: boolean;
}

/** fchownat(2), not following a last symlink (with `nofollow`, none on the way); -1 keeps an id. */
export interface ChownStep extends StepCommon {
  op: 'chown';
  path: string;
  uid: number;
  gid: number;
}

/**
 * fchown(2) of the child's own descriptor `fd` (-1 keeps an id): the stdio pipes handed to a
 * process that runs as another user, as runc's fixStdioPermissions, so that it may reopen them
 * (`echo hi >/proc/self/fd/1`). As runc, EINVAL (an id not mapped in the user namespace),
 * EPERM (the file's owner not mapped there) and EROFS are not errors: the process keeps
 * descriptors it can read and write, only not reopen.
 */
export interface FchownStep extends StepCommon {
  op: 'fchown';
  fd: number;
  uid: number;
  gid: number;
}

/** chroot(2) then chdir("/"): the root of a container without a mount namespace of its own (as runc). */
export interface ChrootStep extends StepCommon {
  op: 'chroot';
  path: string;
}

/** chmod(2). */
export interface ChmodStep extends StepCommon {
  op: 'chmod';
  path: string;
  mode: number;
}

/**
 * pivot_root(2) to `newRoot`, with the old root stacked on it and then lazily unmounted:
 * `chdir(newRoot); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")` (the sequence
 * in the pivot_root(2) man page, as runc does). `newRoot` must be a mount point.
 */
export interface PivotRootStep extends StepCommon {
  op: 'pivotRoot';
  newRoot: string;
}

/** pivot_root(2) keeping the old root at `putOld` (a directory under `newRoot`). */
export interface PivotRootKeepStep extends StepCommon {
  op: 'pivotRootKeep';
  newRoot: string;
  putOld: string;
}

/**
 * A new root without pivot_root(2), for a root pivot_root cannot leave (an initramfs, a ramfs
 * or tmpfs rootfs: runc's --no-pivot, its msMoveRoot): `chdir(path); mount(".", "/", NULL,
 * MS_MOVE); chroot("."); chdir("/")`. `path` must be a mount point whose parent mount is not
 * shared. What was the root stays under it in the mount namespace.
 */
export interface MoveRootStep extends StepCommon {
  op: 'moveRoot';
  path: string;
}

/**
 * Take away a mount before {@link MoveRootStep}, as runc's msMoveRoot does with the full
 * procfs and sysfs mounts it leaves behind: `mount(NULL, path, NULL, MS_SLAVE | MS_REC)` (so
 * that the unmount reaches no peer; ENOENT: already gone with a parent, success), then
 * `umount2(path, MNT_DETACH)`; where the unmount is refused (EINVAL, EPERM: a mount locked in
 * a user namespace) a tmpfs is mounted over it instead.
 */
export interface DetachMountStep extends StepCommon {
  op: 'detachMount';
  path: string;
}

/** chdir(2). */
export interface ChdirStep extends StepCommon {
  op: 'chdir';
  path: string;
}

/**
 * The first half of an id-mapped bind mount (config.md `idmap`/`ridmap`), made where the
 * process still has CAP_SYS_ADMIN over the source's file system (before it makes or joins a
 * user namespace): `open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
 * [| AT_RECURSIVE])`, a detached copy of the mount (tree) at `source`, then
 * `mount_setattr(tree, "", AT_EMPTY_PATH [| AT_RECURSIVE], {attr_set: MOUNT_ATTR_IDMAP,
 * userns_fd: fd})`, then the detached tree takes `fd`'s number (dup3, no close-on-exec) for the
 * {@link IdmapMoveStep} with the same `fd`. `fd` is a descriptor the parent opened on a user
 * namespace holding the mount's mappings (its uid_map/gid_map: on-disk id `containerID` is shown
 * as `hostID`). EINVAL from mount_setattr: the file system does not support id-mapped mounts.
 * @see open_tree(2), mount_setattr(2), move_mount(2)
 */
export interface IdmapOpenStep extends StepCommon {
  op: 'idmapOpen';
  /** The host path to bind (resolved: no symlink). */
  source: string;
  /** The user namespace descriptor; filled in by the parent before spawning (-1 in a plan made for a dry run). */
  fd: number;
  /** Clone the whole tree under `source` (`rbind`): AT_RECURSIVE to open_tree. */
  recursive: boolean;
  /** Map every mount of the tree (`ridmap`): AT_RECURSIVE to mount_setattr. */
  recursiveIdmap: boolean;
  /** For the parent, which opens `fd`: the mappings of its user namespace (not encoded). */
  uidMappings: readonly { containerID: number; hostID: number; size: number }[];
  gidMappings: readonly { containerID: number; hostID: number; size: number }[];
}

/**
 * The second half of an id-mapped bind mount: `move_mount(fd, "", AT_FDCWD, target,
 * MOVE_MOUNT_F_EMPTY_PATH)` of the detached tree {@link IdmapOpenStep} left at `fd`, then
 * close(fd). `target` is a staged path under the new root (made by earlier steps).
 */
export interface IdmapMoveStep extends StepCommon {
  op: 'idmapMove';
  fd: number;
  target: string;
}
