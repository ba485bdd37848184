import { closeSync, openSync, readSync } from 'node:fs';
import type { Container, MountConfig, NamespaceConfig } from './container.js';

/**
 * The lists below are frozen, deeply: a plan kept for reuse (exec()'s plan cache) depends on
 * them, so changing one at run time would change fresh plans but not kept ones. Copy them to
 * change a container's defaults (`rootfsContainer(dir, { mounts: [...DEFAULT_MOUNTS, m] })`).
 */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/** PATH used to find args[0] when the container's env has none (as runc and Docker). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The mounts every container gets unless its config lists its own (runc spec's list). */
export const DEFAULT_MOUNTS: readonly MountConfig[] = frozen([
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  {
    destination: '/dev/pts',
    type: 'devpts',
    source: 'devpts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
  },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
]);

/** runc's default `linux.maskedPaths`. */
export const DEFAULT_MASKED_PATHS: readonly string[] = frozen([
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
  '/sys/devices/virtual/powercap',
]);

/** runc's default `linux.readonlyPaths`. */
export const DEFAULT_READONLY_PATHS: readonly string[] = frozen(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);

/** The namespaces of a default container: mount, pid, uts, ipc and a network with only `lo`. */
export const DEFAULT_NAMESPACES: readonly NamespaceConfig[] = frozen([
  { type: 'mount' },
  { type: 'pid' },
  { type: 'uts' },
  { type: 'ipc' },
  { type: 'network' },
]);

/**
 * Host directories the embedded default shows read-only (symlinks among them, as on merged-/usr
 * systems, are recreated as the same symlinks).
 */
export const HOST_SANDBOX_PATHS: readonly string[] = frozen(['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc']);

/** Host files hidden in the embedded default (bound over with /dev/null). */
export const HOST_SANDBOX_MASKED_PATHS: readonly string[] = frozen(['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-']);

/**
 * A fresh container id: `ns-` and 12 hex digits, 6 bytes of /dev/urandom (read directly:
 * node:crypto costs a short CLI about 4 ms to load).
 */
export function generateId(): string {
  const bytes = Buffer.alloc(6);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, bytes, 0, bytes.length, null);
  } finally {
    closeSync(fd);
  }
  return `ns-${bytes.toString('hex')}`;
}

function base(overrides: Partial<Container>): Container {
  return {
    id: generateId(),
    rootfs: null,
    readonly: false,
    args: ['sh'],
    env: [`PATH=${DEFAULT_PATH}`],
    cwd: '/',
    user: '0:0',
    namespaces: DEFAULT_NAMESPACES.map((ns) => ({ ...ns })),
    hostname: 'ns',
    terminal: false,
    mounts: DEFAULT_MOUNTS.map((m) => ({ ...m, options: [...(m.options ?? [])] })),
    maskedPaths: [...DEFAULT_MASKED_PATHS],
    readonlyPaths: [...DEFAULT_READONLY_PATHS],
    seccomp: 'default',
    ...overrides,
  };
}

/**
 * The embedded default: a sandbox of the host. The host's /usr, /bin, /sbin, /lib* and /etc
 * read-only (with /etc/shadow and /etc/gshadow masked), fresh /proc, /dev, /sys (read-only),
 * a tmpfs /tmp as the working directory, new mount/pid/uts/ipc/network namespaces (only
 * `lo`), hostname `ns`, the default capabilities, the default seccomp profile (`seccomp:
 * 'default'`, moby's: `seccomp: undefined` for none). Nothing else of the host is visible.
 *
 * @param overrides fields replacing the defaults (`args`, `env`, `user`, extra `mounts` ...).
 */
export function embeddedDefault(overrides: Partial<Container> = {}): Container {
  const c = base({ readonly: true, cwd: '/tmp', ...overrides });
  if (!overrides.mounts) {
    c.mounts = [...(c.mounts ?? []), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }];
  }
  if (!overrides.maskedPaths) c.maskedPaths = [...HOST_SANDBOX_MASKED_PATHS, ...(c.maskedPaths ?? [])];
  return c;
}

/**
 * A container on the root filesystem `rootfs` (a host directory) with the same defaults as
 * {@link embeddedDefault}: default mounts, namespaces, capabilities, seccomp profile, hostname
 * `ns`, cwd `/`.
 */
export function rootfsContainer(rootfs: string, overrides: Partial<Container> = {}): Container {
  return base({ rootfs, ...overrides });
}
