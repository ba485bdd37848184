/**
 * The Linux parts of the config.json converter (oci.ts): `linux.namespaces` and `linux.devices`
 * as a Container's `namespaces` and `devices`, checked on the way with their JSON paths.
 */
import { isAbsolute } from 'node:path';
import { configError } from '@ns/syscalls';
import type { DeviceConfig, NamespaceConfig, NamespaceType } from './container.js';
import { checkDevices } from './linux-checks.js';
import type { OciSpec } from './oci-schema.js';

/**
 * A conversion error: `config.json: <path>: <message>`, with `path` the JSON path.
 * @throws NsError `ERR_NS_CONFIG` always.
 */
export function fail(path: string, message: string): never {
  throw configError(`config.json: ${path}: ${message}`, path);
}

/**
 * `linux.namespaces` as a Container's `namespaces`, 1:1 (an empty `path` is none).
 * @throws NsError `ERR_NS_CONFIG` for a relative path or a type listed twice (naming both).
 */
export function convertNamespaces(list: NonNullable<NonNullable<OciSpec['linux']>['namespaces']>): NamespaceConfig[] {
  const seen = new Map<NamespaceType, number>();
  const out: NamespaceConfig[] = [];
  list.forEach((ns, i) => {
    const path = ns.path === '' ? undefined : ns.path;
    if (path !== undefined && !isAbsolute(path)) {
      fail(`linux.namespaces[${i}].path`, `expected an absolute path, received ${JSON.stringify(path)}`);
    }
    const previous = seen.get(ns.type);
    if (previous !== undefined) {
      const other = list[previous];
      const otherPath = other?.path === '' ? undefined : other?.path;
      if (ns.type === 'network' && (path === undefined) !== (otherPath === undefined)) {
        fail(
          `linux.namespaces[${i}]`,
          `joining an existing network namespace (path ${JSON.stringify(path ?? otherPath)}) and creating ` +
            `a new one (linux.namespaces[${path === undefined ? i : previous}]) cannot be combined`,
        );
      }
      fail(
        `linux.namespaces[${i}].type`,
        `duplicate namespace type ${JSON.stringify(ns.type)} (also linux.namespaces[${previous}])`,
      );
    }
    seen.set(ns.type, i);
    out.push(path === undefined ? { type: ns.type } : { type: ns.type, path });
  });
  return out;
}

/** The file type bits (S_IFMT) of a device node of each OCI type, as stat(2) shows them. */
const DEVICE_FILE_TYPE: Record<string, number> = { c: 0o020000, u: 0o020000, b: 0o060000, p: 0o010000 };
const S_IFMT = 0o170000;

/**
 * A device's `fileMode` without the file type bits its own type stands for: podman and Docker
 * write the whole st_mode (`0o20666` for a character device, S_IFCHR | 0666), which runc takes
 * (it ORs the type in for mknod(2) anyway). Type bits of another type are left for
 * checkDevices() to refuse.
 */
function permissionBits(type: unknown, fileMode: unknown): unknown {
  if (typeof fileMode !== 'number' || !Number.isInteger(fileMode) || typeof type !== 'string') return fileMode;
  const kind = DEVICE_FILE_TYPE[type];
  return kind !== undefined && fileMode >= 0 && (fileMode & S_IFMT) === kind ? fileMode & ~S_IFMT : fileMode;
}

/**
 * `linux.devices` as a Container's `devices`, checked by checkDevices() (a path below /dev,
 * c/b/u/p, device numbers the kernel holds, fileMode 0..0o7777 after the file type bits of the
 * device's own type are taken off, no path twice).
 * @throws NsError `ERR_NS_CONFIG` naming the entry (`linux.devices[1].fileMode`).
 */
export function convertDevices(devices: NonNullable<NonNullable<OciSpec['linux']>['devices']>): DeviceConfig[] {
  const list = devices.map((d) => (d.fileMode === undefined ? d : { ...d, fileMode: permissionBits(d.type, d.fileMode) as number }));
  checkDevices(list, 'linux.devices', fail);
  return list.map(({ path, type, major, minor, fileMode, uid, gid }) => ({
    path,
    type,
    ...(major !== undefined ? { major } : {}),
    ...(minor !== undefined ? { minor } : {}),
    ...(fileMode !== undefined ? { fileMode } : {}),
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
  }));
}
