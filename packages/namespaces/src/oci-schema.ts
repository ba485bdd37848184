/**
 * The zod schema of an OCI runtime-spec v1.x config.json (config.md, config-linux.md). It is
 * built on first use (zod takes ~90 ms to load: `ns run` without a bundle never pays it).
 * Objects are loose: unknown fields pass through untouched, known fields are type-checked.
 */
import type { z as Zod } from 'zod';
import type { NamespaceType } from './container.js';

/** Namespace types of config-linux.md "Namespaces". */
export const OCI_NAMESPACE_TYPES = [
  'mount',
  'pid',
  'uts',
  'ipc',
  'network',
  'user',
  'cgroup',
  'time',
] as const satisfies readonly NamespaceType[];

/** Root propagation modes: config-linux.md lists the first four; runc also takes the `r` forms. */
const ROOTFS_PROPAGATION = [
  'shared',
  'slave',
  'private',
  'unbindable',
  'rshared',
  'rslave',
  'rprivate',
  'runbindable',
] as const;

/** Build the config.json schema with the given zod namespace. */
export function buildOciSpecSchema(z: typeof Zod) {
  const isInteger = (n: number): boolean => Number.isInteger(n);

  /** uint32 (uid, gid, id mappings, fileMode). */
  const uint32 = z.number().int().min(0).max(0xffff_ffff);
  /** int32 (scheduler nice/priority). */
  const int32 = z.number().int().min(-0x8000_0000).max(0x7fff_ffff);
  /** uint16 (blkio weights). */
  const uint16 = z.number().int().min(0).max(0xffff);
  /** int64: JSON numbers beyond 2^53 lose precision but stay integers, so no safe-integer check. */
  const int64 = z.number().refine(isInteger, 'expected integer');
  /** uint64 (rlimits, cpu period ...): RLIM_INFINITY is written as 18446744073709551615. */
  const uint64 = z.number().min(0).refine(isInteger, 'expected integer');
  const strings = z.array(z.string());

  const idMapping = z.looseObject({ containerID: uint32, hostID: uint32, size: uint32 });

  const mount = z.looseObject({
    destination: z.string().min(1),
    type: z.string().optional(),
    source: z.string().optional(),
    options: strings.optional(),
    uidMappings: z.array(idMapping).optional(),
    gidMappings: z.array(idMapping).optional(),
  });

  const user = z.looseObject({
    uid: uint32.optional(),
    gid: uint32.optional(),
    umask: uint32.optional(),
    additionalGids: z.array(uint32).optional(),
    username: z.string().optional(),
  });

  const capabilities = z.looseObject({
    bounding: strings.optional(),
    effective: strings.optional(),
    inheritable: strings.optional(),
    permitted: strings.optional(),
    ambient: strings.optional(),
  });

  const rlimit = z.looseObject({ type: z.string().min(1), hard: uint64, soft: uint64 });

  const processSchema = z.looseObject({
    terminal: z.boolean().optional(),
    consoleSize: z.looseObject({ height: uint32, width: uint32 }).optional(),
    user: user.optional(),
    args: strings.optional(),
    commandLine: z.string().optional(),
    env: strings.optional(),
    cwd: z.string().optional(),
    capabilities: capabilities.optional(),
    rlimits: z.array(rlimit).optional(),
    noNewPrivileges: z.boolean().optional(),
    apparmorProfile: z.string().optional(),
    oomScoreAdj: z.number().int().optional(),
    scheduler: z
      .looseObject({
        policy: z.string(),
        nice: int32.optional(),
        priority: int32.optional(),
        flags: strings.optional(),
        runtime: uint64.optional(),
        deadline: uint64.optional(),
        period: uint64.optional(),
      })
      .optional(),
    selinuxLabel: z.string().optional(),
    ioPriority: z.looseObject({ class: z.string(), priority: z.number().int() }).optional(),
  });

  const root = z.looseObject({ path: z.string().min(1), readonly: z.boolean().optional() });

  const hook = z.looseObject({
    path: z.string().min(1),
    args: strings.optional(),
    env: strings.optional(),
    timeout: z.number().int().min(1).optional(),
  });
  const hookList = z.array(hook).optional();
  const hooks = z.looseObject({
    prestart: hookList,
    createRuntime: hookList,
    createContainer: hookList,
    startContainer: hookList,
    poststart: hookList,
    poststop: hookList,
  });

  const namespace = z.looseObject({ type: z.enum(OCI_NAMESPACE_TYPES), path: z.string().optional() });

  const blockIODevice = { major: int64, minor: int64 };
  const throttleDevice = z.looseObject({ ...blockIODevice, rate: uint64 });

  const resources = z.looseObject({
    devices: z
      .array(
        z.looseObject({
          allow: z.boolean(),
          type: z.string().optional(),
          major: int64.optional(),
          minor: int64.optional(),
          access: z.string().optional(),
        }),
      )
      .optional(),
    memory: z
      .looseObject({
        limit: int64.optional(),
        reservation: int64.optional(),
        swap: int64.optional(),
        kernel: int64.optional(),
        kernelTCP: int64.optional(),
        swappiness: uint64.optional(),
        disableOOMKiller: z.boolean().optional(),
        useHierarchy: z.boolean().optional(),
        checkBeforeUpdate: z.boolean().optional(),
      })
      .optional(),
    cpu: z
      .looseObject({
        shares: uint64.optional(),
        quota: int64.optional(),
        burst: uint64.optional(),
        period: uint64.optional(),
        realtimeRuntime: int64.optional(),
        realtimePeriod: uint64.optional(),
        cpus: z.string().optional(),
        mems: z.string().optional(),
        idle: int64.optional(),
      })
      .optional(),
    pids: z.looseObject({ limit: int64 }).optional(),
    blockIO: z
      .looseObject({
        weight: uint16.optional(),
        leafWeight: uint16.optional(),
        weightDevice: z
          .array(z.looseObject({ ...blockIODevice, weight: uint16.optional(), leafWeight: uint16.optional() }))
          .optional(),
        throttleReadBpsDevice: z.array(throttleDevice).optional(),
        throttleWriteBpsDevice: z.array(throttleDevice).optional(),
        throttleReadIOPSDevice: z.array(throttleDevice).optional(),
        throttleWriteIOPSDevice: z.array(throttleDevice).optional(),
      })
      .optional(),
    hugepageLimits: z.array(z.looseObject({ pageSize: z.string(), limit: uint64 })).optional(),
    network: z
      .looseObject({
        classID: uint32.optional(),
        priorities: z.array(z.looseObject({ name: z.string(), priority: uint32 })).optional(),
      })
      .optional(),
    rdma: z
      .record(z.string(), z.looseObject({ hcaHandles: uint32.optional(), hcaObjects: uint32.optional() }))
      .optional(),
    unified: z.record(z.string(), z.string()).optional(),
  });

  const device = z.looseObject({
    path: z.string().min(1),
    type: z.enum(['c', 'b', 'u', 'p']),
    major: int64.optional(),
    minor: int64.optional(),
    fileMode: uint32.optional(),
    uid: uint32.optional(),
    gid: uint32.optional(),
  });

  const seccomp = z.looseObject({
    defaultAction: z.string(),
    defaultErrnoRet: uint32.optional(),
    architectures: strings.optional(),
    flags: strings.optional(),
    listenerPath: z.string().optional(),
    listenerMetadata: z.string().optional(),
    syscalls: z
      .array(
        z.looseObject({
          names: strings,
          action: z.string(),
          errnoRet: uint32.optional(),
          args: z
            .array(z.looseObject({ index: uint32, value: uint64, valueTwo: uint64.optional(), op: z.string() }))
            .optional(),
        }),
      )
      .optional(),
  });

  const linux = z.looseObject({
    namespaces: z.array(namespace).optional(),
    uidMappings: z.array(idMapping).optional(),
    gidMappings: z.array(idMapping).optional(),
    timeOffsets: z
      .record(z.string(), z.looseObject({ secs: int64.optional(), nanosecs: uint32.optional() }))
      .optional(),
    devices: z.array(device).optional(),
    cgroupsPath: z.string().optional(),
    resources: resources.optional(),
    rootfsPropagation: z.enum(ROOTFS_PROPAGATION).optional(),
    seccomp: seccomp.optional(),
    sysctl: z.record(z.string(), z.string()).optional(),
    maskedPaths: strings.optional(),
    readonlyPaths: strings.optional(),
    mountLabel: z.string().optional(),
    intelRdt: z.looseObject({ closID: z.string().optional() }).optional(),
    personality: z.looseObject({ domain: z.string(), flags: strings.optional() }).optional(),
  });

  /**
   * The zod schema of an OCI runtime-spec v1.x config.json (config.md, config-linux.md). Objects
   * are loose: unknown fields pass through untouched, known fields are type-checked.
   */
  return z.looseObject({
    ociVersion: z.string().min(1),
    process: processSchema.optional(),
    root: root.optional(),
    hostname: z.string().optional(),
    domainname: z.string().optional(),
    mounts: z.array(mount).optional(),
    hooks: hooks.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    linux: linux.optional(),
  });
}

/** The zod schema of a config.json. */
export type OciSpecSchema = ReturnType<typeof buildOciSpecSchema>;

/** A parsed OCI runtime-spec config.json (unknown fields kept as `unknown`). */
export type OciSpec = Zod.infer<OciSpecSchema>;
