/**
 * The zod schema of an OCI runtime-spec v1.x config.json (config.md, config-linux.md), in zod's
 * `zod/mini` API (the functional one: what is not used is not loaded, see zod.ts). Objects are
 * loose: unknown fields pass through untouched, known fields are type-checked.
 *
 * Built on first use, never at import, and only when a config.json is not accepted by the
 * table of this schema (oci-table.ts, generated from it; see oci-check.ts): for a valid
 * config.json zod is neither loaded nor built. The parts most configs leave out (resources,
 * seccomp, devices, hooks, scheduler ...) are built only when a config has them (`z.lazy`),
 * and field schemas are shared: building a zod schema costs microseconds a node.
 */
import type * as Zod from 'zod/mini';
import { NAMESPACE_TYPES } from './container.js';
import { ROOTFS_PROPAGATION } from './mountopts.js';
import type { ZodApi } from './zod.js';

/** Namespace types of config-linux.md "Namespaces" (the same as a Container's). */
export const OCI_NAMESPACE_TYPES = NAMESPACE_TYPES;

/**
 * The check of the spec's int64 and uint64 fields: an integer, with no safe-integer limit
 * (JSON numbers beyond 2^53 lose precision but stay integers; RLIM_INFINITY is 2^64-1).
 */
export function isInteger(n: number): boolean {
  return Number.isInteger(n);
}

/** Build the config.json schema with the given zod (the parts of `zod/mini` in zod.ts). */
export function buildOciSpecSchema(z: ZodApi) {
  /** A schema made on first use, then shared. */
  const once = <T>(make: () => T): (() => T) => {
    let made: T | undefined;
    return () => (made ??= make());
  };
  const opt = z.optional;
  /** Optional, and built the first time a config has it. */
  const later = <T extends Zod.core.SomeType>(make: () => T) => z.optional(z.lazy(make));

  /** uint32 (uid, gid, id mappings, fileMode). */
  const uint32 = z.number().check(z.int(), z.minimum(0), z.maximum(0xffff_ffff));
  /** int32 (scheduler nice/priority). */
  const int32 = once(() => z.number().check(z.int(), z.minimum(-0x8000_0000), z.maximum(0x7fff_ffff)));
  /** uint16 (blkio weights). */
  const uint16 = once(() => z.number().check(z.int(), z.minimum(0), z.maximum(0xffff)));
  /** int64: JSON numbers beyond 2^53 lose precision but stay integers, so no safe-integer check. */
  const int64 = once(() => z.number().check(z.refine(isInteger, 'expected integer')));
  /** uint64 (rlimits, cpu period ...): RLIM_INFINITY is written as 18446744073709551615. */
  const uint64 = z.number().check(z.minimum(0), z.refine(isInteger, 'expected integer'));
  const nonEmpty = once(() => z.string().check(z.minLength(1)));
  const strings = z.array(z.string());
  // Nodes are immutable, so one optional field schema serves every field of its type.
  const optString = opt(z.string());
  const optStrings = opt(strings);
  const optBoolean = opt(z.boolean());
  const optUint32 = opt(uint32);
  const optUint64 = opt(uint64);
  const optInt64 = once(() => opt(int64()));
  const optStringMap = opt(z.record(z.string(), z.string()));

  const idMapping = z.looseObject({ containerID: uint32, hostID: uint32, size: uint32 });
  const optIdMappings = opt(z.array(idMapping));

  const mount = z.looseObject({
    destination: nonEmpty(),
    type: optString,
    source: optString,
    options: optStrings,
    uidMappings: optIdMappings,
    gidMappings: optIdMappings,
  });

  const user = z.looseObject({
    uid: optUint32,
    gid: optUint32,
    umask: optUint32,
    additionalGids: opt(z.array(uint32)),
    username: optString,
  });

  const capabilities = z.looseObject({
    bounding: optStrings,
    effective: optStrings,
    inheritable: optStrings,
    permitted: optStrings,
    ambient: optStrings,
  });

  const rlimit = z.looseObject({ type: nonEmpty(), hard: uint64, soft: uint64 });

  const processSchema = z.looseObject({
    terminal: optBoolean,
    consoleSize: later(() => z.looseObject({ height: uint32, width: uint32 })),
    user: opt(user),
    args: optStrings,
    commandLine: optString,
    env: optStrings,
    cwd: optString,
    capabilities: opt(capabilities),
    rlimits: opt(z.array(rlimit)),
    noNewPrivileges: optBoolean,
    apparmorProfile: optString,
    oomScoreAdj: opt(z.number().check(z.int())),
    scheduler: later(() =>
      z.looseObject({
        policy: z.string(),
        nice: opt(int32()),
        priority: opt(int32()),
        flags: optStrings,
        runtime: optUint64,
        deadline: optUint64,
        period: optUint64,
      }),
    ),
    selinuxLabel: optString,
    ioPriority: later(() => z.looseObject({ class: z.string(), priority: z.number().check(z.int()) })),
  });

  const root = z.looseObject({ path: nonEmpty(), readonly: optBoolean });

  const hooks = () => {
    const hook = z.looseObject({
      path: nonEmpty(),
      args: optStrings,
      env: optStrings,
      timeout: opt(z.number().check(z.int(), z.minimum(1))),
    });
    const hookList = opt(z.array(hook));
    return z.looseObject({
      prestart: hookList,
      createRuntime: hookList,
      createContainer: hookList,
      startContainer: hookList,
      poststart: hookList,
      poststop: hookList,
    });
  };

  const namespace = z.looseObject({ type: z.enum(NAMESPACE_TYPES), path: optString });

  const resources = () => {
    const blockIODevice = { major: int64(), minor: int64() };
    const throttleDevice = z.looseObject({ ...blockIODevice, rate: uint64 });
    return z.looseObject({
      devices: later(() =>
        z.array(
          z.looseObject({
            allow: z.boolean(),
            type: optString,
            major: optInt64(),
            minor: optInt64(),
            access: optString,
          }),
        ),
      ),
      memory: later(() =>
        z.looseObject({
          limit: optInt64(),
          reservation: optInt64(),
          swap: optInt64(),
          kernel: optInt64(),
          kernelTCP: optInt64(),
          swappiness: optUint64,
          disableOOMKiller: optBoolean,
          useHierarchy: optBoolean,
          checkBeforeUpdate: optBoolean,
        }),
      ),
      cpu: later(() =>
        z.looseObject({
          shares: optUint64,
          quota: optInt64(),
          burst: optUint64,
          period: optUint64,
          realtimeRuntime: optInt64(),
          realtimePeriod: optUint64,
          cpus: optString,
          mems: optString,
          idle: optInt64(),
        }),
      ),
      pids: later(() => z.looseObject({ limit: int64() })),
      blockIO: later(() =>
        z.looseObject({
          weight: opt(uint16()),
          leafWeight: opt(uint16()),
          weightDevice: opt(z.array(z.looseObject({ ...blockIODevice, weight: opt(uint16()), leafWeight: opt(uint16()) }))),
          throttleReadBpsDevice: opt(z.array(throttleDevice)),
          throttleWriteBpsDevice: opt(z.array(throttleDevice)),
          throttleReadIOPSDevice: opt(z.array(throttleDevice)),
          throttleWriteIOPSDevice: opt(z.array(throttleDevice)),
        }),
      ),
      hugepageLimits: later(() => z.array(z.looseObject({ pageSize: z.string(), limit: uint64 }))),
      network: later(() =>
        z.looseObject({
          classID: optUint32,
          priorities: opt(z.array(z.looseObject({ name: z.string(), priority: uint32 }))),
        }),
      ),
      rdma: later(() => z.record(z.string(), z.looseObject({ hcaHandles: optUint32, hcaObjects: optUint32 }))),
      unified: later(() => z.record(z.string(), z.string())),
    });
  };

  const device = () =>
    z.looseObject({
      path: nonEmpty(),
      type: z.enum(['c', 'b', 'u', 'p']),
      major: optInt64(),
      minor: optInt64(),
      fileMode: optUint32,
      uid: optUint32,
      gid: optUint32,
    });

  const seccomp = () =>
    z.looseObject({
      defaultAction: z.string(),
      defaultErrnoRet: optUint32,
      architectures: optStrings,
      flags: optStrings,
      listenerPath: optString,
      listenerMetadata: optString,
      syscalls: opt(
        z.array(
          z.looseObject({
            names: strings,
            action: z.string(),
            errnoRet: optUint32,
            args: opt(z.array(z.looseObject({ index: uint32, value: uint64, valueTwo: optUint64, op: z.string() }))),
          }),
        ),
      ),
    });

  const linux = z.looseObject({
    namespaces: opt(z.array(namespace)),
    uidMappings: optIdMappings,
    gidMappings: optIdMappings,
    timeOffsets: later(() => z.record(z.string(), z.looseObject({ secs: optInt64(), nanosecs: optUint32 }))),
    devices: later(() => z.array(device())),
    cgroupsPath: optString,
    resources: later(resources),
    rootfsPropagation: opt(z.enum(ROOTFS_PROPAGATION)),
    seccomp: later(seccomp),
    sysctl: optStringMap,
    maskedPaths: optStrings,
    readonlyPaths: optStrings,
    mountLabel: optString,
    intelRdt: later(() => z.looseObject({ closID: optString })),
    personality: later(() => z.looseObject({ domain: z.string(), flags: optStrings })),
  });

  return z.looseObject({
    ociVersion: nonEmpty(),
    process: opt(processSchema),
    root: opt(root),
    hostname: optString,
    domainname: optString,
    mounts: opt(z.array(mount)),
    hooks: later(hooks),
    annotations: optStringMap,
    linux: opt(linux),
  });
}

/** The zod schema of a config.json. */
export type OciSpecSchema = ReturnType<typeof buildOciSpecSchema>;

/** A parsed OCI runtime-spec config.json (unknown fields kept as `unknown`). */
export type OciSpec = Zod.infer<OciSpecSchema>;
