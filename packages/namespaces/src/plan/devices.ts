/**
 * /dev of a container: runc's default device nodes and /dev symlinks on a tmpfs /dev, and the
 * console (the pty slave) at /dev/console.
 */
import { posix } from 'node:path';
import { MS } from '@ns/syscalls';

/** S_IFCHR of stat(2): a character device. */
const S_IFCHR = 0o020000;
import type { MountConfig } from '../config/container.js';
import { parseMountOptions } from '../config/mountopts.js';
import { STAGE, type RootfsPlanner } from './rootfs.js';

/** Device nodes created in a tmpfs /dev, as runc's default devices (config-linux.md "Default Devices"). */
const DEVICES = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

/** The /dev symlinks of config-linux.md "Default Devices" and runc. */
const DEV_SYMLINKS: [path: string, target: string][] = [
  ['/dev/fd', '/proc/self/fd'],
  ['/dev/stdin', '/proc/self/fd/0'],
  ['/dev/stdout', '/proc/self/fd/1'],
  ['/dev/stderr', '/proc/self/fd/2'],
  ['/dev/ptmx', 'pts/ptmx'],
  ['/dev/core', '/proc/kcore'],
];

/**
 * Whether the container's /dev is a tmpfs of its own (the last mount on /dev is not a bind):
 * device nodes and the console go only there, never into a host directory bound on /dev.
 */
export function ownDevTmpfs(mounts: readonly MountConfig[]): boolean {
  const dev = mounts.findLast((m) => posix.resolve('/', m.destination) === '/dev');
  return dev !== undefined && !parseMountOptions(dev.options, dev.type).bind;
}

/**
 * Device nodes and /dev symlinks on a tmpfs /dev (runc's default devices, mode 0666, owned by
 * root). With a devices cgroup in force (`mknod`), they are made with mknod(2), as runc
 * does: the cgroup decides what opens. Without one, the host's nodes are bind-mounted (each
 * its own mount, not nodev) onto a nodev tmpfs, so a node the container makes itself with
 * CAP_MKNOD stays unusable; in a user namespace mknod(2) is refused anyway (runc's rootless
 * mode binds them the same way).
 */
export function deviceSteps(planner: RootfsPlanner, mknod = false): void {
  // /dev itself is resolved inside the rootfs; below it is the tmpfs this plan mounts.
  const dev = planner.resolve('/dev');
  for (const d of DEVICES) {
    const path = planner.staged(`${dev}/${d.name}`);
    if (mknod) {
      planner.mknod(path, S_IFCHR | 0o666, d.major, d.minor);
      continue;
    }
    planner.touch(path, 0o666);
    planner.mountAt(path, `${STAGE.oldRoot}/dev/${d.name}`, null, MS.BIND, null);
  }
  for (const [path, target] of DEV_SYMLINKS) {
    planner.symlink(target, planner.staged(`${dev}/${posix.basename(path)}`), true);
  }
}

/** The console: the pty slave (`consolePath` on the host) bound onto /dev/console. */
export function consoleSteps(planner: RootfsPlanner, consolePath: string): void {
  const path = planner.resolve('/dev/console');
  planner.ensureTarget(path, true);
  planner.mountAt(planner.staged(path), STAGE.oldRoot + consolePath, null, MS.BIND, null);
}
