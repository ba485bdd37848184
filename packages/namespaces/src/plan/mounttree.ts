/**
 * The mount tree of a plan: with a mount namespace of the container's own, the staging of the
 * new root and its two pivot_root(2) calls, with the propagation `rootfsPropagation` asks for;
 * without one (the caller's inherited, or one joined by path), no mount at all: chroot(2) into
 * the rootfs as runc does, or the joined namespace's own root.
 */
import { MS, type Step } from '@ns/syscalls';
import { joinedNamespace, type Container } from '../config/container.js';
import { DEFAULT_MOUNTS } from '../config/defaults.js';
import { mountIdmap } from '../config/idmap-mounts.js';
import { parsePropagation } from '../config/mountopts.js';
import type { ValidContainer } from '../config/valid.js';
import { consoleSteps, deviceSteps, ownDevTmpfs } from './devices.js';
import { isOwnConsole, ownConsoleSteps, ownsDevpts } from './console.js';
import { createContainerSteps, hookSyncSteps, startContainerCheckSteps } from './hooks.js';
import type { HostReads } from './hostreads.js';
import type { PlanIo } from './index.js';
import { noPivotRootSteps, noPivotStageSteps } from './nopivot.js';
import { RootfsPlanner, STAGE, maskedPathSteps, readonlyPathSteps, type MountEnv } from './rootfs.js';

/** The propagation bits of MS_* flags (without MS_REC). */
const PROPAGATION = MS.SHARED | MS.SLAVE | MS.PRIVATE | MS.UNBINDABLE;

/**
 * The tree as the new mount namespace has it, before anything is mounted. Every mode keeps the
 * staging (a tmpfs on /tmp) and what is made under it from reaching the caller's namespace:
 * - private and unbindable: every mount private (the copy shares nothing with the host);
 * - slave: every mount a slave, so that mount events of the host reach the container (the root
 *   bound from the rootfs stays a slave of its host mount: runc#5192) and none go back;
 * - shared: only `/` and `/tmp` (when it is a mount point) private, the rest as the host has it,
 *   so that the rootfs and volumes bound from shared host mounts stay peers of them, both ways.
 * @see mount_namespaces(7) "Shared subtrees"
 */
function propagationBefore(propagation: number): Step[] {
  const kind = propagation & PROPAGATION;
  const at = (target: string, flags: number, extra: object = {}): Step => ({ op: 'mount', source: null, target, fstype: null, flags, data: null, ...extra });
  if (kind === MS.SLAVE) return [at('/', MS.REC | MS.SLAVE)];
  if (kind === MS.SHARED) return [at('/', MS.PRIVATE), at(STAGE.base, MS.PRIVATE, { ignoreInvalid: true })];
  return [at('/', MS.REC | MS.PRIVATE)];
}

/**
 * With a mount namespace of the container's own: a private mount tree (see propagationBefore),
 * the staging tmpfs holding the new root and the old one, the root and the config's mounts,
 * /dev, the console, masked paths, pivot_root into the new root, sysctls, read-only paths, a
 * read-only root, then `rootfsPropagation` on `/` (last: pivot_root refuses a shared new root,
 * an unbindable one refuses the binds of masked paths). Every step under the new root follows
 * no symlink (rootfs.ts).
 *
 * @param env what of the namespaces changes how mounts are made (user namespace, devices cgroup ...)
 * @returns the steps, from the first propagation change to the read-only root
 * @throws NsError as RootfsPlanner and deviceSteps (a missing bind source, a device to bind that
 *   the host does not have).
 */
export function ownMountTreeSteps(container: ValidContainer, io: PlanIo, reads: HostReads, env: MountEnv): Step[] {
  const propagation = parsePropagation(container.rootfsPropagation ?? 'rprivate', 'rootfsPropagation');
  const steps: Step[] = propagationBefore(propagation);
  steps.push({ op: 'mount', source: 'tmpfs', target: STAGE.base, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=0700' });
  steps.push({ op: 'mkdir', path: `${STAGE.base}${STAGE.newRoot}`, mode: 0o755, existOk: false });
  steps.push({ op: 'mkdir', path: `${STAGE.base}${STAGE.oldRoot}`, mode: 0o755, existOk: false });
  // Without pivot_root (noPivotRoot, runc's --no-pivot): MS_MOVE and chroot(2) (nopivot.ts).
  if (container.noPivotRoot) steps.push(...noPivotStageSteps(reads, container.rootfs));
  else steps.push({ op: 'pivotRootKeep', newRoot: STAGE.base, putOld: `${STAGE.base}${STAGE.oldRoot}` });
  steps.push({ op: 'chdir', path: '/' });

  // The new root, built under /newroot: every step there follows no symlink (rootfs.ts).
  const planner = new RootfsPlanner(container.rootfs, reads, { ...env, sharedRoot: (propagation & PROPAGATION) === MS.SHARED });
  const rootFlags = planner.root(container.rootfs, container.rootfsOverlay);
  if (container.rootfs === null) planner.hostSandbox();
  const mounts = container.mounts ?? DEFAULT_MOUNTS;
  mounts.forEach((m, i) => planner.mount(m, i, mountIdmap(container, m, i)));
  // Devices and the console only on a /dev of our own: never into a host directory bound there.
  const devTmpfs = ownDevTmpfs(mounts);
  if (devTmpfs) deviceSteps(planner, { mknod: env.devicesCgroup ?? false, devices: container.devices, field: container.bundle !== undefined ? 'linux.devices' : 'devices' });
  if (isOwnConsole(io.console)) {
    // Of the container's own devpts; without one nothing here (the caller plans again with a
    // pty of its own: process/exec.ts).
    if (devTmpfs && ownsDevpts(mounts)) ownConsoleSteps(planner, io.console);
  } else if (io.console && devTmpfs) {
    consoleSteps(planner, io.console.path);
  }
  // The working directory is created when missing, as runc does; not in a read-only root
  // bound from the host (ensureCwd).
  planner.ensureCwd(planner.resolve(container.cwd), container.readonly === true);
  planner.finish();
  steps.push({ op: 'procRoot', path: `${STAGE.oldRoot}/proc` });
  steps.push(...planner.steps);
  // Masked paths while the host's /dev/null is at hand (never the rootfs' own: CVE-2025-31133).
  steps.push(...maskedPathSteps(container, planner));
  // startContainer hooks' paths checked in the new root first; prestart and createRuntime by
  // the parent, then createContainer here (plan/hooks.ts).
  steps.push(...startContainerCheckSteps(container, (p) => planner.staged(planner.resolve(p))));
  steps.push(...hookSyncSteps(container), ...createContainerTreeSteps(container, propagation));
  steps.push(...(container.noPivotRoot ? noPivotRootSteps() : [{ op: 'pivotRoot', newRoot: STAGE.newRoot } as const]));
  steps.push({ op: 'procRoot', path: '/proc' });

  // Inside the new root: sysctls (before /proc/sys turns read-only), read-only paths, then
  // the root itself.
  steps.push(...sysctlSteps(container));
  steps.push(...readonlyPathSteps(container, planner));
  if (container.readonly) {
    steps.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | rootFlags, data: null, preserveFlags: true });
  }
  // The propagation asked, on `/` once the tree is complete: pivot_root refuses a shared new
  // root, and masked and read-only paths are bind mounts, which an unbindable tree refuses.
  if (propagation !== (MS.REC | MS.PRIVATE)) steps.push({ op: 'mount', source: null, target: '/', fstype: null, flags: propagation, data: null });
  return steps;
}

/**
 * The createContainer hooks of a container with a mount namespace of its own, where runc runs
 * them: with the host's root as the container's mount namespace has it, in the rootfs's host
 * path with the container's mounts there (runc binds the rootfs onto itself). The new root is
 * made shared for the time of the hooks and bound (rbind) onto the rootfs's path under the old
 * root, so that what a hook mounts there (a CDI hook's libraries ...) reaches the new root, then
 * private again (pivot_root refuses a shared new root); the bind goes with the old root. With
 * `rootfsPropagation` shared (the old root's mounts may be peers of the host's: the bind would
 * show on the host) or no rootfs, the hooks start in the staged new root instead.
 */
function createContainerTreeSteps(container: ValidContainer, propagation: number): Step[] {
  const hooks = createContainerSteps(container, true, false);
  if (hooks.length === 0) return [];
  if (container.rootfs === null || (propagation & PROPAGATION) === MS.SHARED) return hooks;
  const mirror = `${STAGE.oldRoot}${container.rootfs}`;
  const at = (target: string, source: string | null, flags: number): Step => ({ op: 'mount', source, target, fstype: null, flags, data: null, field: 'hooks.createContainer' });
  return [
    at(STAGE.newRoot, null, MS.SHARED),
    at(mirror, STAGE.newRoot, MS.BIND | MS.REC),
    ...hooks.map((h) => ({ ...h, cwd: mirror })),
    at(STAGE.newRoot, null, MS.PRIVATE),
  ];
}

/** `sysctl` written under /proc/sys (its keys were checked to be namespaced ones). */
function sysctlSteps(container: Pick<Container, 'sysctl'>): Step[] {
  return Object.entries(container.sysctl ?? {}).map(([key, value]) => ({ op: 'writeFile', path: `/proc/sys/${key.replaceAll('.', '/')}`, data: value }));
}

/**
 * Without a mount namespace of the container's own (validateContainer refused what would need
 * one: mounts, devices, masked and read-only paths, a read-only root, propagation): sysctls
 * through the /proc at hand, then, in the caller's mount namespace, chroot(2) into the rootfs
 * (runc's no-mount-namespace path, without its mounts in the host's namespace); in a joined one
 * the process has that namespace's root already (setns(2) set it). The working directory is
 * created when missing, as runc does.
 */
export function sharedMountTreeSteps(container: ValidContainer): Step[] {
  const joined = joinedNamespace(container, 'mount') !== undefined;
  const steps: Step[] = [...hookSyncSteps(container), ...createContainerSteps(container, false, joined), ...sysctlSteps(container)];
  if (!joined) steps.push({ op: 'chroot', path: container.rootfs! });
  let at = '';
  for (const part of container.cwd.split('/').filter(Boolean)) {
    at += `/${part}`;
    steps.push({ op: 'mkdir', path: at, mode: 0o755, existOk: true });
  }
  steps.push(...startContainerCheckSteps(container));
  return steps;
}
