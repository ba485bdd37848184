import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { DEFAULT_CAPABILITIES, parseCapability } from '@ns/capabilities';
import { CgroupError, resolveCgroupPath, validateResources } from '@ns/cgroups';
import { ErrorCode, NsError, RLIMIT, configError } from '@ns/syscalls';
import { UNKNOWN_CAPABILITY_WARNING, knownCapabilities } from './capabilities.js';
import { CAPABILITY_SETS, CONTAINER_ID_RULE, isContainerId, ownsNamespace, type Container, type NamespaceType } from './container.js';
import { isEnvEntry } from './env.js';
import { checkNamespaces } from './validate-namespaces.js';
import { checkAnnotations, checkHooks } from './validate-hooks.js';
import { checkNoPivotRoot, checkRootfsOverlay } from './validate-overlay.js';
import { checkBridge } from '../net/network.js';
import { checkSeccomp } from './seccomp.js';
import { CONTAINER_FIELDS, checkDevices, checkMountNamespace } from './linux-checks.js';
import { ROOTFS_PROPAGATION, isBindMount } from './mountopts.js';
import { MAX_ID } from '../plan/user.js';
import { checkProcessAttributes } from './process-attrs.js';

/** RLIMIT_* names to resource numbers (getrlimit(2)). */
export const RLIMIT_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(RLIMIT).map(([name, n]) => [`RLIMIT_${name}`, n]),
);

/** RLIM_INFINITY as the kernel's unsigned 64-bit value. */
const RLIM_INFINITY = 2n ** 64n - 1n;

/**
 * True for a value {@link rlimitValue} takes: a non-negative integer number up to 2^64 (OCI
 * uint64; JSON numbers past 2^53 lose precision but stay integers, 2^64-1 reads as 2^64) or
 * `Infinity`. Past 2^64 it is no uint64 (1e20 was taken as unlimited).
 */
function isRlimitNumber(n: unknown): n is number {
  return typeof n === 'number' && (n === Infinity || (Number.isInteger(n) && n >= 0 && n <= 2 ** 64));
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

/**
 * `resources` and `cgroupsPath` as @ns/cgroups reads them (shapes, units, values; a path that
 * stays inside its parent), before anything is made. Whether the host can honour them is
 * known only when the cgroup is made (at the start's `cgroup` sync step).
 * @throws NsError `ERR_NS_CONFIG` naming the JSON path (`linux.resources.memory.limit`).
 */
function checkCgroup(c: Container): void {
  if (c.cgroupsPath !== undefined && (typeof c.cgroupsPath !== 'string' || c.cgroupsPath === '')) {
    throw configError(`cgroupsPath: expected a cgroup path, got ${show(c.cgroupsPath)}`, 'cgroupsPath');
  }
  if (c.resources === undefined && c.cgroupsPath === undefined) return;
  try {
    if (c.resources !== undefined) validateResources(c.resources);
    resolveCgroupPath(c.cgroupsPath, { id: c.id });
  } catch (err) {
    if (!(err instanceof CgroupError)) throw err;
    const path = err.jsonPath ?? err.path;
    throw new NsError(err.code, err.message, { cause: err, ...(path === undefined ? {} : { path }) });
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
  const own = (type: NamespaceType) => ownsNamespace(c, type);
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
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A list of strings, every index checked (holes included, which `some`/`forEach` skip),
 * none holding a NUL byte.
 * @throws NsError `ERR_NS_CONFIG` naming `field` or `field[i]`.
 */
function checkStrings(value: unknown, field: string, what: string): asserts value is string[] {
  if (!Array.isArray(value)) throw configError(`${field}: expected a list of ${what}, got ${show(value)}`, field);
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v !== 'string') throw configError(`${field}[${i}]: expected a string, got ${show(v)}`, `${field}[${i}]`);
    noNul(v, `${field}[${i}]`);
  }
}

/**
 * A list of capability names (`CAP_KILL`, `kill` ...): every entry must be a string; the names
 * this ns or the running kernel does not know are left out of the returned copy, with a
 * warning each in `warnings` (as runc; see knownCapabilities()).
 * @throws NsError `ERR_NS_CONFIG` naming `field` or `field[i]`.
 */
function checkCapabilities(value: unknown, field: string, warnings: string[]): string[] {
  checkStrings(value, field, 'capability names');
  return knownCapabilities(value, field, warnings);
}

/** An optional boolean flag: `'no'` must not read as true. */
function checkBoolean(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw configError(`${field}: expected true or false, got ${show(value)}`, field);
  }
}

/** RFC 1123 host name label rules, up to 64 bytes (HOST_NAME_MAX). */
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*$/;

/**
 * Check a container config and return a normalized copy: rootfs absolute with symlinks
 * resolved, cwd defaulted to `/`. Nothing is created.
 *
 * A capability name that this ns or the running kernel does not know (`CAP_FOO`, or
 * `CAP_BPF` where /proc/sys/kernel/cap_last_cap is below 39) is left out of the copy, as runc
 * does (which grants less, never more), and reported once per entry with
 * `process.emitWarning(message, { code: 'NS_UNKNOWN_CAPABILITY' })` (see
 * UNKNOWN_CAPABILITY_WARNING), e.g. `capabilitySets.bounding[2]: unknown capability
 * "CAP_FOO", ignored`: Node prints it on its own stderr (never the container's), and
 * `process.on('warning')` sees it. A warning is emitted only when the config is valid.
 *
 * Checks shapes as well as values, cheaply (no parsing library, no system calls but the
 * rootfs lookup): every list index (holes too), strings, booleans, integers, known names.
 *
 * @throws NsError `ERR_NS_CONFIG` with `path` naming the field (`config` for a value that is
 *   not an object at all) and the cause: bad id, relative cwd, env entry without `=`, a list
 *   that is not one or holds a non-string (`mounts[2].options[0]`, `maskedPaths[1]`), a
 *   mount with neither type nor source, a flag that is not a boolean (`readonly`, `terminal`,
 *   `noNewPrivileges`), a capability that is not a string (`capabilities[2]`,
 *   `capabilitySets.bounding[0]`), an rlimit that is not a non-negative integer or Infinity
 *   or whose soft limit exceeds the hard one, a malformed id mapping or additional gid,
 *   hostname without a new UTS namespace, an existing network namespace together with a
 *   new one, a new time namespace, a device that is not a c/b/u/p node below /dev with numbers
 *   and mode in range (`devices[1].fileMode`), a field that needs a mount namespace of the
 *   container's own without one (`maskedPaths`, `mounts` ...: linux-checks.ts), an rlimit type
 *   given twice ...; `ERR_NS_NOT_FOUND` when the rootfs does not exist; `ENOTDIR` when it is
 *   not a directory. The namespace files a config joins are checked when it starts.
 */
export function validateContainer(input: Container): Container {
  if (!isObject(input)) throw configError(`config: expected a container object, got ${show(input)}`, 'config');
  const c: Container = { ...input };
  if (c.id === undefined) throw configError('id: missing (a container id is required)', 'id');
  if (!isContainerId(c.id)) {
    throw configError(`id: invalid container id ${show(c.id)} (expected ${CONTAINER_ID_RULE})`, 'id');
  }
  if (!Array.isArray(c.args) || c.args.length === 0) {
    throw configError('args: expected a non-empty list of strings (process.args)', 'args');
  }
  checkStrings(c.args, 'args', 'strings (process.args)');
  if (c.args[0] === '') throw configError('args[0]: empty command', 'args[0]');
  c.env = c.env ?? [];
  if (!Array.isArray(c.env)) throw configError('env: expected a list of KEY=value strings', 'env');
  for (let i = 0; i < c.env.length; i++) {
    const e: unknown = c.env[i];
    if (typeof e !== 'string' || !isEnvEntry(e)) {
      throw configError(`env[${i}]: expected KEY=value, got ${show(e)}`, `env[${i}]`);
    }
    noNul(e, `env[${i}]`);
  }
  c.cwd = c.cwd || '/';
  if (typeof c.cwd !== 'string') throw configError(`cwd: expected a path string, got ${show(c.cwd)}`, 'cwd');
  noNul(c.cwd, 'cwd');
  if (!isAbsolute(c.cwd)) throw configError(`cwd: must be an absolute path, got ${show(c.cwd)}`, 'cwd');
  c.user = c.user || '0:0';
  if (typeof c.user !== 'string') {
    throw configError(`user: expected "uid[:gid]" or "name[:group]", got ${show(c.user)}`, 'user');
  }
  noNul(c.user, 'user');
  if (c.additionalGids !== undefined) {
    if (!Array.isArray(c.additionalGids)) throw configError(`additionalGids: expected a list of gids, got ${show(c.additionalGids)}`, 'additionalGids');
    for (let i = 0; i < c.additionalGids.length; i++) {
      const g: unknown = c.additionalGids[i];
      if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > MAX_ID) {
        throw configError(`additionalGids[${i}]: expected a gid 0..${MAX_ID}, got ${show(g)}`, `additionalGids[${i}]`);
      }
    }
  }
  checkBoolean(c.readonly, 'readonly');
  checkBoolean(c.terminal, 'terminal');
  checkBoolean(c.noNewPrivileges, 'noNewPrivileges');
  checkBoolean(c.noNewKeyring, 'noNewKeyring');
  checkBoolean(c.init, 'init');
  if (c.bundle !== undefined && typeof c.bundle !== 'string') throw configError(`bundle: expected a directory path, got ${show(c.bundle)}`, 'bundle');

  // Capabilities this ns or the kernel does not know: left out, a process warning each (below).
  const warnings: string[] = [];
  if (c.capabilities !== undefined) c.capabilities = checkCapabilities(c.capabilities, 'capabilities', warnings);
  if (c.dropCapabilities !== undefined) c.dropCapabilities = checkCapabilities(c.dropCapabilities, 'dropCapabilities', warnings);
  if (c.capabilitySets !== undefined) {
    const sets: unknown = c.capabilitySets;
    if (!isObject(sets)) {
      throw configError(`capabilitySets: expected { bounding?, effective?, permitted?, inheritable?, ambient? }, got ${show(sets)}`, 'capabilitySets');
    }
    const known: Record<string, string[]> = {};
    for (const [name, list] of Object.entries(sets)) {
      if (!(CAPABILITY_SETS as readonly string[]).includes(name)) {
        throw configError(`capabilitySets.${name}: unknown set (expected ${CAPABILITY_SETS.join(', ')})`, `capabilitySets.${name}`);
      }
      if (list !== undefined) known[name] = checkCapabilities(list, `capabilitySets.${name}`, warnings);
    }
    c.capabilitySets = known;
    // capset(2) refuses an effective capability that is not permitted.
    const { bounding, effective, permitted } = c.capabilitySets;
    const numbers = (names: readonly string[]) => new Set(names.map(parseCapability));
    const allowed = numbers(permitted ?? bounding ?? DEFAULT_CAPABILITIES);
    const extra = (effective ?? bounding ?? DEFAULT_CAPABILITIES).filter((n) => !allowed.has(parseCapability(n)));
    if (extra.length > 0) {
      throw configError(`capabilitySets.effective: ${extra.join(', ')} must also be in capabilitySets.permitted`, 'capabilitySets.effective');
    }
  }

  checkNamespaces(c);

  if (c.domainname !== undefined && c.domainname !== '') {
    if (typeof c.domainname !== 'string' || c.domainname.length > 64 || c.domainname.includes('\0')) {
      throw configError(`domainname: expected a string of up to 64 bytes, got ${show(c.domainname)}`, 'domainname');
    }
    if (!ownsNamespace(c, 'uts')) throw configError('domainname: setting the domain name needs a new UTS namespace (it would rename the host\'s)', 'domainname');
  }
  if (c.consoleSize !== undefined) {
    const size: unknown = c.consoleSize;
    const dim = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
    if (!isObject(size) || !dim(size.height) || !dim(size.width)) {
      throw configError(`consoleSize: expected { height, width } of 0..65535 characters, got ${show(size)}`, 'consoleSize');
    }
  }
  if (c.hostname !== undefined && typeof c.hostname !== 'string') {
    throw configError(`hostname: expected a string, got ${show(c.hostname)}`, 'hostname');
  }
  if (c.hostname !== undefined && c.hostname !== '') {
    if (!ownsNamespace(c, 'uts')) {
      throw configError('hostname: setting the hostname needs a new UTS namespace (it would rename the host)', 'hostname');
    }
    if (!HOSTNAME.test(c.hostname) || c.hostname.length > 64) {
      throw configError(`hostname: invalid hostname ${JSON.stringify(c.hostname)}`, 'hostname');
    }
  }

  if (c.mounts !== undefined && !Array.isArray(c.mounts)) {
    throw configError(`mounts: expected a list of { destination, type?, source?, options? }, got ${show(c.mounts)}`, 'mounts');
  }
  for (let i = 0; i < (c.mounts?.length ?? 0); i++) {
    const m: unknown = c.mounts![i];
    if (!isObject(m)) throw configError(`mounts[${i}]: expected { destination, type?, source?, options? }, got ${show(m)}`, `mounts[${i}]`);
    const field = `mounts[${i}].destination`;
    if (typeof m.destination !== 'string' || !isAbsolute(m.destination)) {
      throw configError(`${field}: must be an absolute path, got ${show(m.destination)}`, field);
    }
    noNul(m.destination, field);
    for (const key of ['type', 'source'] as const) {
      const v = m[key];
      if (v === undefined) continue;
      if (typeof v !== 'string') throw configError(`mounts[${i}].${key}: expected a string, got ${show(v)}`, `mounts[${i}].${key}`);
      noNul(v, `mounts[${i}].${key}`);
    }
    if (!m.type && !m.source) {
      throw configError(`mounts[${i}]: needs a type (tmpfs, proc ...) or a source (a host path to bind)`, `mounts[${i}]`);
    }
    if (m.options !== undefined) checkStrings(m.options, `mounts[${i}].options`, 'mount options');
    const options = (m.options ?? []) as string[];
    const dest = posix.resolve('/', m.destination);
    if (dest === '/') throw configError(`${field}: the destination cannot be /`, field);
    // As runc: only procfs on /proc, and below it only binds over the files lxcfs provides.
    const bind = isBindMount({ type: m.type as string | undefined, options });
    if (dest === '/proc' && m.type !== 'proc') {
      throw configError(`${field}: only a proc mount may go on /proc, got ${JSON.stringify(m.type ?? 'bind')}`, field);
    }
    if (dest.startsWith('/proc/') && !(bind && PROC_BIND_ALLOWED.has(dest))) {
      throw configError(`${field}: mounting over ${dest} is not allowed (it would hide the container's /proc)`, field);
    }
  }
  for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
    const list = c[key];
    if (list === undefined) continue;
    checkStrings(list, key, 'paths');
    const i = list.findIndex((p) => !isAbsolute(p));
    if (i >= 0) throw configError(`${key}[${i}]: must be an absolute path in the container, got ${show(list[i])}`, `${key}[${i}]`);
  }
  if (c.rootfsPropagation !== undefined && !(ROOTFS_PROPAGATION as readonly unknown[]).includes(c.rootfsPropagation)) {
    throw configError(`rootfsPropagation: unknown propagation ${show(c.rootfsPropagation)} (expected [r]shared, [r]slave, [r]private or [r]unbindable)`, 'rootfsPropagation');
  }
  const fail = (path: string, message: string): never => {
    throw configError(`${path}: ${message}`, path);
  };
  if (c.devices !== undefined) checkDevices(c.devices, 'devices', fail);
  checkMountNamespace(c, CONTAINER_FIELDS, fail);

  if (c.rlimits !== undefined) {
    if (!Array.isArray(c.rlimits)) throw configError('rlimits: expected a list of { type, soft, hard } (process.rlimits)', 'rlimits');
    for (let i = 0; i < c.rlimits.length; i++) {
      const r: unknown = c.rlimits[i];
      const field = `rlimits[${i}]`;
      if (!isObject(r)) throw configError(`${field}: expected { type, soft, hard }, got ${show(r)}`, field);
      if (typeof r.type !== 'string' || !Object.hasOwn(RLIMIT_BY_NAME, r.type)) {
        throw configError(`${field}.type: unknown resource ${show(r.type)} (expected RLIMIT_NOFILE, RLIMIT_NPROC ...)`, `${field}.type`);
      }
      // config.md: "If rlimits contains duplicated entries with same type, the runtime MUST generate an error".
      const first = c.rlimits.findIndex((o) => isObject(o) && o.type === r.type);
      if (first < i) throw configError(`${field}.type: ${r.type} is also rlimits[${first}]`, `${field}.type`);
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
    throw configError(`oomScoreAdj: expected an integer -1000..1000, got ${show(c.oomScoreAdj)}`, 'oomScoreAdj');
  }
  if (c.sysctl !== undefined && !isObject(c.sysctl)) {
    throw configError(`sysctl: expected an object of name: value strings, got ${show(c.sysctl)}`, 'sysctl');
  }
  for (const [key, value] of Object.entries(c.sysctl ?? {})) checkSysctl(key, value, c);
  checkSeccomp(c.seccomp);
  if (c.umask !== undefined && (!Number.isInteger(c.umask) || c.umask < 0 || c.umask > 0o777)) {
    throw configError(`umask: expected an integer 0..0o777, got ${show(c.umask)}`, 'umask');
  }
  checkCgroup(c);
  checkHooks(c.hooks);
  checkProcessAttributes(c);
  checkAnnotations(c.annotations);
  checkBridge(c);

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
  checkRootfsOverlay(c);
  checkNoPivotRoot(c);
  for (const warning of warnings) process.emitWarning(warning, { code: UNKNOWN_CAPABILITY_WARNING });
  return c;
}
