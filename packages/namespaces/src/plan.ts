import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import {
  CLONE,
  ErrorCode,
  MS,
  NsError,
  PR,
  RLIMIT,
  TIOCSCTTY,
  configError,
  type MountStep,
  type Plan,
  type Step,
} from '@ns/syscalls';
import { capabilitySetSteps, keptCapabilitySets, parseStatusCapabilities, resolveCapabilitySets, resolveKeptCapabilities } from '@ns/capabilities';
import type { Container, MountConfig, NamespaceType } from './container.js';
import { DEFAULT_MOUNTS, DEFAULT_PATH, HOST_SANDBOX_PATHS } from './defaults.js';
import { dedupEnv } from './env.js';
import { parseMountOptions, parsePropagation } from './mountopts.js';
import { resolveInRoot } from './path.js';
import { HostReads, kindOfStats, statKind, stillTrue, type HostRead, type Kind } from './hostreads.js';
import { readUserFiles, resolveUser, type ResolvedUser } from './user.js';
import { RLIMIT_BY_NAME, rlimitValue, validateContainer } from './validate.js';
import { formatIdMap, mapToHost, rootlessMappings, setgroupsAllowed, type IdMapping } from './idmap.js';

/** Where the child stages the new root between its two pivot_root(2) calls (as bubblewrap). */
export const STAGE = { base: '/tmp', newRoot: '/newroot', oldRoot: '/oldroot' } as const;

/** Descriptors the parent hands to the child. */
export interface PlanIo {
  /** Parent descriptors that become the child's 0, 1, 2 (and more), in order. */
  stdio: number[];
  /** Terminal mode: the pty slave (descriptor and path) that becomes 0/1/2 and /dev/console. */
  console?: { fd: number; path: string };
  /** PR_SET_PDEATHSIG signal; default SIGKILL, 0 for a detached container. */
  parentDeathSignal?: number;
  /**
   * Create only: an O_PATH descriptor of the container's exec.fifo. The process detaches from
   * spawn() when set up and waits on the FIFO before execve until `start` reads it.
   */
  startFifoFd?: number;
}

export interface ContainerPlan {
  /** The validated container (rootfs resolved; with a user namespace added in rootless mode). */
  container: Container;
  plan: Plan;
  /** With a new user namespace: the maps the parent writes at the `idmap` sync step. */
  idMaps?: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  user: ResolvedUser;
  /** The environment the process gets: each key once, the last entry of a key winning (see dedupEnv); HOME added from passwd when missing. */
  env: string[];
  /** Index of the plan's first stdio step: the steps before it do not depend on `io`. */
  stdioAt: number;
}

const NAMESPACE_FLAGS: Record<NamespaceType, number> = {
  mount: CLONE.NEWNS,
  pid: CLONE.NEWPID,
  uts: CLONE.NEWUTS,
  ipc: CLONE.NEWIPC,
  network: CLONE.NEWNET,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** Device nodes created in a tmpfs /dev, as runc's default devices. */
const DEVICES = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

const DEV_SYMLINKS: [path: string, target: string][] = [
  ['/dev/fd', '/proc/self/fd'],
  ['/dev/stdin', '/proc/self/fd/0'],
  ['/dev/stdout', '/proc/self/fd/1'],
  ['/dev/stderr', '/proc/self/fd/2'],
  ['/dev/ptmx', 'pts/ptmx'],
  ['/dev/core', '/proc/kcore'],
];

let inheritableCache: bigint | undefined;
let nofileHardCache: number | undefined;
const kernelKindCache = new Map<string, Kind>();

/** The caller's inheritable capability set (the seed drops from it, never adds to it); read once. */
function callerInheritable(): bigint {
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
function callerNofileHard(): number {
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

/**
 * Builds the mount part of a plan: paths inside the container are resolved on the host side
 * (inside the rootfs, never through a symlink that leaves it) and missing mount points are
 * created, remembering which container paths are covered by mounts made earlier in the plan.
 */
class RootfsPlanner {
  readonly steps: Step[] = [];
  private readonly mounted: string[] = [];
  private readonly made = new Set<string>();
  private readonly resolved = new Map<string, string>();

  constructor(
    private readonly rootfs: string | null,
    /** The host reads of this pass (one answer per path: /dev is looked at for /dev, /dev/pts ...). */
    readonly reads: HostReads,
    private readonly env: { userns: boolean; ownNet: boolean; ownCgroup: boolean; gidMappings: readonly IdMapping[] } = {
      userns: false,
      ownNet: true,
      ownCgroup: true,
      gidMappings: [],
    },
  ) {}

  /** A recursive read-only bind of a host path (for sysfs and cgroupfs a user namespace cannot mount). */
  private bindHost(hostPath: string, target: string): void {
    this.steps.push({ op: 'mount', source: STAGE.oldRoot + hostPath, target, fstype: null, flags: MS.BIND | MS.REC, data: null });
    this.steps.push({ op: 'mount', source: null, target, fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY, data: null, preserveFlags: true });
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

  /** mkdir -p for a resolved container path (only the parts that may be missing). */
  ensureDir(p: string): void {
    let at = '';
    for (const part of p.split('/').filter(Boolean)) {
      at += `/${part}`;
      if (this.made.has(at) || this.existsOnHost(at) === 'dir') continue;
      this.steps.push({ op: 'mkdir', path: this.staged(at), mode: 0o755, existOk: true });
      this.made.add(at);
    }
  }

  /** Create a mount point for `p`: a directory, or an empty file for a file bind mount. */
  ensureTarget(p: string, file: boolean): void {
    if (!file) return this.ensureDir(p);
    this.ensureDir(posix.dirname(p));
    if (this.existsOnHost(p) !== 'file' && !this.made.has(p)) {
      this.steps.push({ op: 'touch', path: this.staged(p), mode: 0o644 });
      this.made.add(p);
    }
  }

  markMounted(p: string): void {
    this.mounted.push(p);
  }

  /** The steps of one OCI mount. */
  mount(m: MountConfig, index: number): void {
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
      this.steps.push({
        op: 'mount',
        source: real === '/' ? STAGE.oldRoot : STAGE.oldRoot + real,
        target,
        fstype: null,
        flags: MS.BIND | (opts.recursive ? MS.REC : 0),
        data: null,
      });
      // nodev unless asked (`dev`): with no devices cgroup yet, a device node in a volume must
      // not open the host's devices.
      const flags = opts.flags | (opts.cleared & MS.NODEV ? 0 : MS.NODEV);
      this.steps.push({ op: 'mount', source: null, target, fstype: null, flags: MS.BIND | MS.REMOUNT | flags, data: null, preserveFlags: true });
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
        if (userns && !ownCgroup) {
          this.bindHost('/sys/fs/cgroup', target);
          this.markMounted(dest);
          return;
        }
        // The unified hierarchy, read-only as runc spec asks; on v1/hybrid hosts this shows
        // the v2 tree only (see the issue notes).
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
      const devTmpfs = dest === '/dev' && fstype === 'tmpfs';
      this.steps.push({ op: 'mount', source, target, fstype, flags: opts.flags | (devTmpfs ? MS.NODEV : 0), data });
    }
    if (opts.propagation) {
      this.steps.push({ op: 'mount', source: null, target, fstype: null, flags: opts.propagation, data: null });
    }
    this.markMounted(dest);
  }

  /**
   * Device nodes and /dev symlinks on a tmpfs /dev (runc's default devices). The host's nodes
   * are bind-mounted (each its own mount, not nodev) onto a nodev tmpfs: with no devices
   * cgroup yet, a node the container makes itself with CAP_MKNOD stays unusable. In a user
   * namespace mknod(2) is refused anyway (runc's rootless mode binds them the same way).
   */
  devices(): void {
    // /dev itself is resolved inside the rootfs; below it is the tmpfs this plan mounts.
    const dev = this.resolve('/dev');
    for (const d of DEVICES) {
      const path = this.staged(`${dev}/${d.name}`);
      this.steps.push({ op: 'touch', path, mode: 0o666 });
      this.steps.push({ op: 'mount', source: `${STAGE.oldRoot}/dev/${d.name}`, target: path, fstype: null, flags: MS.BIND, data: null });
    }
    for (const [path, target] of DEV_SYMLINKS) {
      this.steps.push({ op: 'symlink', target, path: this.staged(`${dev}/${posix.basename(path)}`), existOk: true });
    }
  }

  /** The embedded default's root: the host's system directories, read-only. */
  hostSandbox(): void {
    for (const p of HOST_SANDBOX_PATHS) {
      const kind = this.reads.kind(p);
      if (kind === 'symlink') {
        this.steps.push({ op: 'symlink', target: this.reads.readlink(p), path: this.staged(p), existOk: false });
        this.made.add(p);
      } else if (kind === 'dir') {
        this.ensureDir(p);
        const target = this.staged(p);
        this.steps.push({ op: 'mount', source: STAGE.oldRoot + p, target, fstype: null, flags: MS.BIND | MS.REC, data: null });
        this.steps.push({ op: 'mount', source: null, target, fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NODEV, data: null, preserveFlags: true });
        this.markMounted(p);
      }
    }
  }
}

/**
 * A masked or read-only path as it will be inside the container: what kind of file it is,
 * judged on the host (procfs and sysfs are the host kernel's; other paths in the rootfs).
 */
function pathKind(container: Container, planner: RootfsPlanner, p: string): { path: string; kind: Kind } {
  const clean = posix.resolve('/', p);
  if (clean === '/proc' || clean.startsWith('/proc/') || clean === '/sys' || clean.startsWith('/sys/')) {
    // The kernel's files: the same for every container this process starts.
    let kind = kernelKindCache.get(clean);
    if (kind === undefined) kernelKindCache.set(clean, (kind = statKind(clean, false)));
    return { path: clean, kind };
  }
  const resolved = planner.resolve(clean);
  return { path: resolved, kind: planner.reads.kind(container.rootfs === null ? resolved : container.rootfs + resolved, true) };
}

function isKernelFs(p: string): boolean {
  return p.startsWith('/proc/') || p.startsWith('/sys/');
}

/**
 * Turn a container config into the plan the native child runs, step for step as the
 * seed's Exec: stdio and session, network namespace join, private mount tree, root and
 * mounts staged under a tmpfs, pivot_root, masked and read-only paths, read-only root,
 * hostname, capabilities and user, working directory, execve. Only reads the host (the
 * rootfs, /etc/passwd and /etc/group of the container, /proc/self); creates nothing.
 *
 * @param io the descriptors the child gets; defaults to the caller's 0, 1, 2 (for dry runs).
 * @throws NsError `ERR_NS_CONFIG` / `ERR_NS_NOT_FOUND` for a bad config, an unknown user or
 *   group, an unknown capability, a missing bind source.
 * @see OCI runtime-spec config.md and runtime.md; pivot_root(2); mount_namespaces(7)
 */
export function planContainer(input: Container, io: PlanIo = { stdio: [0, 1, 2] }): ContainerPlan {
  return planValidated(withRootless(validateContainer(input)), io, new HostReads());
}

/** A plan kept by {@link planContainerCached}: its steps around the stdio ones, and what planning read. */
interface CachedPlan {
  head: readonly Step[];
  rest: readonly Step[];
  cloneFlags: number;
  user: ResolvedUser;
  env: string[];
  idMaps?: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  reads: readonly HostRead[];
}

/** Plans by config, most recently used last; at most {@link PLAN_CACHE_SIZE}. */
const planCache = new Map<string, CachedPlan>();
const PLAN_CACHE_SIZE = 32;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * planContainer for exec(): the same plan, reused when the same config (any `id`) is started
 * again and every host read its planning made (rootfs lookups, bind sources, user files ...)
 * still has the same answer; those reads are made again each time, the rest of planning is
 * not. What the plan takes from the process (euid, egid) and from `io` is part of the key;
 * the stdio steps are made per call. The cached steps are frozen.
 * @internal shared by exec() and execAsync(); throws as {@link planContainer}.
 */
export function planContainerCached(input: Container, io: PlanIo = { stdio: [0, 1, 2] }): ContainerPlan {
  const container = withRootless(validateContainer(input));
  const key = JSON.stringify(
    [{ ...container, id: '' }, io.console?.path ?? null, io.console ? -1 : io.stdio.length, io.startFifoFd ?? null, process.geteuid?.() ?? 0, process.getegid?.() ?? 0],
    (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v),
  );
  const hit = planCache.get(key);
  if (hit) {
    planCache.delete(key);
    if (stillTrue(hit.reads)) {
      planCache.set(key, hit);
      const plan: Plan = { cloneFlags: hit.cloneFlags, steps: [...hit.head, ...stdioSteps(io), ...hit.rest] };
      if (io.parentDeathSignal !== undefined) plan.parentDeathSignal = io.parentDeathSignal;
      const out: ContainerPlan = { container, plan, user: hit.user, env: hit.env, stdioAt: hit.head.length };
      if (hit.idMaps) out.idMaps = hit.idMaps;
      return out;
    }
  }
  const reads = new HostReads();
  const planned = planValidated(container, io, reads);
  const entry: CachedPlan = {
    head: deepFreeze(planned.plan.steps.slice(0, planned.stdioAt)),
    rest: deepFreeze(planned.plan.steps.slice(planned.stdioAt + stdioSteps(io).length)),
    cloneFlags: planned.plan.cloneFlags,
    user: deepFreeze(planned.user),
    env: deepFreeze(planned.env),
    reads: reads.log,
  };
  if (planned.idMaps) entry.idMaps = deepFreeze(planned.idMaps);
  planCache.set(key, entry);
  if (planCache.size > PLAN_CACHE_SIZE) planCache.delete(planCache.keys().next().value!);
  return planned;
}

/** Forget every plan {@link planContainerCached} kept (tests). @internal */
export function clearPlanCache(): void {
  planCache.clear();
}

/** planContainer's work on a validated container, asking the host through `reads`. */
function planValidated(container: Container, io: PlanIo, reads: HostReads): ContainerPlan {
  const steps: Step[] = [];
  const own = (type: NamespaceType) => container.namespaces.some((ns) => ns.type === type && ns.path === undefined);
  const userns = own('user');
  const uidMappings = container.uidMappings ?? [];
  const gidMappings = container.gidMappings ?? [];

  // clone(2) creates only the pid namespace (unshare would only move children into it); the
  // child makes the others with unshare(2) on its own time: creating a network namespace is
  // most of clone's cost, and clone runs in Node's thread. The child is ns-init (see spawn()).
  let cloneFlags = 0;
  let unshareFlags = 0;
  for (const ns of container.namespaces) {
    if (ns.path !== undefined || ns.type === 'user') continue;
    if (ns.type === 'pid') cloneFlags |= NAMESPACE_FLAGS[ns.type];
    else unshareFlags |= NAMESPACE_FLAGS[ns.type];
  }
  if (userns) {
    // ns-init makes the user namespace itself: had the clone made it, ns-init would have been
    // exec'd in it before its maps existed, as an unmapped user, and lost every capability.
    // The parent writes uid_map and gid_map while the child waits; then the child becomes
    // root of its user namespace (it holds every capability there, but its ids are the
    // overflow ids until it sets them). ns-init is non-dumpable from its start, which makes
    // its /proc files root's: dumpable only meanwhile, so that an unprivileged parent (or
    // newuidmap, which checks the owner) may write the maps, in a user namespace nobody else
    // can have entered yet. Every other namespace is then owned by it; a pid namespace is
    // entered by forking (runc's nsexec does all of this the same way).
    steps.push({ op: 'unshare', flags: CLONE.NEWUSER });
    steps.push(dumpable(1));
    steps.push({ op: 'sync', name: 'idmap' });
    steps.push(dumpable(0));
    if (mapToHost(0, gidMappings) !== null) steps.push({ op: 'setresgid', rgid: 0, egid: 0, sgid: 0 });
    if (mapToHost(0, uidMappings) !== null) steps.push({ op: 'setresuid', ruid: 0, euid: 0, suid: 0 });
    // ns-init's memory then belongs to the new user namespace: its owner (an unprivileged
    // creator joining a created container) may open its /proc files, the container may not.
    steps.push({ op: 'reexec' });
    if (cloneFlags & CLONE.NEWPID) {
      steps.push({ op: 'unshare', flags: CLONE.NEWPID | unshareFlags });
      // Before the stdio steps: the session (and a console) belongs to the process that execs.
      steps.push({ op: 'cloneParent' });
      cloneFlags = 0;
      unshareFlags = 0;
    }
  }
  const stdioAt = steps.length;
  steps.push(...stdioSteps(io));
  steps.push({ op: 'umask', mask: 0 });
  if (unshareFlags) steps.push({ op: 'unshare', flags: unshareFlags });
  for (const ns of container.namespaces) {
    if (ns.path !== undefined) steps.push({ op: 'setns', path: ns.path, nstype: NAMESPACE_FLAGS[ns.type] });
  }

  if (container.oomScoreAdj !== undefined) {
    // Before capabilities are dropped: lowering it needs CAP_SYS_RESOURCE.
    steps.push({ op: 'writeFile', path: '/proc/self/oom_score_adj', data: String(container.oomScoreAdj) });
  }

  // A private mount tree, then the staging tmpfs holding the new root and the old one.
  const propagation = parsePropagation(container.rootfsPropagation ?? 'rprivate', 'rootfsPropagation');
  steps.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE, data: null });
  steps.push({ op: 'mount', source: 'tmpfs', target: STAGE.base, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=0700' });
  steps.push({ op: 'mkdir', path: `${STAGE.base}${STAGE.newRoot}`, mode: 0o755, existOk: false });
  steps.push({ op: 'mkdir', path: `${STAGE.base}${STAGE.oldRoot}`, mode: 0o755, existOk: false });
  steps.push({ op: 'pivotRootKeep', newRoot: STAGE.base, putOld: `${STAGE.base}${STAGE.oldRoot}` });
  steps.push({ op: 'chdir', path: '/' });

  const planner = new RootfsPlanner(container.rootfs, reads, { userns, ownNet: own('network'), ownCgroup: own('cgroup'), gidMappings });
  let rootFlags = 0;
  if (container.rootfs === null) {
    rootFlags = MS.NOSUID | MS.NODEV;
    planner.steps.push({ op: 'mount', source: 'tmpfs', target: STAGE.newRoot, fstype: 'tmpfs', flags: rootFlags, data: 'mode=0755' });
    planner.markMounted('/');
    planner.hostSandbox();
  } else {
    planner.steps.push({ op: 'mount', source: STAGE.oldRoot + container.rootfs, target: STAGE.newRoot, fstype: null, flags: MS.BIND | MS.REC, data: null });
    // nodev: with no devices cgroup yet, a node made in the rootfs must not open a host device.
    planner.steps.push({ op: 'mount', source: null, target: STAGE.newRoot, fstype: null, flags: MS.BIND | MS.REMOUNT | MS.NODEV, data: null, preserveFlags: true });
  }

  const mounts = container.mounts ?? DEFAULT_MOUNTS;
  mounts.forEach((m, i) => planner.mount(m, i));
  // Devices only on a /dev of our own: never into a host directory bound there.
  const devMount = mounts.findLast((m) => posix.resolve('/', m.destination) === '/dev');
  const devTmpfs = devMount !== undefined && !parseMountOptions(devMount.options, devMount.type).bind;
  if (devTmpfs) planner.devices();
  if (io.console && devTmpfs) {
    const consolePath = planner.resolve('/dev/console');
    planner.ensureTarget(consolePath, true);
    planner.steps.push({ op: 'mount', source: STAGE.oldRoot + io.console.path, target: planner.staged(consolePath), fstype: null, flags: MS.BIND, data: null });
  }
  // The working directory is created when missing, as runc does.
  planner.ensureDir(planner.resolve(container.cwd));
  if (propagation !== (MS.REC | MS.PRIVATE)) {
    planner.steps.push({ op: 'mount', source: null, target: STAGE.newRoot, fstype: null, flags: propagation, data: null });
  }
  // Every step under the new root follows no symlink (openat2): paths were resolved inside
  // the rootfs above, so a symlink met in the child was planted to lead a step outside.
  steps.push({ op: 'procRoot', path: `${STAGE.oldRoot}/proc` });
  for (const step of planner.steps) {
    const path = step.op === 'mount' ? step.target : step.op === 'mkdir' || step.op === 'touch' || step.op === 'mknod' || step.op === 'symlink' ? step.path : '';
    if (path === STAGE.newRoot || path.startsWith(`${STAGE.newRoot}/`)) step.nofollow = true;
    steps.push(step);
  }
  steps.push({ op: 'pivotRoot', newRoot: STAGE.newRoot });
  steps.push({ op: 'procRoot', path: '/proc' });
  const mark = steps.length;

  // Inside the new root: sysctls (before /proc/sys turns read-only), masked paths,
  // read-only paths, then the root itself.
  for (const [key, value] of Object.entries(container.sysctl ?? {})) {
    steps.push({ op: 'writeFile', path: `/proc/sys/${key.replaceAll('.', '/')}`, data: value });
  }
  for (const p of container.maskedPaths ?? []) {
    const { path, kind } = pathKind(container, planner, p);
    if (kind === null) continue;
    const step: MountStep =
      kind === 'dir'
        ? { op: 'mount', source: 'tmpfs', target: path, fstype: 'tmpfs', flags: MS.RDONLY, data: null, ignoreMissing: true }
        : { op: 'mount', source: '/dev/null', target: path, fstype: null, flags: MS.BIND, data: null, ignoreMissing: true };
    steps.push(step);
  }
  for (const p of container.readonlyPaths ?? []) {
    const { path, kind } = pathKind(container, planner, p);
    if (kind === null) continue;
    const extra = isKernelFs(path) ? MS.NOSUID | MS.NODEV | MS.NOEXEC : 0;
    steps.push({ op: 'mount', source: path, target: path, fstype: null, flags: MS.BIND | MS.REC, data: null, ignoreMissing: true });
    steps.push({ op: 'mount', source: null, target: path, fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | extra, data: null, ignoreMissing: true, preserveFlags: true });
  }
  if (container.readonly) {
    steps.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | rootFlags, data: null, preserveFlags: true });
  }

  for (const step of steps.slice(mark)) if (step.op === 'mount' && step.target !== '/') step.nofollow = true;

  if (container.hostname) steps.push({ op: 'sethostname', hostname: container.hostname });
  const proc = processSteps(container, io, userns ? { uidMappings, gidMappings } : undefined, reads);
  steps.push(...proc.steps);

  const plan: Plan = { cloneFlags, steps };
  if (io.parentDeathSignal !== undefined) plan.parentDeathSignal = io.parentDeathSignal;
  const out: ContainerPlan = { container, plan, user: proc.user, env: proc.env, stdioAt };
  if (userns) out.idMaps = { uidMappings, gidMappings };
  return out;
}

/** prctl(PR_SET_DUMPABLE, on): whether the process's /proc files are its own user's. */
function dumpable(on: 0 | 1): Step {
  return { op: 'prctl', option: PR.SET_DUMPABLE, arg2: on, arg3: 0, arg4: 0, arg5: 0 };
}

/**
 * A new session (the process never shares the caller's controlling terminal), then either
 * the pty slave as 0, 1, 2 and its controlling terminal (TIOCSCTTY), or the given descriptors.
 * @see setsid(2), ioctl_tty(2)
 */
export function stdioSteps(io: PlanIo): Step[] {
  if (io.console) {
    const fd = io.console.fd;
    return [{ op: 'setsid' }, { op: 'stdio', fds: [fd, fd, fd] }, { op: 'ioctl', fd: 0, request: TIOCSCTTY, arg: 0 }];
  }
  return [{ op: 'setsid' }, { op: 'stdio', fds: io.stdio }];
}

/** What {@link processSteps} needs: the process part of a container config. */
export type ProcessConfig = Pick<
  Container,
  | 'args'
  | 'env'
  | 'cwd'
  | 'user'
  | 'additionalGids'
  | 'capabilities'
  | 'capabilitySets'
  | 'dropCapabilities'
  | 'rlimits'
  | 'noNewPrivileges'
  | 'umask'
  | 'rootfs'
>;

/**
 * The steps that turn the set-up child into the container's process, shared by exec() and
 * execIn(): umask, rlimits, bounding set, user and groups (keeping the permitted set across
 * the uid change), capset, no_new_privs, working directory, descriptors, execve.
 *
 * @param reads the planning pass's host reads (planContainer's); without, the user files are read directly
 * @throws NsError `ERR_NS_NOT_FOUND` for an unknown user or group, `ERR_NS_CONFIG` for an
 *   unknown capability.
 * @see capabilities(7) "Effect of user ID changes on capabilities", prctl(2), execve(2)
 */
export function processSteps(
  c: ProcessConfig,
  io: PlanIo,
  idMaps?: { uidMappings: readonly IdMapping[]; gidMappings: readonly IdMapping[] },
  reads?: HostReads,
): { steps: Step[]; user: ResolvedUser; env: string[] } {
  const steps: Step[] = [];
  steps.push({ op: 'umask', mask: c.umask ?? 0o022 });
  const rlimits = c.rlimits ?? [];
  if (!rlimits.some((r) => r.type === 'RLIMIT_NOFILE')) {
    // Node raised its own soft limit at start-up; the container gets the usual 1024.
    const nofileHard = callerNofileHard();
    steps.push({ op: 'setrlimit', resource: RLIMIT.NOFILE, soft: Math.min(1024, nofileHard), hard: nofileHard });
  }
  for (const r of rlimits) {
    steps.push({ op: 'setrlimit', resource: RLIMIT_BY_NAME[r.type]!, soft: Number(BigInt.asIntN(64, rlimitValue(r.soft))), hard: Number(BigInt.asIntN(64, rlimitValue(r.hard))) });
  }

  // Capabilities and user: bounding set first (needs CAP_SETPCAP), keep the permitted set
  // across the uid change, then set effective/permitted/inheritable.
  const user = resolveUser(c.user, reads ? reads.userFiles(c.rootfs) : readUserFiles(c.rootfs), {
    additionalGids: c.additionalGids ?? [],
  });
  if (idMaps) checkUserMapped(user, idMaps);
  const caps = capabilitySetSteps(capabilitySetsOf(c));
  steps.push(...caps.before);
  // With setgroups denied in the user namespace (an unprivileged caller's own mapping) the
  // call would fail with EPERM; the process keeps the (unmapped) groups it has.
  if (!idMaps || setgroupsAllowed(idMaps.gidMappings)) steps.push({ op: 'setgroups', gids: user.additionalGids });
  steps.push({ op: 'setresgid', rgid: user.gid, egid: user.gid, sgid: user.gid });
  steps.push({ op: 'setresuid', ruid: user.uid, euid: user.uid, suid: user.uid });
  steps.push(...caps.after);

  if (c.noNewPrivileges) steps.push({ op: 'prctl', option: PR.SET_NO_NEW_PRIVS, arg2: 1, arg3: 0, arg4: 0, arg5: 0 });
  steps.push({ op: 'chdir', path: c.cwd });
  // Each key once, the last entry of a key winning (as runc's prepareEnv).
  const env = dedupEnv(c.env);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home || '/'}`);
  const paths = commandCandidates(c.args[0]!, env);
  if (io.startFifoFd !== undefined) {
    // Reported now, while spawn() still listens: after detach a missing program would only
    // end the process silently at start (runc create checks it the same way).
    steps.push({ op: 'execCheck', paths });
    steps.push({ op: 'detach' });
    steps.push({ op: 'waitFifo', fd: io.startFifoFd });
  }
  steps.push({ op: 'closeFrom', first: Math.max(3, io.console ? 3 : io.stdio.length) });

  steps.push({ op: 'execve', paths, argv: c.args, envp: env });

  return { steps, user, env };
}

/**
 * In a user namespace, the process's ids must be mapped.
 * @throws NsError `ERR_NS_CONFIG` naming the unmapped uid or gid.
 */
function checkUserMapped(user: ResolvedUser, idMaps: { uidMappings: readonly IdMapping[]; gidMappings: readonly IdMapping[] }): void {
  if (mapToHost(user.uid, idMaps.uidMappings) === null) {
    throw configError(`user: uid ${user.uid} is not mapped in uidMappings (${formatIdMap(idMaps.uidMappings).trim().replaceAll('\n', '; ')})`, 'user');
  }
  for (const gid of [user.gid, ...user.additionalGids]) {
    if (mapToHost(gid, idMaps.gidMappings) === null) {
      throw configError(`user: gid ${gid} is not mapped in gidMappings (${formatIdMap(idMaps.gidMappings).trim().replaceAll('\n', '; ')})`, 'user');
    }
  }
}

/**
 * Rootless mode: when this process is not root and the config has no user namespace, add
 * one mapping the caller's uid and gid to root inside (as `runc spec --rootless`).
 */
export function withRootless(c: Container): Container {
  if ((process.geteuid?.() ?? 0) === 0 || c.namespaces.some((ns) => ns.type === 'user')) return c;
  return { ...c, namespaces: [{ type: 'user' }, ...c.namespaces], ...rootlessMappings() };
}

/**
 * The five capability sets of the process: `capabilitySets` when given (OCI
 * `process.capabilities`), else the seed's form: `capabilities` (default allow-list) kept in
 * bounding, effective and permitted, with the caller's inheritable set reduced to them.
 * `dropCapabilities` is then removed from every set.
 * @throws CapabilityError `ERR_NS_CONFIG` naming the set and the capability.
 */
export function capabilitySetsOf(c: Pick<Container, 'capabilities' | 'capabilitySets' | 'dropCapabilities'>) {
  const sets = c.capabilitySets
    ? resolveCapabilitySets(c.capabilitySets, { field: 'capabilitySets' })
    : keptCapabilitySets(resolveKeptCapabilities(c.capabilities ? { keep: c.capabilities } : {}), callerInheritable());
  if (c.dropCapabilities?.length) {
    const drop = resolveKeptCapabilities({ keep: c.dropCapabilities });
    for (const k of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) sets[k] &= ~drop;
  }
  return sets;
}

/**
 * The paths execve is tried with, as execvp(3): `cmd` itself when it has a slash, else each
 * directory of the container's PATH (or {@link DEFAULT_PATH}) in order.
 */
export function commandCandidates(cmd: string, env: readonly string[]): string[] {
  if (cmd.includes('/')) return [cmd];
  const pathVar = env.findLast((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  const dirs = pathVar.split(':').map((d) => d || '.');
  return [...new Set(dirs.map((d) => posix.join(d, cmd)))];
}
