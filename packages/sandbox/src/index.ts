// @ns/sandbox: one-shot limited runs with a verdict over @ns/namespaces and @ns/cgroups (the
// job of isolate and nsjail). One file per concern: limits (what a run may use), container
// (limits to a container config), accounting (the run's cgroup), stdio (capped capture,
// stdin), run (one run), queue (many), verdict (the status), meta (isolate's meta file).
export { DEFAULT_OUTPUT_BYTES, limitsSchema, validateLimits, type CheckedLimits, type Limits, type StdinSource } from './limits.js';
export { limitResources, sandboxContainer, type LayerOptions } from './container.js';
export { RunCgroup, type Usage } from './accounting.js';
export { CappedCapture, planStdin, type StdinPlan } from './stdio.js';
export { DEFAULT_CGROUP_PARENT, run, type RunOptions } from './run.js';
export { createSandboxPool, type SandboxPool, type SandboxPoolOptions, type SandboxRunInput } from './pool.js';
export { SandboxQueue, runMany, type Job } from './queue.js';
export { decideStatus, failedVerdict, signalNumberOf, type KillReason, type Measured, type Status, type Verdict } from './verdict.js';
export { formatMeta, isolateStatus, parseMeta, writeMeta } from './meta.js';
