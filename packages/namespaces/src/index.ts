// @ns/namespaces: Linux containers from Node.js. Folders by stage: config/ (what a container
// is, its checks, config.json), plan/ (config to plan of system calls), process/ (spawning it,
// stdio, sync handlers, the process handle), container/ (state and the runc-like lifecycle).

// config/
export {
  CONTAINER_ID,
  CONTAINER_ID_RULE,
  NAMESPACE_TYPES,
  hasCgroup,
  type Container,
  type MountConfig,
  type NamespaceConfig,
  type NamespaceType,
} from './config/container.js';
export {
  DEFAULT_MASKED_PATHS,
  DEFAULT_MOUNTS,
  DEFAULT_NAMESPACES,
  DEFAULT_PATH,
  DEFAULT_READONLY_PATHS,
  HOST_SANDBOX_MASKED_PATHS,
  HOST_SANDBOX_PATHS,
  embeddedDefault,
  generateId,
  rootfsContainer,
} from './config/defaults.js';
export { RLIMIT_BY_NAME, rlimitValue, validateContainer } from './config/validate.js';
export { isValidContainer, validatedContainer, withRootless, type ValidContainer } from './config/valid.js';
export { parseMountOptions, parsePropagation, type ParsedMountOptions } from './config/mountopts.js';
export { checkProcessAttributes, processAttributesOf, type IoPriority, type Personality, type Scheduler } from './config/process-attrs.js';
export { checkIdMappings, formatIdMap, mapToHost, rootlessMappings, setgroupsAllowed, type IdMapping } from './config/idmap.js';
export {
  UNKNOWN_CAPABILITY_WARNING,
  adjustCapabilities,
  applyCapabilities,
  capabilityProblem,
  changeCapabilities,
  ownBoundingSet,
} from './config/capabilities.js';
export { addProcessCapabilities } from './config/process-capabilities.js';
export { checkNetworkNamespace } from './config/network.js';
export { dedupEnv } from './config/env.js';
export { OCI_NAMESPACE_TYPES, fromOciSpec, loadOciSpec, ociSpecSchema, parseOciSpec, type OciSpec, type OciSpecSchema } from './config/oci.js';
export { ociWarnings } from './config/oci-warnings.js';
export { defaultOciSpec } from './config/oci-default.js';
export { containerFromBundle } from './config/bundle.js';

// plan/
export {
  STAGE,
  capabilitySetsOf,
  commandCandidates,
  planContainer,
  processSteps,
  stdioSteps,
  stdioOwners,
  stdioOwnerSteps,
  type StdioOwner,
  type ContainerPlan,
  type IdMaps,
  type PlanIo,
  type ProcessConfig,
} from './plan/index.js';
export * from './plan/user.js';
export * from './plan/path.js';

// process/
export { exec, execAsync, type ExecOptions, type StdioEntry } from './process/exec.js';
export { execIn, execInAsync, type ExecInOptions, type ExecInProcess } from './process/execin.js';
export { createPool, type Pool, type PoolExecOptions, type PoolOptions, type PoolRun } from './process/pool.js';
export { POOL_FDS, poolMemberPlan, runDefaults, runRecordOf, runStdioEntries, type RunDefaults, type RunStdio, type RunStdioEntry } from './plan/pool.js';
export { writeIdMaps } from './process/idmap.js';
export { ContainerProcess, signalName, signalNumber, type ContainerExit, type ContainerTerminal, type ExitHook } from './process/process.js';

// container/
export {
  OCI_VERSION,
  StateStore,
  currentStatus,
  defaultStateRoot,
  isAlive,
  notRunningError,
  ociState,
  processStartTime,
  type ContainerState,
  type ContainerStatus,
} from './container/state.js';
export {
  containerPids,
  containerProcesses,
  createContainer,
  deleteContainer,
  execFifoPath,
  killContainer,
  listContainers,
  runContainer,
  startContainer,
  startCreatedContainer,
  type ContainerProcessInfo,
  type StartOptions,
} from './container/lifecycle.js';
export { containerStats, pauseContainer, resumeContainer, updateContainer } from './container/control.js';
export { containerCgroupPath, createContainerCgroup, hasLimits, hostCgroupLayout, openContainerCgroup } from './container/cgroup.js';
export { claimCgroup, claimsDir, sweepOrphanCgroups } from './container/orphans.js';
export type { CgroupStats, LinuxResources, OomWatch } from '@ns/cgroups';
export { watchOomV1 } from '@ns/cgroups';

export { NsError, ErrorCode, formatPlan, describeStep } from '@ns/syscalls';
export { checkSeccomp, loadSeccompProfile, type SeccompConfig } from './config/seccomp.js';
export { resolveSeccomp, seccompStep } from './plan/seccomp.js';
export { checkSeccompListener, sendSeccompListener, type ContainerProcessState, type ListenerState } from './container/seccomp-listener.js';
export type { LinuxSeccomp } from '@ns/seccomp';
export { runtimeFeatures, type RuntimeFeatures } from './features.js';
export { DEFAULT_BRIDGE, IPAM_DIR, allocateAddress, checkSubnetFree, hostRoutes, hostVethName, recordOwner, releaseAddress, setupBridge, subnetOf, teardownBridge, type BridgeAttachment, type BridgeConfig } from './net/bridge.js';
export * as rtnetlink from './net/rtnetlink.js';
