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
export { STAGE, commandCandidates, planContainer, type ContainerPlan, type PlanIo } from './plan.js';
export { exec, type ExecOptions, type StdioEntry } from './exec.js';
export { ContainerProcess, signalName, signalNumber, type ContainerExit, type ContainerTerminal } from './process.js';
export * from './oci.js';
export * from './user.js';
export * from './path.js';
export { NsError, ErrorCode, formatPlan, describeStep } from '@ns/syscalls';
