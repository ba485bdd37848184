/**
 * Fault injection, for tests only: kill the creating Node process at a chosen point of a
 * container's set-up, to prove that nothing is left behind (test/faults.int.test.ts, issue 15).
 *
 * With `NODE_ENV=test` and `NS_TEST_FAULT_AT=<n>` in this process's environment when this
 * module loads, the plan of every exec() gets a sync step before its step `n` (`n` past the
 * end: before none); when the child reaches it, the parent's handler SIGKILLs the parent
 * itself, the way an OOM killer or `kill -9` would end a Node server mid-start. Without both
 * variables plans are untouched.
 * The child is then ended by its parent-death signal (PR_SET_PDEATHSIG SIGKILL, armed first).
 */
import type { Plan } from '@ns/syscalls';
import { registerSyncHandler } from './sync.js';

/** The name of the sync step a fault point inserts. */
export const FAULT_SYNC = 'test-fault';

/** The step index to fail before, or null when fault injection is off (not a test, or unset). */
export function faultPoint(env: NodeJS.ProcessEnv = process.env): number | null {
  if (env.NODE_ENV !== 'test' || env.NS_TEST_FAULT_AT === undefined) return null;
  const n = Number(env.NS_TEST_FAULT_AT);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/**
 * `plan` with the fault sync step inserted before step {@link faultPoint} (a new object: plans
 * are cached and frozen), or `plan` itself when fault injection is off.
 */
export function withFaultPoint(plan: Plan, env: NodeJS.ProcessEnv = process.env): Plan {
  const at = faultPoint(env);
  if (at === null || at > plan.steps.length) return plan;
  const steps = [...plan.steps];
  steps.splice(at, 0, { op: 'sync', name: FAULT_SYNC });
  return { ...plan, steps };
}

/** This process's fault point, read once: exec() is a hot path, the environment a C++ call. */
const FAULT_AT = faultPoint();

/** `planned` with its plan passed through {@link withFaultPoint} (itself when that changes nothing). */
export function withFault<T extends { plan: Plan }>(planned: T): T {
  if (FAULT_AT === null) return planned;
  const plan = withFaultPoint(planned.plan);
  return plan === planned.plan ? planned : { ...planned, plan };
}

registerSyncHandler(FAULT_SYNC, () => {
  process.kill(process.pid, 'SIGKILL');
});
