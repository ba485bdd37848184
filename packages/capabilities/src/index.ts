export { CAPABILITIES, CAP_LAST_KNOWN, CAP_SET_BITS, type Capability, type CapabilityName } from './table.js';
export { CapabilityError, ERR_NS_CONFIG } from './errors.js';
export { parseCapability, formatCapability, isCapabilityName, checkCapabilityNumber } from './parse.js';
export {
  ALL_BITS_MASK,
  toMask,
  fromMask,
  fullMask,
  parseHexMask,
  formatHexMask,
  readLastCap,
  readProcessCapabilities,
  parseStatusCapabilities,
  type ProcessCapabilities,
} from './set.js';
export { DEFAULT_CAPABILITIES, SEED_DROP_CAPABILITIES } from './defaults.js';
export {
  PR_SET_KEEPCAPS,
  PR_CAPBSET_DROP,
  resolveKeptCapabilities,
  dropCapabilitiesSteps,
  keepCapsStep,
  type CapbsetDropStep,
  type CapsetStep,
  type PrctlStep,
  type CapabilityStep,
} from './plan.js';
export * from './process.js';
