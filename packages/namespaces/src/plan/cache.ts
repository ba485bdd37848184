/**
 * exec()'s plan cache: a config started again (under any id) reuses its plan while every host
 * read its planning made still has the same answer.
 */
import type { Plan, Step } from '@ns/syscalls';
import type { Container } from '../config/container.js';
import { validatedContainer, type ValidContainer } from '../config/valid.js';
import { checkCreateContainerPaths, hasHooks, hookState } from './hooks.js';
import { cgroupFsNeedsId } from './cgroupfs.js';
import { isOwnConsole } from './console.js';
import { sessionKeyringName } from './keyring.js';
import { HostReads, stillTrue, type HostRead } from './hostreads.js';
import { planValidated, type ContainerPlan, type IdMaps, type PlanIo } from './index.js';
import { stdioOwnerSteps, stdioSteps, type StdioOwner } from './process.js';
import type { ResolvedUser } from './user.js';

/** A plan kept by {@link planContainerCached}: its steps around the stdio ones, and what planning read. */
interface CachedPlan {
  head: readonly Step[];
  rest: readonly Step[];
  cloneFlags: number;
  user: ResolvedUser;
  stdioOwner: StdioOwner;
  env: string[];
  idMaps?: IdMaps;
  reads: readonly HostRead[];
}

/** The config part of a cache key, per ValidContainer (frozen: it cannot change), so one started again is not serialized again. */
const configKeys = new WeakMap<ValidContainer, string>();

/** Plans by config, most recently used last; at most {@link PLAN_CACHE_SIZE}. */
const planCache = new Map<string, CachedPlan>();
const PLAN_CACHE_SIZE = 32;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * planContainer for exec(): the same plan, reused when the same config (any `id`) is started
 * again and every host read its planning made (rootfs lookups, bind sources, user files ...)
 * still has the same answer; those reads are made again each time, the rest of planning is
 * not. What the plan takes from the process (euid, egid) and from `io` is part of the key;
 * the stdio steps (and the fchown(2) of the stdio pipes, which depends on what they are) are
 * made per call. The cached steps are frozen. A ValidContainer is not
 * validated again.
 * @internal shared by exec() and execAsync(); throws as {@link planContainer}.
 */
export function planContainerCached(input: Container | ValidContainer, io: PlanIo = { stdio: [0, 1, 2] }): ContainerPlan {
  const container = validatedContainer(input);
  let configKey = configKeys.get(container);
  if (configKey === undefined) {
    // The id when the plan carries it: hooks run by ns-init get the state JSON (the id, the
    // bundle) in the plan itself; the container's default cgroup path names it (cgroupfs.ts).
    const own = hasHooks(container.hooks, 'createContainer', 'startContainer');
    const id = own || cgroupFsNeedsId(container) ? container.id : '';
    configKey = JSON.stringify({ ...container, id, ...(own ? { bundle: hookState(container, 'creating', 0).bundle } : {}) }, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    configKeys.set(container, configKey);
  }
  const key = `${configKey}\0${JSON.stringify([consoleKey(io), io.console ? -1 - io.stdio.length : io.stdio.length, io.startFifoFd ?? null, process.geteuid?.() ?? 0, process.getegid?.() ?? 0])}`;
  const hit = planCache.get(key);
  if (hit) {
    checkCreateContainerPaths(container); // made again each time, as a host read

    planCache.delete(key);
    if (stillTrue(hit.reads)) {
      planCache.set(key, hit);
      const stdio = [...stdioSteps(io), ...stdioOwnerSteps(io, hit.stdioOwner)];
      // The session keyring is named after the container: this one's, not the cached config's.
      const named = (s: Step): Step => (s.op === 'joinSessionKeyring' ? { ...s, name: sessionKeyringName(container.id) } : s);
      const plan: Plan = { cloneFlags: hit.cloneFlags, steps: [...hit.head.map(named), ...stdio, ...hit.rest.map(named)] };
      if (io.parentDeathSignal !== undefined) plan.parentDeathSignal = io.parentDeathSignal;
      const stdioAt = hit.head.length;
      const out: ContainerPlan = { container, plan, user: hit.user, env: hit.env, stdioAt, stdioEnd: stdioAt + stdio.length, stdioOwner: hit.stdioOwner };
      if (hit.idMaps) out.idMaps = hit.idMaps;
      return out;
    }
  }
  const reads = new HostReads();
  const planned = planValidated(container, io, reads);
  const entry: CachedPlan = {
    head: deepFreeze(planned.plan.steps.slice(0, planned.stdioAt)),
    rest: deepFreeze(planned.plan.steps.slice(planned.stdioEnd)),
    cloneFlags: planned.plan.cloneFlags,
    user: deepFreeze(planned.user),
    stdioOwner: deepFreeze(planned.stdioOwner),
    env: deepFreeze(planned.env),
    reads: reads.log,
  };
  if (planned.idMaps) entry.idMaps = deepFreeze(planned.idMaps);
  planCache.set(key, entry);
  if (planCache.size > PLAN_CACHE_SIZE) planCache.delete(planCache.keys().next().value!);
  return planned;
}

/** What of the console a plan depends on: the host pty's path, or the size of the container's own. */
function consoleKey(io: PlanIo): string | null {
  if (!io.console) return null;
  return isOwnConsole(io.console) ? `own ${io.console.cols}x${io.console.rows}` : io.console.path;
}

/** Forget every plan {@link planContainerCached} kept (tests). @internal */
export function clearPlanCache(): void {
  planCache.clear();
}
