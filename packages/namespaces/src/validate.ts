import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { ErrorCode, NsError, RLIMIT, configError } from '@ns/syscalls';
import type { Container, NamespaceType } from './container.js';
import { checkIdMappings } from './idmap.js';

/** RLIMIT_* names to resource numbers (getrlimit(2)). */
export const RLIMIT_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(RLIMIT).map(([name, n]) => [`RLIMIT_${name}`, n]),
);

/** RLIM_INFINITY as the kernel's unsigned 64-bit value. */
const RLIM_INFINITY = 2n ** 64n - 1n;

/**
 * True for a value {@link rlimitValue} takes: a non-negative integer number (OCI uint64;
 * JSON numbers past 2^53 lose precision but stay integers) or `Infinity`.
 */
function isRlimitNumber(n: unknown): n is number {
  return typeof n === 'number' && (n === Infinity || (Number.isInteger(n) && n >= 0));
}

/**
 * An OCI rlimit value as the kernel's 64-bit number; RLIM_INFINITY (2^64-1, which JSON
 * numbers round up to 2^64, or Infinity) becomes -1n.
 * @throws NsError `ERR_NS_CONFIG` (path `rlimits`) for anything but a non-negative integer
 *   or `Infinity` (a negative, fractional, NaN or non-number value is never read as unlimited).
 */
export function rlimitValue(n: number): bigint {
  if (!isRlimitNumber(n)) {
    throw configError(`rlimits: expected a non-negative integer limit or Infinity, got ${show(n)}`, 'rlimits');
  }
  if (n >= 2 ** 64 - 1) return -1n;
  return BigInt(n);
}

/** A value for a message: JSON where possible (never throws: bigints, cycles, functions). */
function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || v === undefined) return String(v);
  try {
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** IPC-namespaced sysctls (ipc_namespaces(7)); `fs.mqueue.*` also belongs to the IPC namespace. */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/**
 * Allow only kernel parameters that belong to a namespace the container has of its own, as
 * runc does; anything else would change the host.
 * @throws NsError `ERR_NS_CONFIG` naming `sysctl.<key>`.
 */
function checkSysctl(key: string, value: unknown, c: Container): void {
  const field = `sysctl.${key}`;
  const own = (type: NamespaceType) => c.namespaces.some((ns) => ns.type === type && ns.path === undefined);
  if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key)) throw configError(`${field}: invalid sysctl name`, field);
  if (typeof value !== 'string') throw configError(`${field}: expected a string value`, field);
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
    if (!own('ipc')) throw configError(`${field}: needs a new IPC namespace`, field);
  } else if (key.startsWith('net.')) {
    if (!own('network')) throw configError(`${field}: needs a new network namespace (it would change the host's)`, field);
  } else if (key === 'kernel.hostname' || key === 'kernel.domainname') {
    if (!own('uts')) throw configError(`${field}: needs a new UTS namespace`, field);
  } else {
    throw configError(`${field}: not a namespaced sysctl (setting it would change the host)`, field);
  }
}

/** Files below /proc that may be bind-mounted over, as runc allows (what lxcfs provides). */
const PROC_BIND_ALLOWED = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/net/dev',
  '/proc/sys/kernel/ns_last_pid',
]);

/** A string field must not hold a NUL byte (it could not reach the kernel intact). */
function noNul(value: string, field: string): void {
  if (value.includes('\0')) throw configError(`${field}: contains a NUL byte`, field);
}

/** A plain object (not null, not an array). */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Container ids: as runc, `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`. */
export const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const NAMESPACE_TYPES: readonly NamespaceType[] = ['mount', 'pid', 'uts', 'ipc', 'network', 'user', 'cgroup', 'time'];

/** RFC 1123 host name label rules, up to 64 bytes (HOST_NAME_MAX). */
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*$/;

/**
 * Check a container config and return a normalized copy: rootfs absolute with symlinks
 * resolved, cwd defaulted to `/`. Nothing is created.
 *
 * @throws NsError `ERR_NS_CONFIG` naming the field and the cause (bad id, relative cwd,
 *   env entry without `=`, hostname without a new UTS namespace, an existing network
 *   namespace together with a new one ...); `ERR_NS_NOT_FOUND` when the rootfs does not
 *   exist; `ENOTDIR` when it is not a directory.
 */
export function validateContainer(input: Container): Container {
  const c: Container = { ...input };
  if (c.id === undefined) throw configError('id: missing (a container id is required)', 'id');
  if (typeof c.id !== 'string' || !CONTAINER_ID.test(c.id)) {
    throw configError(`id: invalid container id ${JSON.stringify(c.id)} (expected [A-Za-z0-9][A-Za-z0-9_.-]{0,127})`, 'id');
  }
  if (!Array.isArray(c.args) || c.args.length === 0 || c.args.some((a) => typeof a !== 'string')) {
    throw configError('args: expected a non-empty list of strings (process.args)', 'args');
  }
  if (c.args[0] === '') throw configError('args[0]: empty command', 'args[0]');
  c.args.forEach((a, i) => noNul(a, `args[${i}]`));
  c.env = c.env ?? [];
  if (!Array.isArray(c.env)) throw configError('env: expected a list of KEY=value strings', 'env');
  c.env.forEach((e, i) => {
    if (typeof e !== 'string' || !e.includes('=') || e.startsWith('=')) {
      throw configError(`env[${i}]: expected KEY=value, got ${JSON.stringify(e)}`, `env[${i}]`);
    }
  });
  c.env.forEach((e, i) => noNul(e, `env[${i}]`));
  c.cwd = c.cwd || '/';
  if (typeof c.cwd !== 'string') throw configError(`cwd: expected a path string, got ${JSON.stringify(c.cwd)}`, 'cwd');
  noNul(c.cwd, 'cwd');
  if (!isAbsolute(c.cwd)) throw configError(`cwd: must be an absolute path, got ${JSON.stringify(c.cwd)}`, 'cwd');
  c.user = c.user || '0:0';
  if (typeof c.user !== 'string') {
    throw configError(`user: expected "uid[:gid]" or "name[:group]", got ${JSON.stringify(c.user)}`, 'user');
  }
  noNul(c.user, 'user');

  if (!Array.isArray(c.namespaces)) {
    throw configError('namespaces: expected a list of { type, path? } (linux.namespaces); rootfsContainer() fills it', 'namespaces');
  }
  const types = new Set<string>();
  c.namespaces.forEach((ns, i) => {
    if (typeof ns !== 'object' || ns === null) throw configError(`namespaces[${i}]: expected { type, path? }`, `namespaces[${i}]`);
    if (!NAMESPACE_TYPES.includes(ns.type)) {
      throw configError(`namespaces[${i}].type: unknown namespace type ${JSON.stringify(ns.type)}`, `namespaces[${i}].type`);
    }
    if (types.has(ns.type)) {
      const what = ns.type === 'network' ? 'an existing network namespace cannot be combined with a new one' : 'listed twice';
      throw configError(`namespaces[${i}]: ${ns.type} namespace ${what}`, `namespaces[${i}]`);
    }
    types.add(ns.type);
    if (ns.path !== undefined && ns.type !== 'network') {
      throw configError(`namespaces[${i}].path: joining an existing ${ns.type} namespace is not supported yet`, `namespaces[${i}].path`);
    }
    if (ns.path !== undefined && !isAbsolute(ns.path)) {
      throw configError(`namespaces[${i}].path: must be absolute, got ${JSON.stringify(ns.path)}`, `namespaces[${i}].path`);
    }
  });
  if (!types.has('mount')) throw configError('namespaces: a mount namespace is required (pivot_root needs one)', 'namespaces');
  if (types.has('user')) {
    checkIdMappings(c.uidMappings ?? [], 'uidMappings');
    checkIdMappings(c.gidMappings ?? [], 'gidMappings');
  } else if (c.uidMappings?.length || c.gidMappings?.length) {
    throw configError('uidMappings: id mappings need a user namespace in namespaces', 'uidMappings');
  }
  if (types.has('time')) throw configError('namespaces: time namespaces are not supported yet', 'namespaces');

  if (c.hostname !== undefined && c.hostname !== '') {
    const uts = c.namespaces.find((ns) => ns.type === 'uts');
    if (!uts || uts.path !== undefined) {
      throw configError('hostname: setting the hostname needs a new UTS namespace (it would rename the host)', 'hostname');
    }
    if (!HOSTNAME.test(c.hostname) || c.hostname.length > 64) {
      throw configError(`hostname: invalid hostname ${JSON.stringify(c.hostname)}`, 'hostname');
    }
  }

  (c.mounts ?? []).forEach((m, i) => {
    const field = `mounts[${i}].destination`;
    if (typeof m.destination !== 'string' || !isAbsolute(m.destination)) {
      throw configError(`${field}: must be an absolute path, got ${JSON.stringify(m.destination)}`, field);
    }
    noNul(m.destination, field);
    if (m.source !== undefined) noNul(m.source, `mounts[${i}].source`);
    const dest = posix.resolve('/', m.destination);
    if (dest === '/') throw configError(`${field}: the destination cannot be /`, field);
    // As runc: only procfs on /proc, and below it only binds over the files lxcfs provides.
    const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
    if (dest === '/proc' && m.type !== 'proc') {
      throw configError(`${field}: only a proc mount may go on /proc, got ${JSON.stringify(m.type ?? 'bind')}`, field);
    }
    if (dest.startsWith('/proc/') && !(bind && PROC_BIND_ALLOWED.has(dest))) {
      throw configError(`${field}: mounting over ${dest} is not allowed (it would hide the container's /proc)`, field);
    }
  });

  if (c.rlimits !== undefined) {
    if (!Array.isArray(c.rlimits)) throw configError('rlimits: expected a list of { type, soft, hard } (process.rlimits)', 'rlimits');
    for (let i = 0; i < c.rlimits.length; i++) {
      const r: unknown = c.rlimits[i];
      const field = `rlimits[${i}]`;
      if (!isObject(r)) throw configError(`${field}: expected { type, soft, hard }, got ${show(r)}`, field);
      if (typeof r.type !== 'string' || !Object.hasOwn(RLIMIT_BY_NAME, r.type)) {
        throw configError(`${field}.type: unknown resource ${show(r.type)} (expected RLIMIT_NOFILE, RLIMIT_NPROC ...)`, `${field}.type`);
      }
      for (const key of ['soft', 'hard'] as const) {
        if (!isRlimitNumber(r[key])) {
          throw configError(
            `${field}.${key}: expected a non-negative integer or Infinity (RLIM_INFINITY), got ${show(r[key])}`,
            `${field}.${key}`,
          );
        }
      }
      const value = (n: number) => (rlimitValue(n) === -1n ? RLIM_INFINITY : rlimitValue(n));
      if (value(r.soft as number) > value(r.hard as number)) {
        throw configError(`${field}: soft limit ${show(r.soft)} is above the hard limit ${show(r.hard)}`, field);
      }
    }
  }
  if (c.oomScoreAdj !== undefined && (!Number.isInteger(c.oomScoreAdj) || c.oomScoreAdj < -1000 || c.oomScoreAdj > 1000)) {
    throw configError(`oomScoreAdj: expected an integer -1000..1000, got ${JSON.stringify(c.oomScoreAdj)}`, 'oomScoreAdj');
  }
  for (const [key, value] of Object.entries(c.sysctl ?? {})) checkSysctl(key, value, c);
  if (c.umask !== undefined && (!Number.isInteger(c.umask) || c.umask < 0 || c.umask > 0o777)) {
    throw configError(`umask: expected an integer 0..0o777, got ${JSON.stringify(c.umask)}`, 'umask');
  }

  if (c.rootfs !== null) {
    if (typeof c.rootfs !== 'string' || c.rootfs === '') throw configError('rootfs: expected a directory path', 'rootfs');
    let real: string;
    try {
      real = realpathSync.native(c.rootfs);
    } catch (cause) {
      throw new NsError(ErrorCode.NOT_FOUND, `rootfs ${c.rootfs}: no such directory`, { path: c.rootfs, cause });
    }
    if (!statSync(real).isDirectory()) {
      throw new NsError('ENOTDIR', `rootfs ${c.rootfs}: not a directory`, { path: c.rootfs });
    }
    if (real === '/') throw configError('rootfs: the host root "/" cannot be a container rootfs', 'rootfs');
    c.rootfs = real;
  }
  return c;
}
