/**
 * The host's cgroup layout, from /proc/self/mountinfo (proc(5)) and the cgroup2 root's
 * cgroup.controllers (Documentation/admin-guide/cgroup-v2.rst): cgroup v2 alone ("unified"),
 * v1 hierarchies alone ("legacy"), or both ("hybrid": v1 controllers under
 * /sys/fs/cgroup/<controller> and a cgroup2 mount, usually /sys/fs/cgroup/unified, holding the
 * controllers no v1 hierarchy took), and which controller lives where.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupError } from './errors.js';

/** Controllers a v1 hierarchy can bind (cgroups(7)); other mount options are not controllers. */
export const V1_CONTROLLERS = [
  'blkio',
  'cpu',
  'cpuacct',
  'cpuset',
  'devices',
  'freezer',
  'hugetlb',
  'memory',
  'misc',
  'net_cls',
  'net_prio',
  'perf_event',
  'pids',
  'rdma',
] as const;

/** One mounted cgroup hierarchy. */
export interface CgroupHierarchy {
  version: 1 | 2;
  /** Where it is mounted (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup`). */
  mountPoint: string;
  /** The hierarchy path shown at the mount point (mountinfo field 4): `/` unless bind-mounted or seen from a cgroup namespace. */
  root: string;
  /**
   * v1: the controllers bound to it (`cpu`, `cpuacct`) and its `name=` if named (`name=systemd`).
   * v2: the controllers available at its top directory (its cgroup.controllers).
   */
  controllers: string[];
}

export type CgroupMode = 'unified' | 'legacy' | 'hybrid';

/** Where cgroups are on this host. */
export interface CgroupLayout {
  mode: CgroupMode;
  /** The cgroup2 mount, when there is one (unified and hybrid). */
  unified?: CgroupHierarchy;
  /** Every v1 hierarchy with at least one controller or a name, in mountinfo order. */
  v1: CgroupHierarchy[];
  /** Each available controller and the hierarchy holding it (v1 wins over v2 for the same name). */
  controllers: Record<string, CgroupHierarchy>;
}

/** One line of /proc/PID/mountinfo, the fields this package uses. */
export interface MountInfoEntry {
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string[];
}

/** Undo mountinfo's octal escapes (`\040` is a space). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parse /proc/PID/mountinfo text (proc(5)): one entry per well-formed line, octal escapes
 * decoded; malformed lines are skipped.
 */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    out.push({
      root: unescape(fields[3]!),
      mountPoint: unescape(fields[4]!),
      fsType: fields[dash + 1]!,
      source: unescape(fields[dash + 2]!),
      superOptions: (fields[dash + 3] ?? '').split(','),
    });
  }
  return out;
}

const KNOWN_V1 = new Set<string>(V1_CONTROLLERS);

/** Prefer mounts under /sys/fs/cgroup, then a mount of the hierarchy's root, then the first seen. */
function better(a: CgroupHierarchy, b: CgroupHierarchy): boolean {
  const score = (h: CgroupHierarchy): number => (h.mountPoint.startsWith('/sys/fs/cgroup') ? 2 : 0) + (h.root === '/' ? 1 : 0);
  return score(b) > score(a);
}

/**
 * The layout described by a mountinfo text. Pure: the v2 controllers (the cgroup2 mount's
 * cgroup.controllers, which mountinfo does not show) are passed in.
 *
 * @param mountinfo the text of /proc/PID/mountinfo
 * @param v2Controllers the words of `<cgroup2 mount>/cgroup.controllers` (`['cpu', 'memory', ...]`)
 * @throws CgroupError `ENOENT` when no cgroup or cgroup2 filesystem is mounted
 */
export function layoutFromMountInfo(mountinfo: string, v2Controllers: readonly string[] = []): CgroupLayout {
  let unified: CgroupHierarchy | undefined;
  const byKey = new Map<string, CgroupHierarchy>();
  for (const m of parseMountInfo(mountinfo)) {
    if (m.fsType === 'cgroup2') {
      const h: CgroupHierarchy = { version: 2, mountPoint: m.mountPoint, root: m.root, controllers: [...v2Controllers] };
      if (!unified || better(unified, h)) unified = h;
    } else if (m.fsType === 'cgroup') {
      const controllers = m.superOptions.filter((o) => KNOWN_V1.has(o) || o.startsWith('name='));
      if (controllers.length === 0) continue;
      const key = controllers.join(',');
      const h: CgroupHierarchy = { version: 1, mountPoint: m.mountPoint, root: m.root, controllers };
      const seen = byKey.get(key);
      if (!seen || better(seen, h)) byKey.set(key, h);
    }
  }
  const v1 = [...byKey.values()];
  const controllers: Record<string, CgroupHierarchy> = {};
  if (unified) for (const c of unified.controllers) controllers[c] = unified;
  for (const h of v1) for (const c of h.controllers) if (!c.startsWith('name=')) controllers[c] = h;
  const hasV1Controllers = v1.some((h) => h.controllers.some((c) => !c.startsWith('name=')));
  if (!unified && v1.length === 0) {
    throw new CgroupError('ENOENT', 'no cgroup filesystem is mounted (neither cgroup nor cgroup2 in /proc/self/mountinfo)', { path: '/proc/self/mountinfo' });
  }
  const mode: CgroupMode = !hasV1Controllers ? 'unified' : unified ? 'hybrid' : 'legacy';
  return { mode, ...(unified ? { unified } : {}), v1, controllers };
}

let cached: CgroupLayout | undefined;

/**
 * This host's layout, read from /proc/self/mountinfo and the cgroup2 mount's
 * cgroup.controllers. Cached for the life of the process (mounts rarely change under a
 * runtime); pass `{ refresh: true }` to read again.
 *
 * @throws CgroupError `ENOENT` when no cgroup filesystem is mounted; Node's fs errors when
 *   /proc is not mounted
 */
export function detectLayout(options: { refresh?: boolean } = {}): CgroupLayout {
  if (cached && !options.refresh) return cached;
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const probe = layoutFromMountInfo(mountinfo);
  let v2: string[] = [];
  if (probe.unified) {
    try {
      v2 = readFileSync(join(probe.unified.mountPoint, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
    } catch {
      v2 = [];
    }
  }
  cached = v2.length ? layoutFromMountInfo(mountinfo, v2) : probe;
  return cached;
}

/** One line of /proc/PID/cgroup: `hierarchy-ID:controller-list:cgroup-path` (cgroups(7)). */
export interface ProcCgroupEntry {
  id: number;
  /** v1 controllers (`['cpu', 'cpuacct']`, `['name=systemd']`); empty for the v2 line `0::/path`. */
  controllers: string[];
  path: string;
}

/** Parse /proc/PID/cgroup text (cgroups(7)). */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    out.push({ id: Number(m[1]), controllers: m[2] ? m[2].split(',') : [], path: m[3]! });
  }
  return out;
}

/**
 * The directories of the cgroups a process is in, one per mounted hierarchy of `layout`
 * (v1 hierarchies matched by controller list, the v2 one by the `0::` line). A path outside
 * the mount's root (another cgroup namespace) is left out.
 *
 * @param pid a pid or `self` (default)
 * @throws Node's fs error when /proc/PID/cgroup cannot be read (`ENOENT`: no such process)
 */
export function processCgroupDirs(layout: CgroupLayout, pid: number | 'self' = 'self'): string[] {
  const entries = parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  const dirs: string[] = [];
  const add = (h: CgroupHierarchy, path: string): void => {
    const root = h.root === '/' ? '' : h.root;
    if (root && path !== root && !path.startsWith(`${root}/`)) return;
    const dir = join(h.mountPoint, path.slice(root.length));
    dirs.push(dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir);
  };
  for (const e of entries) {
    if (e.id === 0 && e.controllers.length === 0) {
      if (layout.unified) add(layout.unified, e.path);
      continue;
    }
    const h = layout.v1.find((x) => x.controllers.length === e.controllers.length && x.controllers.every((c) => e.controllers.includes(c)));
    if (h) add(h, e.path);
  }
  return dirs;
}
