/**
 * Checks of `devices` and of a container without a mount namespace of its own, shared by
 * validateContainer() (a Container's field names) and the config.json converter (the spec's
 * JSON paths, `linux.devices[0].type`), so both refuse the same things with the names their
 * caller wrote.
 */
import { posix } from 'node:path';
import { isBindMount } from './mountopts.js';
import { ownsNamespace, type Container } from './container.js';
import { DEFAULT_MOUNTS } from './defaults.js';

/** Where a check's fields are, as the caller named them. */
export interface FieldNames {
  namespaces: string;
  devices: string;
  mounts: string;
  maskedPaths: string;
  readonlyPaths: string;
  readonly: string;
  rootfsPropagation: string;
  rootfs: string;
}

/** A Container's own field names. */
export const CONTAINER_FIELDS: FieldNames = {
  namespaces: 'namespaces',
  devices: 'devices',
  mounts: 'mounts',
  maskedPaths: 'maskedPaths',
  readonlyPaths: 'readonlyPaths',
  readonly: 'readonly',
  rootfsPropagation: 'rootfsPropagation',
  rootfs: 'rootfs',
};

/** The same fields in a config.json (config.md, config-linux.md). */
export const OCI_FIELDS: FieldNames = {
  namespaces: 'linux.namespaces',
  devices: 'linux.devices',
  mounts: 'mounts',
  maskedPaths: 'linux.maskedPaths',
  readonlyPaths: 'linux.readonlyPaths',
  readonly: 'root.readonly',
  rootfsPropagation: 'linux.rootfsPropagation',
  rootfs: 'root.path',
};

/** Throws the caller's configuration error for `path` (a JSON path) with `message`. */
export type Fail = (path: string, message: string) => never;

/** Largest major and minor number mknod(2) takes (the kernel's dev_t: 12 and 20 bits). */
export const MAX_DEVICE_MAJOR = 0xfff;
export const MAX_DEVICE_MINOR = 0xfffff;

/** Largest uid or gid (2^32 - 2; -1 means "unchanged" to chown(2)). */
const MAX_OWNER = 0xfffffffe;

const DEVICE_TYPES = ['c', 'b', 'u', 'p'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function integerIn(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * `devices` (OCI `linux.devices`): each a `{ path, type, major, minor, fileMode?, uid?, gid? }`
 * with a path below /dev (normalized: `/dev/../etc/x` is /etc/x, refused), a type of c, b, u or
 * p, device numbers the kernel can hold (required but for p), a mode of permission bits only
 * (0..0o7777), ids 0..2^32-2, and no path twice.
 *
 * Stricter than runc on purpose: runc makes a node at any path of the rootfs, which for a
 * path outside /dev is a node in the bundle's directory on the host, left there after the
 * container; ns makes nodes only on the container's own /dev.
 * @see OCI runtime-spec config-linux.md "Devices", mknod(2)
 */
export function checkDevices(value: unknown, field: string, fail: Fail): void {
  if (!Array.isArray(value)) return fail(field, 'expected a list of { path, type, major, minor, fileMode?, uid?, gid? }');
  const seen = new Map<string, number>();
  for (let i = 0; i < value.length; i++) {
    const d: unknown = value[i];
    const at = `${field}[${i}]`;
    if (!isObject(d)) fail(at, 'expected { path, type, major, minor, fileMode?, uid?, gid? }');
    if (typeof d.path !== 'string' || !posix.isAbsolute(d.path)) fail(`${at}.path`, `expected an absolute path below /dev, got ${JSON.stringify(d.path)}`);
    if (d.path.includes('\0')) fail(`${at}.path`, 'contains a NUL byte');
    const clean = posix.resolve('/', d.path);
    if (!clean.startsWith('/dev/')) {
      fail(`${at}.path`, `${d.path} is outside /dev (device nodes are made only on the container's own /dev, never in the rootfs on the host)`);
    }
    if (seen.has(clean)) fail(`${at}.path`, `${clean} is also ${field}[${seen.get(clean)}]`);
    seen.set(clean, i);
    if (typeof d.type !== 'string' || !DEVICE_TYPES.includes(d.type)) {
      fail(`${at}.type`, `expected "c", "b", "u" or "p", got ${JSON.stringify(d.type)}`);
    }
    for (const [key, max] of [['major', MAX_DEVICE_MAJOR], ['minor', MAX_DEVICE_MINOR]] as const) {
      const n = d[key];
      if (n === undefined && d.type === 'p') continue;
      if (!integerIn(n, max)) fail(`${at}.${key}`, `expected an integer 0..${max}${d.type === 'p' ? '' : ` (required for type ${d.type})`}, got ${JSON.stringify(n)}`);
    }
    if (d.fileMode !== undefined && !integerIn(d.fileMode, 0o7777)) {
      const shown = typeof d.fileMode === 'number' ? `0o${d.fileMode.toString(8)}` : JSON.stringify(d.fileMode);
      fail(`${at}.fileMode`, `expected permission bits 0..0o7777, got ${shown}`);
    }
    for (const key of ['uid', 'gid'] as const) {
      if (d[key] !== undefined && !integerIn(d[key], MAX_OWNER)) fail(`${at}.${key}`, `expected an id 0..${MAX_OWNER}, got ${JSON.stringify(d[key])}`);
    }
  }
}

/**
 * What the container's mounts put on /dev: `own` when the last mount there is not a bind (a
 * tmpfs of its own, where nodes are made), with its index; `bound` for a bind of a host
 * directory, `none` when nothing is mounted there.
 */
export function devMount(mounts: Container['mounts']): { kind: 'own' | 'bound' | 'none'; index: number } {
  const list = mounts ?? DEFAULT_MOUNTS;
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i]!;
    if (typeof m?.destination !== 'string' || posix.resolve('/', m.destination) !== '/dev') continue;
    return { kind: isBindMount(m) || m.type === 'rbind' ? 'bound' : 'own', index: i };
  }
  return { kind: 'none', index: -1 };
}

/**
 * The fields that need a mount namespace of the container's own, refused without one: with no
 * `mount` entry in `namespaces` the process runs in the caller's mount namespace, chroot(2)ed
 * into the rootfs (as runc), and with a joined one it takes that namespace's root. Nothing can
 * be mounted then without changing that namespace for every process in it, and past the
 * container's end: runc makes such mounts all the same (in the host's mount namespace, where
 * they stay); ns refuses them. Masked and read-only paths are refused as runc refuses them.
 * Also: `devices` need a /dev of the container's own (a tmpfs on /dev, as the defaults).
 */
export function checkMountNamespace(c: Pick<Container, 'namespaces' | 'rootfs' | 'mounts' | 'maskedPaths' | 'readonlyPaths' | 'readonly' | 'rootfsPropagation' | 'devices'>, names: FieldNames, fail: Fail): void {
  if (ownsNamespace(c, 'mount')) {
    if (c.devices?.length) {
      const dev = devMount(c.mounts);
      if (dev.kind !== 'own') {
        const why = dev.kind === 'bound' ? `${names.mounts}[${dev.index}] binds a host directory there` : 'nothing is mounted there';
        fail(names.devices, `device nodes are made only on a /dev of the container's own (a tmpfs mount on /dev), and ${why}`);
      }
    }
    return;
  }
  const joined = c.namespaces.findIndex((ns) => ns.type === 'mount');
  const where = joined >= 0 ? `the mount namespace it joins (${names.namespaces}[${joined}])` : `the caller's mount namespace (${names.namespaces} has no "mount" entry)`;
  const none = (what: string) => `${what} need a mount namespace of the container's own: without one it runs in ${where}`;
  if (c.rootfs === null) fail(names.rootfs, `the embedded default root is made of mounts, which ${none('').trimStart()}`);
  if (c.mounts?.length) fail(names.mounts, `${none('mounts')}, where they would outlive the container (runc makes them there; ns refuses)`);
  if (c.maskedPaths?.length) fail(names.maskedPaths, 'unable to restrict sys entries without a private mount namespace (as runc)');
  if (c.readonlyPaths?.length) fail(names.readonlyPaths, 'unable to restrict sys entries without a private mount namespace (as runc)');
  if (c.readonly) fail(names.readonly, `a read-only root needs a mount namespace of the container's own: without one it runs in ${where}, whose mounts it would change`);
  if (c.rootfsPropagation !== undefined) fail(names.rootfsPropagation, `${none('propagation settings')}, whose mounts they would change`);
  if (c.devices?.length) fail(names.devices, `${none('device nodes')} (they are made on a /dev of its own)`);
}
