/**
 * /dev of a container: runc's default device nodes and /dev symlinks on a tmpfs /dev, the
 * config's own device nodes (`linux.devices`), and the console (the pty slave) at /dev/console.
 */
import { posix } from 'node:path';
import { MS, configError } from '@ns/syscalls';
import type { DeviceConfig, MountConfig } from '../config/container.js';
import { parseMountOptions } from '../config/mountopts.js';
import { STAGE, type RootfsPlanner } from './rootfs.js';

/** File types of stat(2): character and block devices, FIFOs. */
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

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

/** How {@link deviceSteps} makes the config's nodes. */
export interface DeviceOptions {
  /** A devices cgroup is in force: nodes are made with mknod(2). */
  mknod: boolean;
  /** The config's `devices` (OCI `linux.devices`), validated. */
  devices?: readonly DeviceConfig[] | undefined;
  /** What messages call that list (`devices`, `linux.devices`). */
  field?: string;
}

/**
 * Device nodes and /dev symlinks on a tmpfs /dev (runc's default devices, mode 0666, owned by
 * root), then the config's own nodes. With a devices cgroup in force (`mknod`), nodes are made
 * with mknod(2), as runc does: the cgroup decides what opens. Without one, the host's nodes
 * are bind-mounted (each its own mount, not nodev) onto a nodev tmpfs, so a node the container
 * makes itself with CAP_MKNOD stays unusable; in a user namespace mknod(2) is refused anyway
 * (runc's rootless mode binds them the same way). A config's node at the path of a default one
 * replaces it (as runc's specconv); FIFOs (`p`) are always made with mknod(2).
 * @throws NsError `ERR_NS_CONFIG` naming `devices[i].path` when a node must be bound and the
 *   host has no such device at that path.
 */
export function deviceSteps(planner: RootfsPlanner, options: DeviceOptions): void {
  // /dev itself is resolved inside the rootfs; below it is the tmpfs this plan mounts.
  const dev = planner.resolve('/dev');
  const own = options.devices ?? [];
  const taken = new Set(own.map((d) => posix.resolve('/', d.path)));
  for (const d of DEVICES) {
    if (taken.has(`/dev/${d.name}`)) continue;
    const path = planner.staged(`${dev}/${d.name}`);
    if (options.mknod) {
      planner.mknod(path, S_IFCHR | 0o666, d.major, d.minor);
      continue;
    }
    planner.touch(path, 0o666);
    planner.mountAt(path, `${STAGE.oldRoot}/dev/${d.name}`, null, MS.BIND, null);
  }
  own.forEach((d, i) => configDevice(planner, dev, d, options.mknod, `${options.field ?? 'devices'}[${i}]`));
  for (const [path, target] of DEV_SYMLINKS) {
    planner.symlink(target, planner.staged(`${dev}/${posix.basename(path)}`), true);
  }
}

/**
 * One node of the config (validated: a path below /dev, numbers in range, a mode of permission
 * bits): mknod(2) with its mode (the plan's umask is 0 here) and owner, or a bind mount of the
 * host's node at the same path, which must be that very device (runc binds whatever is there).
 */
function configDevice(planner: RootfsPlanner, dev: string, d: DeviceConfig, mknod: boolean, field: string): void {
  const clean = posix.resolve('/', d.path);
  const rel = clean.slice('/dev/'.length);
  if (rel.includes('/')) planner.ensureDir(`${dev}/${posix.dirname(rel)}`);
  const path = planner.staged(`${dev}/${rel}`);
  const mode = d.fileMode ?? 0o666;
  if (d.type === 'p' || mknod) {
    const type = d.type === 'p' ? S_IFIFO : d.type === 'b' ? S_IFBLK : S_IFCHR;
    planner.mknod(path, type | mode, d.major ?? 0, d.minor ?? 0);
    if (d.uid || d.gid) planner.chown(path, d.uid ?? 0, d.gid ?? 0);
    return;
  }
  const want = d.type === 'b' ? 'b' : 'c';
  const host = planner.reads.device(clean);
  if (!host || host.type !== want || host.major !== d.major || host.minor !== d.minor) {
    const has = host ? `is ${host.type} ${host.major}:${host.minor}` : 'is no device node';
    throw configError(
      `${field}.path: ${clean} ${want} ${d.major}:${d.minor} must be bound from the host (no mknod in a user namespace, or without a devices cgroup), and the host's ${clean} ${has}`,
      `${field}.path`,
    );
  }
  planner.touch(path, 0o666);
  planner.mountAt(path, `${STAGE.oldRoot}${clean}`, null, MS.BIND, null);
}

/** The console: the pty slave (`consolePath` on the host) bound onto /dev/console. */
export function consoleSteps(planner: RootfsPlanner, consolePath: string): void {
  const path = planner.resolve('/dev/console');
  planner.ensureTarget(path, true);
  planner.mountAt(planner.staged(path), STAGE.oldRoot + consolePath, null, MS.BIND, null);
}
