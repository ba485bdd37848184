/** The default config.json, as `runc spec` writes it. */
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './defaults.js';
import type { OciSpec } from './oci.js';

/**
 * The config.json `ns spec` writes: what `runc spec` writes (runc 1.2, libcontainer/specconv
 * Example()) with `ociVersion` "1.2.0" and hostname "ns": a terminal `sh` as root with
 * CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE (bounding, effective, permitted),
 * RLIMIT_NOFILE 1024, noNewPrivileges, a read-only `rootfs` root, the standard /proc, /dev,
 * /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup mounts, a deny-all device cgroup
 * rule, new pid, network, ipc, uts, mount and cgroup namespaces, and runc's masked and
 * read-only paths.
 *
 * @param options `args` (default `["sh"]`), `terminal` (default true), `rootfs` (root.path,
 *   default "rootfs", relative to the bundle), `hostname` (default "ns")
 * @returns a fresh object each call (safe to modify); never throws
 */
export function defaultOciSpec(
  options: { args?: string[]; terminal?: boolean; rootfs?: string; hostname?: string } = {},
): OciSpec {
  const caps = (): string[] => ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: options.terminal ?? true,
      user: { uid: 0, gid: 0 },
      args: [...(options.args ?? ['sh'])],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps(), effective: caps(), permitted: caps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: options.rootfs ?? 'rootfs', readonly: true },
    hostname: options.hostname ?? 'ns',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [
        { type: 'pid' },
        { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
      ],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}
