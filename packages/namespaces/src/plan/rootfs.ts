/**
 * The mount part of a plan: the root and the config's mounts staged under the new root
 * (`/newroot`, before the second pivot_root), and after it the masked and read-only paths.
 *
 * Every step under the new root is made with `nofollow` (openat2 RESOLVE_NO_SYMLINKS in the
 * child): its path was resolved inside the rootfs here, on the host side, so a symlink met in
 * the child was planted meanwhile to lead the step outside, and the step fails with ELOOP.
 */
import { posix } from 'node:path';
import { ErrorCode, MS, NsError, configError, type MountStep, type Step } from '@ns/syscalls';
import type { Container, MountConfig } from '../config/container.js';
import { HOST_SANDBOX_PATHS } from '../config/defaults.js';
import { mapToHost, type IdMapping } from '../config/idmap.js';
import type { MountIdmap } from '../config/idmap-mounts.js';
import { parseMountOptions } from '../config/mountopts.js';
import { cgroupV1MountSteps, cgroupV2BindSteps, type CgroupFsView } from './cgroupfs.js';
import { isKernelPath, kernelKind } from './host.js';
import { HostReads, kindOfStats, type Kind } from './hostreads.js';
import { resolveInRoot } from './path.js';

/** Where the child stages the new root between its two pivot_root(2) calls (as bubblewrap). */
export const STAGE = { base: '/tmp', newRoot: '/newroot', oldRoot: '/oldroot', overlay: '/overlay' } as const;

/** What of the container's namespaces changes how mounts are made. */
export interface MountEnv {
  /** A new user namespace: sysfs and cgroupfs only mount with namespaces of its own. */
  userns: boolean;
  /** A network namespace of the container's own. */
  ownNet: boolean;
  /** A cgroup namespace of the container's own. */
  ownCgroup: boolean;
  /** The user namespace's gid mappings (devpts `gid=` must be mapped). */
  gidMappings: readonly IdMapping[];
  /**
   * A devices cgroup is in force (the container has a cgroup of its own and no user
   * namespace): device nodes are made with mknod and nothing needs `nodev`, as with runc.
   * Without one, `nodev` on the rootfs, volumes and /dev keeps a node a container makes from
   * opening the host's devices, and the default nodes are the host's, bound in.
   */
  devicesCgroup?: boolean;
  /**
   * What a `cgroup` mount shows (cgroupfs.ts); unset or null: one cgroup2 mount.
   */
  cgroupFs?: CgroupFsView | null;
  /**
   * `rootfsPropagation` shared: the host's mounts keep their peers in the new namespace, and
   * the root bound from the rootfs is made a slave of its host mount at once (root()).
   */
  sharedRoot?: boolean;
}

/** mount(2) onto a path under the new root, following no symlink on the way. */
function mountUnder(target: string, source: string | null, fstype: string | null, flags: number, data: string | null, preserveFlags = false): MountStep {
  const step: MountStep = { op: 'mount', source, target, fstype, flags, data, nofollow: true };
  if (preserveFlags) step.preserveFlags = true;
  return step;
}

/**
 * Builds the mount part of a plan: paths inside the container are resolved on the host side
 * (inside the rootfs, never through a symlink that leaves it) and missing mount points are
 * created, remembering which container paths are covered by mounts made earlier in the plan.
 * Its `steps` all act under the new root (see the module note).
 */
export class RootfsPlanner {
  readonly steps: Step[] = [];
  private readonly mounted: string[] = [];
  /** The root is an overlay over the rootfs (root()): what is made in it goes to its upper tmpfs. */
  private overlayRoot = false;
  private readonly made = new Set<string>();
  private readonly resolved = new Map<string, string>();
  /** Mounts asked read-only that are made writable first and remounted read-only at the end (finish()). */
  private readonly readonlyLater: string[] = [];

  constructor(
    private readonly rootfs: string | null,
    /** The host reads of this pass (one answer per path: /dev is looked at for /dev, /dev/pts ...). */
    readonly reads: HostReads,
    private readonly env: MountEnv = { userns: false, ownNet: true, ownCgroup: true, gidMappings: [] },
  ) {}

  /** mount(2) onto `target` (a staged path), following no symlink. */
  mountAt(target: string, source: string | null, fstype: string | null, flags: number, data: string | null, preserveFlags = false): void {
    this.steps.push(mountUnder(target, source, fstype, flags, data, preserveFlags));
  }

  /** An empty file at `path` (a staged path) to bind a file onto. */
  touch(path: string, mode: number): void {
    this.steps.push({ op: 'touch', path, mode, nofollow: true });
  }

  /** mknod(2) a node at `path` (a staged path): `mode` with its file type (S_IFCHR | 0o666). */
  mknod(path: string, mode: number, major: number, minor: number): void {
    this.steps.push({ op: 'mknod', path, mode, major, minor, nofollow: true });
  }

  /** chown(2) `path` (a staged path) to `uid`:`gid`, not following a symlink. */
  chown(path: string, uid: number, gid: number): void {
    this.steps.push({ op: 'chown', path, uid, gid, nofollow: true });
  }

  /** symlink(2) `target` at `path` (a staged path). */
  symlink(target: string, path: string, existOk: boolean): void {
    this.steps.push({ op: 'symlink', target, path, existOk, nofollow: true });
  }

  /** A recursive read-only bind of a host path (for sysfs and cgroupfs a user namespace cannot mount). */
  private bindHost(hostPath: string, target: string): void {
    this.mountAt(target, STAGE.oldRoot + hostPath, null, MS.BIND | MS.REC, null);
    this.mountAt(target, null, null, MS.BIND | MS.REMOUNT | MS.RDONLY, null, true);
  }

  /** The container path `p` resolved inside the rootfs, as a clean absolute container path. */
  resolve(p: string): string {
    const clean = posix.resolve('/', p);
    if (this.rootfs === null) return clean;
    let out = this.resolved.get(clean);
    if (out === undefined) {
      const host = resolveInRoot(this.rootfs, clean, this.reads.lstat);
      const rel = posix.relative(this.rootfs, host);
      out = rel === '' ? '/' : `/${rel}`;
      this.resolved.set(clean, out);
    }
    return out;
  }

  /** The child's path (under the staged new root) of a resolved container path. */
  staged(p: string): string {
    return p === '/' ? STAGE.newRoot : `${STAGE.newRoot}${p}`;
  }

  private covered(p: string): boolean {
    return this.mounted.some((m) => m === '/' || p.startsWith(`${m}/`));
  }

  private existsOnHost(p: string): Kind {
    if (this.rootfs === null || this.covered(p)) return null;
    let st;
    try {
      st = this.reads.lstat(this.rootfs + p);
    } catch {
      return null; // as statKind: an unreadable path counts as missing
    }
    return kindOfStats(st);
  }

  /**
   * mkdir -p for a resolved container path (only the parts that may be missing). With
   * `mountsOnly`, the parts that would be made in the rootfs itself are not (the rest of the
   * path is left missing); those inside the container's own mounts are.
   */
  ensureDir(p: string, mountsOnly = false): void {
    let at = '';
    for (const part of p.split('/').filter(Boolean)) {
      at += `/${part}`;
      if (this.made.has(at) || this.existsOnHost(at) === 'dir') continue;
      if (mountsOnly && !this.covered(at)) return;
      this.steps.push({ op: 'mkdir', path: this.staged(at), mode: 0o755, existOk: true, nofollow: true });
      this.made.add(at);
    }
  }

  /**
   * mkdir -p of the working directory (a resolved container path), as runc does, except with a
   * read-only root bound from the host (`readonlyRoot`, no overlay): a part that would be made
   * in the rootfs itself is not, as that would write the host's directory (shared by every
   * container of it) through a root the config asks read-only; the program's chdir(2) then
   * fails with ENOENT naming the path. Parts inside the container's own mounts (a tmpfs) are
   * made, as ensureDir() makes them.
   */
  ensureCwd(p: string, readonlyRoot: boolean): void {
    this.ensureDir(p, readonlyRoot && this.rootfs !== null && !this.overlayRoot);
  }

  /** Create a mount point for `p`: a directory, or an empty file for a file bind mount. */
  ensureTarget(p: string, file: boolean): void {
    if (!file) return this.ensureDir(p);
    this.ensureDir(posix.dirname(p));
    if (this.existsOnHost(p) !== 'file' && !this.made.has(p)) {
      this.touch(this.staged(p), 0o644);
      this.made.add(p);
    }
  }

  markMounted(p: string): void {
    this.mounted.push(p);
  }

  /**
   * The root: a tmpfs for the embedded default (`null`), else the rootfs bound (nodev), or with
   * `overlay` (Container.rootfsOverlay) an overlayfs over it whose upper and work directories
   * are on a tmpfs of their own in the staging root (gone with the mount namespace). Returns
   * the root's own mount flags.
   */
  root(rootfs: string | null, overlay?: { sizeBytes?: number }): number {
    if (rootfs === null) {
      const flags = MS.NOSUID | MS.NODEV;
      this.mountAt(STAGE.newRoot, 'tmpfs', 'tmpfs', flags, 'mode=0755');
      this.markMounted('/');
      return flags;
    }
    if (overlay) {
      this.overlayRoot = true;
      const dir = STAGE.overlay;
      const size = overlay.sizeBytes !== undefined ? `,size=${overlay.sizeBytes}` : '';
      this.steps.push({ op: 'mkdir', path: dir, mode: 0o700, existOk: false });
      this.steps.push({ op: 'mount', source: 'tmpfs', target: dir, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: `mode=0700${size}` });
      this.steps.push({ op: 'mkdir', path: `${dir}/upper`, mode: 0o755, existOk: false });
      this.steps.push({ op: 'mkdir', path: `${dir}/work`, mode: 0o700, existOk: false });
      const data = `lowerdir=${STAGE.oldRoot}${rootfs},upperdir=${dir}/upper,workdir=${dir}/work`;
      this.mountAt(STAGE.newRoot, 'overlay', 'overlay', 0, data);
      if (!this.env.devicesCgroup) this.mountAt(STAGE.newRoot, null, null, MS.BIND | MS.REMOUNT | MS.NODEV, null, true);
      return 0;
    }
    this.mountAt(STAGE.newRoot, STAGE.oldRoot + rootfs, null, MS.BIND | MS.REC, null);
    // Bound from a shared host mount (rootfsPropagation shared), the root is its peer: a slave
    // before anything is mounted on it, or every mount below would appear on the host (and
    // pivot_root refuses a shared new root). It takes the shared mode after the pivot.
    if (this.env.sharedRoot) this.mountAt(STAGE.newRoot, null, null, MS.REC | MS.SLAVE, null);
    // nodev: with no devices cgroup, a node made in the rootfs must not open a host device.
    if (!this.env.devicesCgroup) this.mountAt(STAGE.newRoot, null, null, MS.BIND | MS.REMOUNT | MS.NODEV, null, true);
    return 0;
  }

  /**
   * The steps of one OCI mount, each naming it (`mounts[3]`) in its error.
   * @param idmap how the mount is id-mapped (config/idmap-mounts.ts), or null
   */
  mount(m: MountConfig, index: number, idmap: MountIdmap | null = null): void {
    const first = this.steps.length;
    try {
      this.mountSteps(m, index, idmap);
    } finally {
      for (let k = first; k < this.steps.length; k++) this.steps[k]!.field ??= `mounts[${index}]`;
    }
  }

  private mountSteps(m: MountConfig, index: number, idmap: MountIdmap | null): void {
    const dest = this.resolve(m.destination);
    const opts = parseMountOptions(m.options, m.type);
    const target = this.staged(dest);
    if (opts.bind) {
      const source = m.source;
      if (!source || !posix.isAbsolute(source)) {
        throw configError(`mounts[${index}].source: a bind mount needs an absolute host path, got ${JSON.stringify(source)}`, `mounts[${index}].source`);
      }
      let real: string;
      try {
        real = this.reads.realpath(source);
      } catch (cause) {
        throw new NsError(ErrorCode.NOT_FOUND, `mounts[${index}].source: ${source}: no such file or directory`, { path: source, cause });
      }
      this.ensureTarget(dest, this.reads.kind(real, true) !== 'dir');
      if (idmap) {
        // Opened and id-mapped first in the plan, in the host's mount namespace and with its
        // privileges (planValidated moves the idmapOpen step there); moved here. The parent
        // fills in `fd` (process/idmap-userns.ts).
        const { uidMappings, gidMappings } = idmap;
        this.steps.push({ op: 'idmapOpen', source: real, fd: -1, recursive: opts.recursive, recursiveIdmap: idmap.recursive, uidMappings, gidMappings });
        this.steps.push({ op: 'idmapMove', fd: -1, target });
      } else {
        this.mountAt(target, real === '/' ? STAGE.oldRoot : STAGE.oldRoot + real, null, MS.BIND | (opts.recursive ? MS.REC : 0), null);
      }
      // nodev unless asked (`dev`) or a devices cgroup is in force: a device node in a volume
      // must not open the host's devices.
      const flags = opts.flags | (opts.cleared & MS.NODEV || this.env.devicesCgroup ? 0 : MS.NODEV);
      this.mountAt(target, null, null, MS.BIND | MS.REMOUNT | flags, null, true);
    } else {
      this.ensureDir(dest);
      let fstype = m.type ?? m.source ?? 'none';
      let source = m.source ?? fstype;
      let data = opts.data;
      const { userns, ownNet, ownCgroup, gidMappings } = this.env;
      if (fstype === 'sysfs' && userns && !ownNet) {
        // sysfs mounts only with a network namespace of the user namespace's own (runc does the same).
        this.bindHost('/sys', target);
        this.markMounted(dest);
        return;
      }
      if (fstype === 'cgroup') {
        const view = this.env.cgroupFs;
        // A v1 or hybrid host: a tmpfs with the container's own hierarchies; a v2 one without a
        // cgroup namespace: its own cgroup bound (cgroupfs.ts).
        if (view?.mode === 'v1' || (view && !ownCgroup && cgroupV2BindSteps(this, dest, view, opts.flags))) {
          if (view.mode === 'v1') cgroupV1MountSteps(this, dest, view, opts.flags, ownCgroup);
          if (opts.propagation) this.mountAt(target, null, null, opts.propagation, null);
          this.markMounted(dest);
          return;
        }
        if (userns && !ownCgroup) {
          this.bindHost('/sys/fs/cgroup', target);
          this.markMounted(dest);
          return;
        }
        // The unified hierarchy (a v2-only host), read-only as runc spec asks.
        fstype = 'cgroup2';
        source = 'cgroup2';
      }
      if (fstype === 'devpts' && userns && data) {
        // gid=N is refused (EINVAL) when N is not mapped in the user namespace.
        data = data
          .split(',')
          .filter((o) => !o.startsWith('gid=') || mapToHost(Number(o.slice(4)), gidMappings) !== null)
          .join(',') || null;
      }
      const devTmpfs = dest === '/dev' && fstype === 'tmpfs' && !this.env.devicesCgroup;
      let flags = opts.flags | (devTmpfs ? MS.NODEV : 0);
      if (flags & MS.RDONLY && (fstype === 'tmpfs' || dest === '/dev')) {
        // Populated first (device nodes, /dev/pts, a mount point below it ...), read-only last,
        // as runc's finalizeRootfs remounts them.
        flags &= ~MS.RDONLY;
        this.readonlyLater.push(target);
      }
      this.mountAt(target, source, fstype, flags, data);
    }
    if (opts.propagation) this.mountAt(target, null, null, opts.propagation, null);
    this.markMounted(dest);
  }

  /** Remount `target` (a staged tmpfs) read-only in finish(), once everything below it is made. */
  readonlyAtEnd(target: string): void {
    this.readonlyLater.push(target);
  }

  /**
   * The last steps under the new root: the tmpfs mounts and /dev asked read-only, remounted so
   * now that everything below them is made (keeping their other flags).
   */
  finish(): void {
    for (const target of this.readonlyLater.splice(0)) this.mountAt(target, null, null, MS.BIND | MS.REMOUNT | MS.RDONLY, null, true);
  }

  /** The embedded default's root: the host's system directories, read-only. */
  hostSandbox(): void {
    for (const p of HOST_SANDBOX_PATHS) {
      const kind = this.reads.kind(p);
      if (kind === 'symlink') {
        this.symlink(this.reads.readlink(p), this.staged(p), false);
        this.made.add(p);
      } else if (kind === 'dir') {
        this.ensureDir(p);
        const target = this.staged(p);
        this.mountAt(target, STAGE.oldRoot + p, null, MS.BIND | MS.REC, null);
        this.mountAt(target, null, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NODEV, null, true);
        this.markMounted(p);
      }
    }
  }
}

/**
 * A masked or read-only path as it will be inside the container: what kind of file it is,
 * judged on the host (procfs and sysfs are the host kernel's; other paths in the rootfs).
 */
function pathKind(container: Pick<Container, 'rootfs'>, planner: RootfsPlanner, p: string): { path: string; kind: Kind } {
  const clean = posix.resolve('/', p);
  if (isKernelPath(clean)) return { path: clean, kind: kernelKind(clean) };
  const resolved = planner.resolve(clean);
  return { path: resolved, kind: planner.reads.kind(container.rootfs === null ? resolved : container.rootfs + resolved, true) };
}

/**
 * Before pivot_root, under the new root (staged): `linux.maskedPaths`, a directory under an
 * empty read-only tmpfs, a file under the host's /dev/null (bound from the old root), each only
 * when it exists, as runc. Never the container's /dev/null: a rootfs that makes it a symlink to
 * /proc/sys/kernel/core_pattern (or a regular file, or another device) would turn a masked path
 * into a writable view of the host's core pattern (CVE-2025-31133). No step follows a symlink.
 * @see OCI runtime-spec config-linux.md "Masked Paths"
 */
export function maskedPathSteps(container: Pick<Container, 'rootfs' | 'maskedPaths'>, planner: RootfsPlanner): MountStep[] {
  const steps: MountStep[] = [];
  for (const p of container.maskedPaths ?? []) {
    const { path, kind } = pathKind(container, planner, p);
    if (kind === null) continue;
    const target = planner.staged(path);
    steps.push(
      kind === 'dir'
        ? { op: 'mount', source: 'tmpfs', target, fstype: 'tmpfs', flags: MS.RDONLY, data: null, ignoreMissing: true, nofollow: true }
        : { op: 'mount', source: `${STAGE.oldRoot}/dev/null`, target, fstype: null, flags: MS.BIND, data: null, ignoreMissing: true, nofollow: true },
    );
  }
  return steps;
}

/**
 * After pivot_root, inside the new root: `linux.readonlyPaths`, bound onto themselves and
 * remounted read-only (nosuid, nodev, noexec too below /proc and /sys), each only when it
 * exists, as runc. Every mount but one on `/` follows no symlink.
 * @see OCI runtime-spec config-linux.md "Readonly Paths"
 */
export function readonlyPathSteps(container: Pick<Container, 'rootfs' | 'readonlyPaths'>, planner: RootfsPlanner): MountStep[] {
  const steps: MountStep[] = [];
  const nofollow = (path: string) => (path !== '/' ? { nofollow: true } : {});
  for (const p of container.readonlyPaths ?? []) {
    const { path, kind } = pathKind(container, planner, p);
    if (kind === null) continue;
    const extra = path.startsWith('/proc/') || path.startsWith('/sys/') ? MS.NOSUID | MS.NODEV | MS.NOEXEC : 0;
    steps.push({ op: 'mount', source: path, target: path, fstype: null, flags: MS.BIND | MS.REC, data: null, ignoreMissing: true, ...nofollow(path) });
    steps.push({
      op: 'mount',
      source: null,
      target: path,
      fstype: null,
      flags: MS.BIND | MS.REMOUNT | MS.RDONLY | extra,
      data: null,
      ignoreMissing: true,
      preserveFlags: true,
      ...nofollow(path),
    });
  }
  return steps;
}
