export * from './plan.js';
export * from './constants.js';
export { encodePlan, OP_CODES, STEP_BYTES } from './encode.js';
export * from './errors.js';
export * from './spawn.js';
export { native, SUPPORTED_PLATFORMS } from './native.js';
export type { NativeAddon, NativeSpawnResult } from './native.js';
export { describeStep, formatPlan } from './describe.js';
export { attachDeviceFilter, deviceFilterCount } from './bpf.js';
