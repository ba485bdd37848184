/**
 * A `cgroup` mount (OCI `mounts[].type: "cgroup"`, /sys/fs/cgroup) on a cgroup v1 or hybrid
 * host, as runc's mountCgroupV1 makes it: a tmpfs (mode=755) at the destination, then one
 * directory per hierarchy named as on the host (`memory`, `cpu,cpuacct`, `unified`) holding
 * the container's own cgroup there: with a cgroup namespace of its own a fresh cgroup mount
 * (`-o memory`, whose root is the namespace's root: the container's cgroup), without one a bind
 * of its cgroup directory; then a symlink per co-mounted controller (`cpu -> cpu,cpuacct`).
 * Read-only (the tmpfs too, once populated) unless the mount says `rw`.
 *
 * Only the hierarchies the container has a cgroup in (@ns/cgroups neededHierarchies, the ones
 * container/cgroup.ts makes it in; the cgroup2 one on a hybrid host only when a limit is there): in any other
 * hierarchy the container is still in the cgroup of the Node process that started it, and a
 * mount there would show that cgroup and everything below it (the host's tree, with a cgroup
 * namespace rooted there). Named hierarchies (`name=systemd`) are left out for the same reason.
 * A container without a cgroup of its own gets the empty tmpfs. A unified (v2-only) host mounts
 * cgroup2 (rootfs.ts), its root the container's cgroup with a cgroup namespace; without one, the
 * container's cgroup directory is bound there instead (runc mounts cgroup2, showing the host's
 * whole tree read-only).
 * @see OCI runtime-spec config-linux.md "Control groups"; runc libcontainer/rootfs_linux.go mountCgroupV1
 */
import { posix } from 'node:path';
import { neededHierarchies, resolveCgroupPath, type CgroupLayout } from '@ns/cgroups';
import { MS, type Step } from '@ns/syscalls';
import { hasCgroup, joinedNamespace, ownsNamespace, type Container } from '../config/container.js';
import { delegatedCgroupParent, hostCgroupLayout } from './host.js';
import { STAGE, type RootfsPlanner } from './rootfs.js';

/** One hierarchy as the container sees it under /sys/fs/cgroup. */
export interface CgroupFsEntry {
  /** The directory name (the host mount point's base name: `memory`, `cpu,cpuacct`, `unified`). */
  name: string;
  fstype: 'cgroup' | 'cgroup2';
  /** The mount data of a fresh mount: the hierarchy's controllers (`cpu,cpuacct`); null for cgroup2. */
  data: string | null;
  /** The container's cgroup directory on the host (the source of a bind without a cgroup namespace). */
  hostDir: string;
}

/** What a `cgroup` mount shows on a v1 or hybrid host. */
export interface CgroupFsView {
  /** `v1`: a v1 or hybrid host (a tmpfs with `entries`); `v2`: a unified host (one cgroup2 entry named ''). */
  mode: 'v1' | 'v2';
  entries: CgroupFsEntry[];
  /** Symlinks for co-mounted controllers: `cpu` -> `cpu,cpuacct`. */
  links: { name: string; target: string }[];
}

type CgroupFsContainer = Pick<Container, 'id' | 'resources' | 'cgroupsPath'>;

/**
 * The view of `container`'s cgroups: on a v1 or hybrid host its hierarchies (mode `v1`); on a
 * unified host its one cgroup2 directory (mode `v2`, one entry named '', none without a cgroup).
 * No cgroup of its own (none in the config; not root, unless on a v2 host that delegates one):
 * no entry. A config whose resources or path the cgroup step will refuse gets no entry either:
 * that step comes first and fails the start, naming the field.
 */
export function cgroupFsView(container: CgroupFsContainer, layout: CgroupLayout = hostCgroupLayout()): CgroupFsView {
  const unifiedHost = layout.mode === 'unified';
  const view: CgroupFsView = { mode: unifiedHost ? 'v2' : 'v1', entries: [], links: [] };
  const root = (process.geteuid?.() ?? 0) === 0;
  if (!hasCgroup(container) || !(root || (unifiedHost && delegatedCgroupParent() !== null))) return view;
  let path: string;
  let hierarchies;
  try {
    path = resolveCgroupPath(container.cgroupsPath, { id: container.id });
    hierarchies = neededHierarchies(container.resources ?? {}, layout);
  } catch {
    return view;
  }
  if (unifiedHost) {
    if (layout.unified) view.entries.push({ name: '', fstype: 'cgroup2', data: null, hostDir: posix.join(layout.unified.mountPoint, path) });
    return view;
  }
  const names = new Set<string>();
  for (const h of hierarchies.v1) {
    const name = posix.basename(h.mountPoint);
    if (name === '' || names.has(name)) continue;
    names.add(name);
    view.entries.push({ name, fstype: 'cgroup', data: h.controllers.join(','), hostDir: posix.join(h.mountPoint, path) });
    if (!name.includes(',')) continue;
    for (const c of name.split(',')) if (c !== '' && !c.startsWith('name=')) view.links.push({ name: c, target: name });
  }
  const u = layout.unified;
  const uname = u ? posix.basename(u.mountPoint) : '';
  if (u && hierarchies.unified && uname !== '' && !names.has(uname)) view.entries.push({ name: uname, fstype: 'cgroup2', data: null, hostDir: posix.join(u.mountPoint, path) });
  view.links = view.links.filter((l) => !names.has(l.name) && l.name !== uname);
  return view;
}

/**
 * On a v1 or hybrid host: the process joins its v1 cgroups itself, right after the `cgroup`
 * sync step (where the parent made them; plan/index.ts cgroupSteps places both): `0` written
 * to each directory's `tasks` file moves
 * the calling thread, and the set-up process is a single thread, so it moves whole. The kernel
 * then skips the threadgroup lock that a pid written to cgroup.procs takes for writing, whose
 * first taking after a while waits an RCU grace period (0.5-3 ms of a start here). The sync
 * handler (container/cgroup.ts) leaves the directories named here alone. Not with a user
 * namespace (made at clone or joined): the process is no longer the host's root there.
 */
export function cgroupJoinSteps(container: CgroupFsContainer & Pick<Container, 'namespaces'>, layout: CgroupLayout = hostCgroupLayout()): Step[] {
  if (layout.mode === 'unified' || ownsNamespace(container, 'user') || joinedNamespace(container, 'user') !== undefined) return [];
  return cgroupFsView(container, layout)
    .entries.filter((e) => e.fstype === 'cgroup')
    .map((e) => ({ op: 'writeFile', path: `${e.hostDir}/tasks`, data: '0', field: 'linux.cgroupsPath' }));
}

/**
 * Whether the plan of `container` names its cgroup directories (cgroupJoinSteps on a v1 host,
 * binds without a cgroup namespace), and so depends on its id when its cgroup path is the default `ns/<id>`: the plan
 * cache keys such a config by id too.
 */
export function cgroupFsNeedsId(container: Pick<Container, 'resources' | 'cgroupsPath' | 'mounts' | 'namespaces'>): boolean {
  if (container.cgroupsPath !== undefined || !hasCgroup(container)) return false;
  // The join steps (a v1 host), or binds of its cgroup directories (no cgroup namespace).
  return hostCgroupLayout().mode !== 'unified' || (!ownsNamespace(container, 'cgroup') && (container.mounts ?? []).some((m) => (m.type ?? m.source) === 'cgroup'));
}

/**
 * On a unified host without a cgroup namespace of its own: a read-only (unless `rw`) bind of
 * the container's cgroup directory (`view.entries[0]`), not a cgroup2 mount, which would show
 * the whole host tree from its root. True when it made the steps; false when the container
 * has no cgroup (the caller mounts as before).
 */
export function cgroupV2BindSteps(planner: RootfsPlanner, dest: string, view: CgroupFsView, flags: number): boolean {
  const e = view.entries[0];
  if (view.mode !== 'v2' || !e) return false;
  const target = planner.staged(dest);
  planner.mountAt(target, STAGE.oldRoot + e.hostDir, null, MS.BIND | MS.REC, null);
  planner.mountAt(target, null, null, MS.BIND | MS.REMOUNT | flags | MS.NOSUID | MS.NODEV | MS.NOEXEC, null, true);
  return true;
}

/**
 * The steps of a `cgroup` mount at `dest` (a resolved container path) on a v1 or hybrid host.
 * @param flags the mount's MS_* flags (`ro` -> MS_RDONLY); nosuid, nodev and noexec are added
 * @param ownCgroup the container has a cgroup namespace of its own (fresh mounts, else binds)
 */
export function cgroupV1MountSteps(planner: RootfsPlanner, dest: string, view: CgroupFsView, flags: number, ownCgroup: boolean): void {
  const target = planner.staged(dest);
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const mountFlags = (flags & ~MS.RDONLY) | base;
  planner.mountAt(target, 'tmpfs', 'tmpfs', base, 'mode=755');
  for (const e of view.entries) {
    const at = `${target}/${e.name}`;
    planner.steps.push({ op: 'mkdir', path: at, mode: 0o755, existOk: false, nofollow: true });
    if (ownCgroup) {
      planner.mountAt(at, e.fstype, e.fstype, mountFlags | (flags & MS.RDONLY), e.data);
    } else {
      planner.mountAt(at, STAGE.oldRoot + e.hostDir, null, MS.BIND | MS.REC, null);
      planner.mountAt(at, null, null, MS.BIND | MS.REMOUNT | mountFlags | (flags & MS.RDONLY), null, true);
    }
  }
  for (const l of view.links) planner.symlink(l.target, `${target}/${l.name}`, true);
  if (flags & MS.RDONLY) planner.readonlyAtEnd(target);
}
