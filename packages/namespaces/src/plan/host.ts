/**
 * What planning takes from the calling process and the running kernel, read once per process:
 * the caller's inheritable capabilities and RLIMIT_NOFILE hard limit, and the kinds of the
 * kernel's own files (/proc, /sys). The rootfs and other host paths are read per planning pass,
 * through HostReads (hostreads.ts).
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { parseStatusCapabilities } from '@ns/capabilities';
import { layoutFromMountInfo, type CgroupLayout } from '@ns/cgroups';
import { statKind, type Kind } from './hostreads.js';

let inheritableCache: bigint | undefined;
let nofileHardCache: number | undefined;
const kernelKindCache = new Map<string, Kind>();

/** The caller's inheritable capability set (the seed drops from it, never adds to it); read once. */
export function callerInheritable(): bigint {
  if (inheritableCache === undefined) {
    try {
      inheritableCache = parseStatusCapabilities(readFileSync('/proc/self/status', 'utf8')).inheritable;
    } catch {
      inheritableCache = 0n;
    }
  }
  return inheritableCache;
}

/** The caller's hard RLIMIT_NOFILE, from /proc/self/limits (read once: Node never changes it). */
export function callerNofileHard(): number {
  return (nofileHardCache ??= readNofileHard());
}

function readNofileHard(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const hard = line?.split(/\s{2,}/)[2];
    if (hard && /^\d+$/.test(hard)) return Number(hard);
  } catch {
    // fall through
  }
  return 1024;
}

/** True for a path of the kernel's own file systems, /proc and /sys (the same in every container). */
export function isKernelPath(p: string): boolean {
  return p === '/proc' || p.startsWith('/proc/') || p === '/sys' || p.startsWith('/sys/');
}

/**
 * The kind of a /proc or /sys path ({@link isKernelPath}) as the host kernel has it (lstat):
 * the same for every container this process starts, so read once.
 */
export function kernelKind(p: string): Kind {
  let kind = kernelKindCache.get(p);
  if (kind === undefined) kernelKindCache.set(p, (kind = statKind(p, false)));
  return kind;
}

/**
 * Rootless on cgroup v2: the cgroup a process of this user may make containers' cgroups in,
 * as a path inside the cgroup2 hierarchy (`/user.slice/user-1000.slice/user@1000.service/app.slice`),
 * or null. It is the parent of this process's own cgroup when this user may write it (a
 * delegated subtree, as systemd gives user@UID.service): its cgroup.procs and
 * cgroup.subtree_control are writable, and it holds no process itself (cgroup v2's
 * no-internal-process rule), so a sibling of our own cgroup can be made there and given
 * controllers. Read once per process.
 * @see Documentation/admin-guide/cgroup-v2.rst "Delegation"
 */
export function delegatedCgroupParent(): string | null {
  if (delegatedCache === undefined) delegatedCache = findDelegatedParent();
  return delegatedCache;
}

let delegatedCache: string | null | undefined;

function findDelegatedParent(): string | null {
  try {
    const cgroup2 = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => / - cgroup2 /.test(l))
      ?.split(' ')[4];
    const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    // A hybrid host has cgroup2 with no controllers and v1 beside it: not delegation.
    if (!cgroup2 || !own || own === '/' || /^\d+:[^:]+:/m.test(readFileSync('/proc/self/cgroup', 'utf8').replace(/^0::.*$/m, ''))) return null;
    const parent = posix.dirname(own);
    const dir = posix.join(cgroup2, parent);
    for (const file of ['cgroup.procs', 'cgroup.subtree_control']) accessSync(posix.join(dir, file), constants.W_OK);
    accessSync(dir, constants.W_OK);
    if (readFileSync(posix.join(dir, 'cgroup.procs'), 'utf8').trim() !== '') return null;
    return parent;
  } catch {
    return null;
  }
}

let layoutCache: CgroupLayout | undefined;

/**
 * The host's cgroup layout (v1, v2 or hybrid: @ns/cgroups layoutFromMountInfo over
 * /proc/self/mountinfo and the cgroup2 mount's cgroup.controllers), read once: mount points do
 * not move under a running runtime. Planning (the container's /sys/fs/cgroup) and the cgroup
 * manager (container/cgroup.ts) share it.
 * @throws CgroupError `ENOENT` when no cgroup filesystem is mounted
 */
export function hostCgroupLayout(): CgroupLayout {
  if (layoutCache) return layoutCache;
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const probe = layoutFromMountInfo(mountinfo);
  let v2: string[] = [];
  if (probe.unified) {
    try {
      v2 = readFileSync(posix.join(probe.unified.mountPoint, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
    } catch {
      v2 = [];
    }
  }
  return (layoutCache = v2.length ? layoutFromMountInfo(mountinfo, v2) : probe);
}
