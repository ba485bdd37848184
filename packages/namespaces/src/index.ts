export type { Container, MountConfig, NamespaceConfig, NamespaceType } from './container.js';
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
} from './defaults.js';
export { CONTAINER_ID, RLIMIT_BY_NAME, rlimitValue, validateContainer } from './validate.js';
export { parseMountOptions, parsePropagation, type ParsedMountOptions } from './mountopts.js';
export * from './idmap.js';
export { STAGE, capabilitySetsOf, commandCandidates, planContainer, withRootless, processSteps, stdioSteps, type ContainerPlan, type PlanIo, type ProcessConfig } from './plan.js';
export { exec, execAsync, type ExecOptions, type StdioEntry } from './exec.js';
export { execIn, execInAsync, type ExecInProcess } from './execin.js';
export {
  OCI_VERSION,
  StateStore,
  currentStatus,
  defaultStateRoot,
  isAlive,
  ociState,
  processStartTime,
  type ContainerState,
  type ContainerStatus,
} from './state.js';
export {
  containerPids,
  containerProcesses,
  createContainer,
  execFifoPath,
  startCreatedContainer,
  deleteContainer,
  killContainer,
  listContainers,
  startContainer,
  type ContainerProcessInfo,
  type StartOptions,
} from './lifecycle.js';
export { ContainerProcess, signalName, signalNumber, type ContainerExit, type ContainerTerminal } from './process.js';
export * from './oci.js';
export * from './user.js';
export * from './path.js';
export { NsError, ErrorCode, formatPlan, describeStep } from '@ns/syscalls';
export { UNKNOWN_CAPABILITY_WARNING, adjustCapabilities, capabilityProblem } from './capabilities.js';
export { dedupEnv } from './env.js';
