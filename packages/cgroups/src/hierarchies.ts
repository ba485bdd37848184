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

/** v1 controllers a container's cgroup always has with `hierarchies: 'needed'`: pause, OOM kills, processes, cpu usage. */
export const ALWAYS_V1 = ['freezer', 'memory', 'pids', 'cpuacct'] as const;

/**
 * The v1 hierarchies of `layout` a cgroup made with `hierarchies: 'needed'` is in: those
 * holding a controller the limits write to, devices when device rules apply, and
 * {@link ALWAYS_V1} (co-mounted controllers come along: cpu with cpuacct). Named hierarchies
 * (`name=systemd`) never. Empty on a unified host.
 *
 * @param resources `linux.resources` (validated by planResources)
 * @param options `devices`: device rules apply (default true); `defaultDevices` as CgroupOptions
 * @throws CgroupError `ERR_NS_CONFIG` as planResources
 */
export function neededV1Hierarchies(resources: LinuxResources, layout: CgroupLayout, options: { devices?: boolean; defaultDevices?: boolean } = {}): CgroupHierarchy[] {
  if (layout.v1.length === 0) return [];
  const devices = options.devices ?? true;
  const plan = planResources(resources, layout, { devices, defaultDevices: options.defaultDevices ?? true });
  const want = new Set<string>([...ALWAYS_V1, ...(devices ? ['devices'] : []), ...plan.writes.filter((w) => w.version === 1).map((w) => w.controller)]);
  return layout.v1.filter((h) => h.controllers.some((c) => want.has(c)));
}
