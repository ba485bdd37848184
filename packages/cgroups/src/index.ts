export { CgroupError, ERR_NS_CONFIG, ERR_NS_STATE, type CgroupErrorDetails } from './errors.js';
export type {
  CgroupCheck,
  CgroupWrite,
  LinuxBlockIO,
  LinuxCPU,
  LinuxDeviceCgroup,
  LinuxHugepageLimit,
  LinuxInterfacePriority,
  LinuxMemory,
  LinuxNetwork,
  LinuxPids,
  LinuxRdma,
  LinuxResources,
  LinuxThrottleDevice,
  LinuxWeightDevice,
} from './types.js';
export { validateResources } from './validate.js';
export {
  V1_CONTROLLERS,
  detectLayout,
  layoutFromMountInfo,
  parseMountInfo,
  parseProcCgroup,
  processCgroupDirs,
  type CgroupHierarchy,
  type CgroupLayout,
  type CgroupMode,
  type MountInfoEntry,
  type ProcCgroupEntry,
} from './layout.js';
export { allDirs, cgroupDirs, resolveCgroupPath, type CgroupDirs, type CgroupPathOptions } from './path.js';
export {
  CPU_SHARES_MAX,
  CPU_SHARES_MIN,
  blockIOV1,
  cpuV1,
  cpusetV1,
  hugetlbV1,
  memoryV1,
  networkV1,
  pidsV1,
  rdmaV1,
  toV1Writes,
} from './resources-v1.js';
export {
  convertBlkioWeightToIoWeight,
  convertCpuSharesToWeight,
  convertMemorySwapToV2,
  cpuV2,
  cpusetV2,
  hugetlbV2,
  ioV2,
  memoryChecksV2,
  memoryV2,
  networkV2,
  pidsV2,
  rdmaV2,
  toV2Writes,
  unifiedV2,
} from './resources-v2.js';
export {
  DEFAULT_DEVICE_RULES,
  DeviceEmulator,
  WILDCARD,
  accessBits,
  accessString,
  deviceRules,
  formatDeviceRule,
  v1DeviceWrites,
  type DeviceRule,
  type SourcedDeviceRule,
} from './devices.js';
export {
  BPF_CGROUP_DEVICE,
  BPF_DEVCG_ACC,
  BPF_DEVCG_DEV,
  BPF_F_ALLOW_MULTI,
  BPF_OP,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  compileDeviceFilter,
  decodeInsns,
  disassemble,
  encodeInsns,
  formatInsn,
  type BpfInsn,
  type DeviceFilter,
} from './bpf.js';
export { planResources, type CgroupPlan, type PlanOptions } from './plan.js';
export { parseKeyValues, parseLimit, readOomKills, readStats, type CgroupStats, type CpuStats, type MemoryStats, type PidsStats } from './stats.js';
export { oomProbeV1, watchOomV1, type OomProbe, type OomWatch } from './oom-events.js';
export { freeze, freezerProbes, freezerState, killAll, listPids, thaw, waitEmpty, type CgroupHandle, type FreezerState } from './lifecycle.js';
export { hostSys, parsePids, type CgroupSys } from './sys.js';
export { Cgroup, type CgroupOptions } from './manager.js';
export { ALWAYS_V1, neededHierarchies, neededV1Hierarchies, parentHierarchies, presentHierarchies, type NeededHierarchies } from './hierarchies.js';
