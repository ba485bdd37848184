/**
 * Which cgroup v1 hierarchies a container's cgroup is made in. runc makes it in every
 * hierarchy; each mkdir, pid attach (a v1 migration per hierarchy) and rmdir costs a start, so
 * `Cgroup.create(..., { hierarchies: 'needed' })` makes it only where it is used. A runtime
 * that mounts the container's cgroups inside it (/sys/fs/cgroup on a v1 host) asks the same
 * question to know what to mount.
 */
import type { CgroupHierarchy, CgroupLayout } from './layout.js';
import { planResources } from './plan.js';
import type { LinuxResources } from './types.js';

/**
 * v1 controllers a container's cgroup always has with `hierarchies: 'needed'`: OOM kills,
 * processes, cpu usage. Not freezer: Cgroup.freeze() makes that at the first pause.
 */
export const ALWAYS_V1 = ['memory', 'pids', 'cpuacct'] as const;

/** Which hierarchies a cgroup made with `hierarchies: 'needed'` is in. */
export interface NeededHierarchies {
  /** The v1 hierarchies (neededV1Hierarchies). */
  v1: CgroupHierarchy[];
  /** Whether it has a cgroup2 directory (neededUnified). */
  unified: boolean;
}

/**
 * Which hierarchies of `layout` a cgroup made with `hierarchies: 'needed'` is in (one planning
 * pass): the v1 ones holding a controller the limits write to, devices when device rules apply,
 * and {@link ALWAYS_V1} (co-mounted controllers come along: cpu with cpuacct), never a named one
 * (`name=systemd`); and the cgroup2 one always on a unified host, on a hybrid one only when a
 * limit writes there (hugetlb on v2, `unified` keys): there the v1 hierarchies track the
 * processes (pids), and a migration into the cgroup2 hierarchy costs a start an RCU
 * grace period of the kernel's threadgroup lock.
 *
 * @param resources `linux.resources` (validated by planResources)
 * @param options `devices`: device rules apply (default true); `defaultDevices` as CgroupOptions
 * @throws CgroupError `ERR_NS_CONFIG` as planResources
 */
export function neededHierarchies(resources: LinuxResources, layout: CgroupLayout, options: { devices?: boolean; defaultDevices?: boolean } = {}): NeededHierarchies {
  if (layout.mode === 'unified') return { v1: [], unified: true };
  const devices = options.devices ?? true;
  const plan = planResources(resources, layout, { devices, defaultDevices: options.defaultDevices ?? true });
  const want = new Set<string>([...ALWAYS_V1, ...(devices ? ['devices'] : []), ...plan.writes.filter((w) => w.version === 1).map((w) => w.controller)]);
  return {
    v1: layout.v1.filter((h) => h.controllers.some((c) => want.has(c))),
    unified: layout.unified !== undefined && (plan.deviceFilter !== undefined || plan.writes.some((w) => w.version === 2)),
  };
}

/** The v1 hierarchies of {@link neededHierarchies}; empty on a unified host. */
export function neededV1Hierarchies(resources: LinuxResources, layout: CgroupLayout, options: { devices?: boolean; defaultDevices?: boolean } = {}): CgroupHierarchy[] {
  return neededHierarchies(resources, layout, options).v1;
}

/**
 * The hierarchies, beyond `have`, where the parent of the cgroup `path` already exists (not the
 * hierarchy's root): the v1 ones with a controller, and the cgroup2 one when it offers any
 * controller. Someone made the parent there, and it may hold limits meant for everything below
 * it (the kubelet's pod cgroup: a pod's cpu quota, its cpuset, hugetlb). A cgroup made with
 * `hierarchies: 'needed'` is made in these too, so its processes stay under those limits, as
 * with runc (whose cgroups are in every hierarchy); where the parent does not exist, nothing
 * was set to apply there.
 *
 * @param path the cgroup's absolute path (`/kubepods/pod1/ctr`)
 * @param exists whether a directory exists (CgroupSys.exists)
 */
export function parentHierarchies(layout: CgroupLayout, path: string, have: NeededHierarchies, exists: (dir: string) => boolean): NeededHierarchies {
  const parent = path.slice(0, path.lastIndexOf('/'));
  if (parent === '') return { v1: [], unified: false };
  const v1 = layout.v1.filter((h) => !have.v1.includes(h) && h.controllers.some((c) => !c.startsWith('name=')) && exists(`${h.mountPoint}${parent}`));
  const u = layout.unified;
  const unified = !have.unified && u !== undefined && layout.mode === 'hybrid' && u.controllers.length > 0 && exists(`${u.mountPoint}${parent}`);
  return { v1, unified };
}

/**
 * The hierarchies, beyond `have`, where the cgroup `path` itself exists already (made by
 * someone before the container). Cgroup.open() goes by what exists: a container's ps, pause,
 * kill --all and delete would act on those directories and the processes in them, so a
 * cgroup made with `hierarchies: 'needed'` takes them in (and refuses them when they hold a
 * process: Cgroup.create()).
 *
 * @param path the cgroup's absolute path
 * @param exists whether a directory exists (CgroupSys.exists)
 */
export function presentHierarchies(layout: CgroupLayout, path: string, have: NeededHierarchies, exists: (dir: string) => boolean): NeededHierarchies {
  const v1 = layout.v1.filter((h) => !have.v1.includes(h) && h.controllers.some((c) => !c.startsWith('name=')) && exists(`${h.mountPoint}${path}`));
  const u = layout.unified;
  const unified = !have.unified && u !== undefined && exists(`${u.mountPoint}${path}`);
  return { v1, unified };
}
