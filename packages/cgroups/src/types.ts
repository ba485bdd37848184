/**
 * OCI runtime-spec `linux.resources` (config-linux.md "Control groups"), as this package reads
 * it. Field names and units are the spec's: bytes for memory, microseconds for cpu periods and
 * quotas, `-1` for "unlimited" where the spec says so.
 */

/** One `linux.resources.devices` entry (config-linux.md "Allowed Device list"). */
export interface LinuxDeviceCgroup {
  allow: boolean;
  /** `a` (all, the default), `c` (char) or `b` (block). */
  type?: string;
  /** Unset: every major (`*`). */
  major?: number;
  /** Unset: every minor (`*`). */
  minor?: number;
  /** A combination of `r`, `w`, `m`; unset: `rwm`. */
  access?: string;
}

export interface LinuxMemory {
  /** Hard limit in bytes, -1 unlimited. */
  limit?: number;
  /** Soft limit (v1 soft_limit_in_bytes, v2 memory.low) in bytes, -1 unlimited. */
  reservation?: number;
  /** Memory + swap limit in bytes (the v1 meaning), -1 unlimited. */
  swap?: number;
  /** Kernel memory limit in bytes (v1 only, not recommended). */
  kernel?: number;
  /** Kernel TCP buffer limit in bytes (v1 only, not recommended). */
  kernelTCP?: number;
  /** 0..100 (v1 only). */
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  /** Refuse a new limit below current usage (checked before writing on v2; the v1 kernel refuses by itself). */
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  /** Relative weight, v1 range 2..262144 (default 1024); converted to cpu.weight on v2. */
  shares?: number;
  /** Microseconds per period, -1 unlimited. */
  quota?: number;
  /** Microseconds of accumulated burst. */
  burst?: number;
  /** CFS period in microseconds. */
  period?: number;
  /** Realtime runtime in microseconds per realtimePeriod (v1 only). */
  realtimeRuntime?: number;
  /** Realtime period in microseconds (v1 only). */
  realtimePeriod?: number;
  /** CPU list, `0-3,7`. */
  cpus?: string;
  /** Memory node list, `0-3,7`. */
  mems?: string;
  /** 1: SCHED_IDLE for the cgroup, 0: default. */
  idle?: number;
}

export interface LinuxPids {
  /** Maximum number of tasks; -1 (any negative) unlimited; 0 is a real limit. */
  limit: number;
}

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  /** Bytes per second or I/O operations per second. */
  rate: number;
}

export interface LinuxBlockIO {
  /** 10..1000 (v1 blkio.weight); converted to io.weight on v2 when io.bfq.weight is absent. */
  weight?: number;
  /** 10..1000 (v1 only). */
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** `2MB`, `1GB`, `64KB`: the `<hugepagesize>` of the hugetlb.<size>.* files. */
  pageSize: string;
  /** Bytes. */
  limit: number;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

/** `linux.resources` of config.json. */
export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  /** Raw cgroup v2 files: `{ "memory.high": "1073741824" }`. */
  unified?: Record<string, string>;
}

/**
 * One write into a cgroup file: what `apply` does, as plain data (like the plan steps of
 * @ns/syscalls). `controller` is the controller whose directory holds `file` on v1 (`cpuacct`,
 * `net_cls` ...) or the v2 controller the file belongs to (`cgroup` for core files).
 */
export interface CgroupWrite {
  /** 1 for a v1 hierarchy file, 2 for a cgroup2 file. */
  version: 1 | 2;
  controller: string;
  /** File name inside the cgroup directory (`memory.limit_in_bytes`). */
  file: string;
  /** The exact text written, in one write(2). */
  value: string;
  /** The config field this write comes from (`linux.resources.memory.limit`). */
  jsonPath: string;
  /** When `file` does not exist, write this instead (`io.bfq.weight` -> `io.weight`). */
  fallback?: { file: string; value: string };
  /** When neither file exists, skip the write: the host honours the field anyway (swap `max` without swap accounting). */
  optional?: true;
  /** On EINVAL, retry once after the other writes (cpu period before quota, runc's order). */
  retryOnEINVAL?: true;
  /**
   * Read the file back after a write of a finite limit: still unlimited means the kernel took
   * the write and ignores it (memory.kmem.limit_in_bytes since Linux 5.16), refused then.
   */
  verifyLimit?: true;
}

/** A check `apply` makes before its writes (`memory.checkBeforeUpdate` on v2). */
export interface CgroupCheck {
  kind: 'memoryUsageBelow';
  /** Bytes the new memory (+ swap) limit allows. */
  limit: number;
  /** Also count swap usage (memory.swap.current). */
  withSwap: boolean;
  jsonPath: string;
}
