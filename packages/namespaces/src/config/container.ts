/**
 * The library's own container config, in the vocabulary of libcontainer's nsinit
 * (container.json): id, rootfs, args, env, cwd, user, namespaces, capabilities, readonly.
 * `fromOciSpec()` converts an OCI runtime-spec config.json into this shape.
 */
import type { LinuxResources } from '@ns/cgroups';
import type { SeccompConfig } from './seccomp.js';
import type { IoPriority, Personality, Scheduler } from './process-attrs.js';
import type { TimeOffsets } from './time-offsets.js';

/** Namespace kinds, named as in the OCI runtime spec (config-linux.md "Namespaces", `linux.namespaces[].type`). */
export const NAMESPACE_TYPES = ['mount', 'pid', 'uts', 'ipc', 'network', 'user', 'cgroup', 'time'] as const;

/** One of {@link NAMESPACE_TYPES}. */
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

/** The five capability sets of a process, as OCI `process.capabilities` names them (capabilities(7)). */
export const CAPABILITY_SETS = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;

/** The container id rule, as runc's: a letter or digit, then up to 127 of `[A-Za-z0-9_.-]`. */
export const CONTAINER_ID_RULE = '[A-Za-z0-9][A-Za-z0-9_.-]{0,127}';

/**
 * Container ids ({@link CONTAINER_ID_RULE}): also what keeps a state folder inside the state
 * root (no `/`, no leading `.`).
 */
export const CONTAINER_ID = new RegExp(`^${CONTAINER_ID_RULE}$`);

/** True for a string that is a valid container id ({@link CONTAINER_ID}). */
export function isContainerId(id: unknown): id is string {
  return typeof id === 'string' && CONTAINER_ID.test(id);
}

export interface NamespaceConfig {
  type: NamespaceType;
  /**
   * Join this existing namespace (e.g. `/var/run/netns/blue` or `/proc/1234/ns/ipc`) instead
   * of creating a new one: any type. The file must be a namespace of this type (checked with
   * NS_GET_NSTYPE before anything is spawned). A type not listed at all is the caller's own,
   * shared with the container (config-linux.md "Namespaces").
   */
  path?: string;
}

/** A device node to create in the container (OCI `linux.devices[]`, config-linux.md "Devices"). */
export interface DeviceConfig {
  /** Where in the container: an absolute path below /dev (`/dev/fuse`, `/dev/net/tun`). */
  path: string;
  /** `c` (character), `b` (block), `u` (unbuffered character, as `c`) or `p` (FIFO). */
  type: 'c' | 'b' | 'u' | 'p';
  /** Device numbers (0..4095 and 0..1048575, the kernel's dev_t); required but for `p`. */
  major?: number;
  minor?: number;
  /** Permission bits, 0..0o7777 (default 0o666, as runc). */
  fileMode?: number;
  /** Owner and group of the node (default 0). */
  uid?: number;
  gid?: number;
}

/** A mount, as OCI `mounts[]`: destination inside the container. */
export interface MountConfig {
  /** Absolute path inside the container. */
  destination: string;
  /** Filesystem type (`proc`, `tmpfs`, `bind` ...); `bind` or a `bind`/`rbind` option makes it a bind mount. */
  type?: string;
  /** For bind mounts, an absolute host path; otherwise the fs source name. */
  source?: string;
  /**
   * mount(8) style options: `ro`, `nosuid`, `bind`, `rbind`, `mode=755`, `size=64m` ...; `idmap`
   * or `ridmap` (recursive) for an id-mapped bind mount (see `uidMappings`).
   */
  options?: string[];
  /**
   * An id-mapped bind mount's uid mappings (OCI `mounts[].uidMappings`): a file owned by
   * `containerID` on disk shows as owned by `hostID` on the mount (mount_setattr(2)
   * MOUNT_ATTR_IDMAP). With `gidMappings`; without both, an `idmap` mount takes the
   * container's `uidMappings`/`gidMappings` (its user namespace's).
   */
  uidMappings?: { containerID: number; hostID: number; size: number }[];
  /** Same for gids (OCI `mounts[].gidMappings`). */
  gidMappings?: { containerID: number; hostID: number; size: number }[];
}

export interface Container {
  /** Container id (`[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`, see {@link CONTAINER_ID}). */
  id: string;
  /**
   * Root filesystem: a host directory (absolute after validation), or `null` for the
   * embedded default, an empty tmpfs root on which `mounts` build a sandbox of the host.
   */
  rootfs: string | null;
  /** Remount the root filesystem read-only after setting up mounts (OCI `root.readonly`). */
  readonly: boolean;
  /** `process.args`: args[0] is looked up in the container's PATH when it has no slash. */
  args: string[];
  /** `process.env`: `KEY=value` strings; of entries with the same key the last wins (as runc). */
  env: string[];
  /** Working directory inside the container (absolute). Default `/`. */
  cwd: string;
  /**
   * User to run as: `uid[:gid]`, or `name[:group]` looked up in the container's /etc/passwd
   * and /etc/group. Default `0:0` (root). Supplementary groups come from /etc/group.
   */
  user: string;
  /** Extra supplementary group ids (OCI `process.user.additionalGids`). */
  additionalGids?: number[];
  /**
   * Namespaces to create (or, with `path`, to join). A type left out is the caller's, shared:
   * without a `mount` entry the process runs in the caller's mount namespace, chroot(2)ed into
   * the rootfs, with no mounts of its own (as runc; see validateContainer for what that refuses).
   */
  namespaces: NamespaceConfig[];
  /**
   * Capabilities kept (names like `CAP_CHOWN`): every other one is dropped from the bounding,
   * effective, permitted and inheritable sets. Undefined means the default allow-list.
   */
  capabilities?: string[];
  /**
   * All five sets by name (OCI `process.capabilities`); when given, it replaces
   * `capabilities`. Lists left out: effective and permitted default to bounding, inheritable
   * and ambient to none. An ambient capability must be in permitted and inheritable too.
   * In every capability list, a name this ns or the running kernel does not know is left out
   * with a process warning (see validateContainer), as runc does.
   */
  capabilitySets?: {
    bounding?: string[];
    effective?: string[];
    permitted?: string[];
    inheritable?: string[];
    ambient?: string[];
  };
  /**
   * The seed's form: capabilities to drop, applied after `capabilities` (or the default).
   */
  dropCapabilities?: string[];
  /** Hostname; set only when a new UTS namespace is created. */
  hostname?: string;
  /** NIS domain name (OCI `domainname`), setdomainname(2); needs a new UTS namespace too. */
  domainname?: string;
  /** Allocate a pseudo-terminal for the process (OCI `process.terminal`). */
  terminal: boolean;
  /**
   * The console's size in characters (OCI `process.consoleSize`), with `terminal` only; the
   * caller's ExecOptions.terminalSize wins when given (the CLI gives its own terminal's).
   */
  consoleSize?: { height: number; width: number };
  /**
   * Mounts, in order, after the root. When undefined the defaults are used: /proc, /dev
   * (tmpfs with device nodes), /dev/pts, /dev/shm, /dev/mqueue, /sys (read-only).
   */
  mounts?: MountConfig[];
  /**
   * Device nodes made after the default ones (OCI `linux.devices`): mknod(2) where the kernel
   * allows a usable node (root, no user namespace, a devices cgroup in force), else a bind mount
   * of the host's node at the same path (which must be that device), as runc does in a user
   * namespace. Only on a /dev of the container's own (a tmpfs, the default).
   */
  devices?: DeviceConfig[];
  /**
   * A writable layer over the rootfs, discarded with the container (as `bwrap --tmp-overlay`):
   * the root is an overlayfs whose lower layer is `rootfs`, only ever read, and whose upper and
   * work directories are on a fresh tmpfs of the container's mount namespace (`sizeBytes`, at
   * least 4096; default the kernel's, half the RAM; its pages count against a memory limit).
   * What the container writes anywhere in its root is gone when it ends, and the rootfs can
   * be shared by many at once. Needs a rootfs and a mount namespace of the container's own;
   * a rootfs path holding `,`, `:` or `\` is refused (overlayfs option syntax). The mounts
   * below the rootfs on the host are not seen through it (an overlay is not recursive). Not an
   * OCI field.
   * @see https://docs.kernel.org/filesystems/overlayfs.html
   */
  rootfsOverlay?: { sizeBytes?: number };
  /**
   * Make the new root without pivot_root(2), for a rootfs pivot_root cannot leave (the host
   * running from an initramfs: ramfs or tmpfs as `/`): runc's --no-pivot (msMoveRoot). The
   * new root is moved onto `/` (MS_MOVE) and the process chroot(2)ed into it; the full procfs
   * and sysfs mounts of the host are detached first (covered by a tmpfs where that is refused)
   * as runc does. The old root stays under it in the container's mount namespace: a process
   * with CAP_SYS_CHROOT could climb out of a chroot to it, so use it only where pivot_root
   * fails. Needs a mount namespace of the container's own. Default false. Not an OCI field:
   * `ns run --no-pivot`.
   */
  noPivotRoot?: boolean;
  /** Paths masked inside the container (OCI `linux.maskedPaths`). */
  maskedPaths?: string[];
  /** Paths made read-only inside the container (OCI `linux.readonlyPaths`). */
  readonlyPaths?: string[];
  /** OCI `linux.rootfsPropagation`: default `rprivate`. */
  rootfsPropagation?: string;
  /** Set PR_SET_NO_NEW_PRIVS before execve (OCI `process.noNewPrivileges`). */
  noNewPrivileges?: boolean;
  /**
   * Keep the caller's session keyring (keyrings(7)) instead of a new one for the container.
   * Default false: as runc, the container's process joins a new session keyring named
   * `_ses.<id>` (searchable by its owner, or by others in a user namespace), and a process
   * started in it with execIn() joins that one. Not an OCI field: `ns run --no-new-keyring`
   * (runc's flag).
   */
  noNewKeyring?: boolean;
  /**
   * Run a minimal init as the container's process (`docker run --init`, tini's job, built
   * into ns-init): it forks the program, sends on every signal it gets, reaps orphans, and
   * ends with the program. The program is then not pid 1, so a signal it has no handler for
   * has its default action (SIGPIPE, SIGTERM, SIGXFSZ end it, as on the host), and the exit
   * reports the program's own code or signal. The init takes one pid of the container's (a
   * `pids` limit counts it) and runs with the process's user, capabilities and seccomp filter
   * (which must allow rt_sigtimedwait, wait4, kill and clone without namespace flags, as
   * Docker's default profile does). Default false. Not an OCI field: `ns run --init`.
   * @see the `init` plan step (@ns/syscalls)
   */
  init?: boolean;
  /**
   * Resource limits (OCI `process.rlimits`): `type` is an RLIMIT_* name, `soft`/`hard` numbers
   * (RLIM_INFINITY as 2^64-1 or `Infinity`). Without an RLIMIT_NOFILE entry the process gets
   * 1024 soft (and the caller's hard limit), not Node's raised soft limit.
   */
  rlimits?: { type: string; soft: number; hard: number }[];
  /** OCI `process.oomScoreAdj`: written to /proc/self/oom_score_adj (-1000 ... 1000). */
  oomScoreAdj?: number;
  /** OCI `process.ioPriority`: ioprio_set(2) of the process before it drops its capabilities. */
  ioPriority?: IoPriority;
  /** OCI `process.scheduler`: sched_setattr(2) of the process before it drops its capabilities. */
  scheduler?: Scheduler;
  /**
   * OCI `linux.timeOffsets`: offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME in the container's own
   * time namespace (`{ monotonic: { secs: 3600 } }`: its /proc/uptime is an hour ahead).
   */
  timeOffsets?: TimeOffsets;
  /** OCI `linux.personality`: personality(2) of the process (LINUX32: `uname -m` says i686 on x86_64). */
  personality?: Personality;
  /**
   * OCI `linux.sysctl`: namespaced kernel parameters only (`net.*` with a new network
   * namespace, IPC ones with a new IPC namespace, `kernel.hostname`/`domainname` with a new
   * UTS namespace), written under /proc/sys inside the container.
   */
  sysctl?: Record<string, string>;
  /**
   * OCI `linux.resources`: cgroup limits (memory, cpu, pids, blockIO, hugepageLimits,
   * network, rdma, unified) and device rules, applied by @ns/cgroups. With it (or a
   * `cgroupsPath`) the container gets a cgroup of its own, made before its process runs
   * anything and removed when it is gone; without both, none.
   * @see OCI runtime-spec config-linux.md "Control groups"
   */
  resources?: LinuxResources;
  /**
   * OCI `linux.cgroupsPath`: the container's cgroup, relative to the runtime's parent cgroup
   * or absolute (default `/ns/<id>` when `resources` is set).
   */
  cgroupsPath?: string;
  /** File mode creation mask (OCI `process.user.umask`); default 0o022. */
  umask?: number;
  /**
   * With a `user` namespace: how container uids map to host uids (OCI `linux.uidMappings`).
   * When `ns` runs as an unprivileged user and the config has no user namespace, one is
   * added mapping that user to root inside (rootless mode).
   */
  uidMappings?: { containerID: number; hostID: number; size: number }[];
  /** Same for gids (OCI `linux.gidMappings`). */
  gidMappings?: { containerID: number; hostID: number; size: number }[];
  /**
   * The system call filter (OCI `linux.seccomp`), installed by the process's set-up as its last
   * step before execve with no_new_privs, else before its capabilities are dropped, as runc
   * does: an OCI profile, or `'default'` for moby's default profile (what Docker and podman
   * apply), resolved against the process's bounding set. `embeddedDefault()` and
   * `rootfsContainer()` set `'default'`; undefined means no filter (as a config.json without
   * `linux.seccomp`). A process started in the container with execIn() gets the same filter.
   * @see OCI runtime-spec config-linux.md "Seccomp", seccomp(2)
   */
  seccomp?: SeccompConfig;
  /**
   * OCI lifecycle hooks (config.md "POSIX-platform Hooks"): `prestart` and `createRuntime` run
   * before pivot_root while the set-up waits, `poststart` once the program runs and `poststop`
   * once the container is deleted, by runContainer(), createContainer() /
   * startCreatedContainer() and deleteContainer() (exec() alone has no start or delete: it
   * refuses poststart and poststop). `createContainer` (before pivot_root) and `startContainer`
   * (right before the program's execve) run inside the container's namespaces, by the set-up
   * process. See container/hooks.ts and plan/hooks.ts.
   */
  hooks?: ContainerHooks;
  /**
   * Put the container on a Linux bridge (`ns run --net bridge[:NAME]`): a veth pair, `eth0` in
   * the container's own network namespace with an address of `subnet` and a default route via
   * the bridge (made when missing, with the subnet's first address). Removed at exit or delete.
   * Not an OCI field (a CNI plugin's work there). See net/bridge.ts.
   */
  bridge?: { name: string; subnet: string };
  /** OCI `annotations`: in the state (`ns state`) and what hooks read. */
  annotations?: Record<string, string>;
  /** Where the config came from (bundle directory), for state and messages. */
  bundle?: string;
}

/** The points of a container's life a hook runs at (config.md "POSIX-platform Hooks"). */
export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

/** One hook: an absolute `path`, its argv (`args`, argv[0] first), its whole environment, a timeout in seconds. */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** The hooks of a container, by when they run. */
export type ContainerHooks = Partial<Record<HookKind, Hook[]>>;

/**
 * Whether the container gets a cgroup of its own: when it has `resources` or a `cgroupsPath`
 * (an OCI bundle always has them; `rootfsContainer()` and `embeddedDefault()` do not, and
 * start without one).
 */
export function hasCgroup(c: Pick<Container, 'resources' | 'cgroupsPath'>): boolean {
  return c.resources !== undefined || c.cgroupsPath !== undefined;
}

/**
 * The namespace of this type a config joins by path, or undefined (it makes one, or shares the
 * caller's).
 */
export function joinedNamespace(c: Pick<Container, 'namespaces'>, type: NamespaceType): string | undefined {
  return c.namespaces.find((ns) => ns.type === type && ns.path !== undefined)?.path;
}

/**
 * Whether the container gets a new namespace of this type of its own (listed without a
 * `path`), as opposed to none (the host's) or joining an existing one.
 */
export function ownsNamespace(c: Pick<Container, 'namespaces'>, type: NamespaceType): boolean {
  return c.namespaces.some((ns) => ns.type === type && ns.path === undefined);
}
