/**
 * `linux.cgroupsPath` (config-linux.md "Cgroups Path") to a cgroup path inside each hierarchy,
 * and that path to directories on the host.
 */
import { join } from 'node:path';
import { configError } from './errors.js';
import type { CgroupLayout } from './layout.js';

export interface CgroupPathOptions {
  /** Container id: the default path is `<parent>/ns/<id>`. Required when `cgroupsPath` is unset. */
  id?: string;
  /**
   * The runtime's parent cgroup, absolute inside each hierarchy (default `/`, the top of each
   * mount). Relative `cgroupsPath` values live under it and may not leave it.
   */
  parent?: string;
}

/** Fold `.` and `..` segments; null when a `..` climbs above the start. */
function fold(segments: string[]): string[] | null {
  const out: string[] = [];
  for (const s of segments) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(s);
  }
  return out;
}

/**
 * Resolve `linux.cgroupsPath` the way config-linux.md asks: an absolute value is taken from the
 * top of each cgroup mount; a relative one is under the runtime's `parent`; unset (or `""`)
 * means `<parent>/ns/<id>`. `.` and `..` are folded; a `..` that climbs out of the parent (or,
 * for an absolute value, above the top) is refused, as is a path naming the parent itself or
 * the root cgroup: a container never gets a cgroup the host or the runtime lives in.
 *
 * @param cgroupsPath the config's `linux.cgroupsPath`
 * @returns a normalized absolute cgroup path (`/ns/web1`), the same inside every hierarchy
 * @throws CgroupError `ERR_NS_CONFIG` naming `linux.cgroupsPath` (or `id` / the parent option)
 */
export function resolveCgroupPath(cgroupsPath: string | undefined, options: CgroupPathOptions = {}): string {
  const parentOpt = options.parent ?? '/';
  if (!parentOpt.startsWith('/') || parentOpt.includes('\0')) throw configError('parent', `the runtime's parent cgroup must be an absolute path, got ${JSON.stringify(parentOpt)}`);
  const parentSegs = fold(parentOpt.split('/'));
  if (parentSegs === null) throw configError('parent', `${JSON.stringify(parentOpt)} climbs above the cgroup root`);
  const parent = `/${parentSegs.join('/')}`;

  if (cgroupsPath === undefined || cgroupsPath === '') {
    const id = options.id;
    if (id === undefined || id === '' || id === '.' || id === '..' || /[/\0\n]/.test(id)) {
      throw configError('id', `the default cgroup path ns/<id> needs an id that is one path segment, got ${JSON.stringify(id)}`);
    }
    return `/${[...parentSegs, 'ns', id].join('/')}`;
  }
  if (typeof cgroupsPath !== 'string' || cgroupsPath.includes('\0')) {
    throw configError('linux.cgroupsPath', `expected a path, got ${JSON.stringify(cgroupsPath)}`);
  }
  // The kernel refuses a cgroup name with a newline (cgroup_mkdir: EINVAL): say which field.
  if (cgroupsPath.includes('\n')) throw configError('linux.cgroupsPath', `a cgroup name cannot hold a newline, got ${JSON.stringify(cgroupsPath)}`);
  if (cgroupsPath.startsWith('/')) {
    const segs = fold(cgroupsPath.split('/'));
    if (segs === null) throw configError('linux.cgroupsPath', `${JSON.stringify(cgroupsPath)} climbs above the cgroup root`);
    if (segs.length === 0) throw configError('linux.cgroupsPath', 'names the root cgroup, which holds the host');
    return `/${segs.join('/')}`;
  }
  const segs = fold(cgroupsPath.split('/'));
  if (segs === null) throw configError('linux.cgroupsPath', `${JSON.stringify(cgroupsPath)} leaves the runtime's parent cgroup ${parent}`);
  if (segs.length === 0) throw configError('linux.cgroupsPath', `names the runtime's parent cgroup ${parent} itself`);
  return `/${[...parentSegs, ...segs].join('/')}`;
}

/** The directories of one cgroup on this host. */
export interface CgroupDirs {
  /** The cgroup path inside every hierarchy (`/ns/web1`). */
  path: string;
  /** v1 controller -> its directory (co-mounted controllers share one: cpu and cpuacct). Empty on a unified host. */
  v1: Record<string, string>;
  /** The cgroup2 directory: the only one on a unified host, process tracking and the v2 controllers on a hybrid one. */
  unified?: string;
}

/**
 * The directories of cgroup `path` in every hierarchy of `layout` (mount point + path; named
 * v1 hierarchies such as `name=systemd` are left out).
 *
 * @param path an absolute cgroup path, as resolveCgroupPath returns
 */
export function cgroupDirs(layout: CgroupLayout, path: string): CgroupDirs {
  const v1: Record<string, string> = {};
  for (const h of layout.v1) {
    for (const c of h.controllers) if (!c.startsWith('name=')) v1[c] = join(h.mountPoint, path);
  }
  return { path, v1, ...(layout.unified ? { unified: join(layout.unified.mountPoint, path) } : {}) };
}

/** Every distinct directory of `dirs`: the v1 ones (in hierarchy order) and then the cgroup2 one. */
export function allDirs(dirs: CgroupDirs): string[] {
  const out = [...new Set(Object.values(dirs.v1))];
  if (dirs.unified !== undefined) out.push(dirs.unified);
  return out;
}
