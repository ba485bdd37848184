/**
 * Parent-side sync handlers: what the parent does at a plan's `sync` step while the child
 * waits (write the id maps now; place the process in a cgroup, run hooks, set up the network
 * next). The planner emits `{ op: 'sync', name }`; launch() looks the name up here and calls
 * its handler with the waiting process's pid and the container's context. A new concern adds
 * a handler and its sync step, not a branch in exec().
 *
 * A handler may register cleanups, run (newest first) when the start fails after its step: a
 * later step, a later handler, or spawn() itself (the child is killed and reaped by then), so
 * that e.g. a cgroup made for the process can be removed again.
 */
import type { Cgroup } from '@ns/cgroups';
import { NsError, type OpenConsoleStep, type Plan, type SeccompNotifyStep, type SyncStep } from '@ns/syscalls';
import type { ListenerStateOf } from '../container/seccomp-listener.js';
import type { ExitHook } from './process.js';
import type { Container } from '../config/container.js';
import type { IdMaps } from '../plan/index.js';
import { IDMAP_SYNC } from '../plan/namespaces.js';
import type { ResolvedUser } from '../plan/user.js';
import { writeIdMaps } from './idmap.js';

/** What a sync handler is called with. */
export interface SyncContext {
  /**
   * Pid (in this process's pid namespace) of the process waiting at the step: after a
   * `cloneParent` step, the new process.
   */
  readonly pid: number;
  /** The sync step (its `name` chose the handler) and its index in the plan. */
  readonly step: SyncStep | SeccompNotifyStep | OpenConsoleStep;
  readonly index: number;
  /**
   * At a `seccompNotify` step: the listener's descriptor number in the waiting process; at an
   * `openConsole` step the console master's; else 0.
   */
  readonly value: number;
  /**
   * The child was born in the cgroup a clone handler gave it (clone3 CLONE_INTO_CGROUP): it
   * need not be moved there. False otherwise (no clone handler, or a kernel that could not).
   */
  readonly intoCgroup: boolean;
  /**
   * What this start's handlers keep between a step's clone handler and its sync handler
   * (one map per start, keyed by the step's name).
   */
  readonly shared: Map<string, unknown>;
  /**
   * For a process joined to a running container (execIn()): that container's OCI state for
   * the seccomp agent (see container/seccomp-listener.ts); undefined when a container starts.
   */
  readonly ociState?: ListenerStateOf | undefined;
  /** The container being started (validated), or for execIn() the running container's config. */
  readonly container: Readonly<Container>;
  /** The plan being run and what planning resolved for it. */
  readonly plan: Plan;
  readonly user: ResolvedUser;
  /** With a new user namespace: its uid and gid maps. */
  readonly idMaps?: IdMaps | undefined;
  /**
   * Run `cleanup` when the start fails after this step (synchronously, newest first; an error
   * it throws is ignored: the start's own error is what the caller gets).
   */
  onFailure(cleanup: () => void): void;
  /**
   * When the start fails after this step: `explain` gets its error before the onFailure
   * cleanups run (what it made is still there to read) and returns a clearer one for it, or
   * undefined to leave it (the cgroup's: a set-up killed for want of memory names the limit).
   */
  explainFailure(explain: (err: unknown) => unknown): void;
  /**
   * Run `hook` once the started process has exited, before its handle's `'exit'` and wait():
   * the fields it returns go into the exit (`oomKilled`). Runs in this process only: for a
   * detached container whose starter is gone, `delete` does the same work.
   */
  onExit(hook: ExitHook): void;
  /**
   * Run `cleanup` if the started process's handle is released (its exit is then never seen
   * here, and the onExit hooks never run): for what an onExit hook would have closed.
   */
  onRelease(cleanup: () => void): void;
  /** Give the started process's handle the container's cgroup (stats, pause, resume, update). */
  setCgroup(cgroup: Cgroup): void;
  /**
   * Hand over the master of the console the container made (a descriptor of this process's,
   * which the start then owns: sent to the console socket and closed, or kept for the
   * process's terminal streams). Absent where no console is made (execIn()).
   */
  takeConsole?(master: number): void;
  /**
   * True when a lifecycle operation (runContainer(), createContainer()) starts the container
   * and records it in a state file, which `delete` cleans up after; false for exec() alone.
   */
  readonly lifecycle: boolean;
}

/**
 * The ExecOptions key by which runContainer() and createContainer() tell exec() that they
 * record the container's state ({@link SyncContext.lifecycle}).
 * @internal
 */
export const LIFECYCLE: unique symbol = Symbol('ns.lifecycle');

/**
 * The ExecOptions key by which execIn() gives the running container's state to the sync
 * handlers ({@link SyncContext.ociState}).
 * @internal
 */
export const OCI_STATE: unique symbol = Symbol('ns.ociState');

/** Does the parent's part of a sync step; throwing fails the start (the child is killed and reaped). */
export type SyncHandler = (context: SyncContext) => void;

/**
 * A clone handler: the part of the plan's first sync step done before the clone, with no child
 * yet. It may return a cgroup v2 directory's descriptor to clone the child into
 * (SpawnOptions.cgroupFd; closed by the caller once the clone is made); the sync handler then
 * reads `intoCgroup`. Throwing fails the start before anything is spawned (its onFailure
 * cleanups run).
 */
export type CloneHandler = (context: Omit<SyncContext, 'pid' | 'step' | 'index' | 'value' | 'intoCgroup'>) => { cgroupFd: number } | void;

const handlers = new Map<string, SyncHandler>();
const cloneHandlers = new Map<string, CloneHandler>();

/**
 * Register the clone handler of the sync steps named `name` (see CloneHandler): called only
 * when such a step is the plan's first.
 * @throws Error when `name` has a clone handler already
 * @internal
 */
export function registerCloneHandler(name: string, handler: CloneHandler): void {
  if (cloneHandlers.has(name)) throw new Error(`sync step ${JSON.stringify(name)} has a clone handler already`);
  cloneHandlers.set(name, handler);
}

/** The clone handler of a sync step, if it has one. @internal */
export function cloneHandler(name: string): CloneHandler | undefined {
  return cloneHandlers.get(name);
}

/**
 * Register the handler of the sync steps named `name`.
 * @throws Error when `name` has a handler already (two concerns must not share a step).
 * @internal for the concerns of @ns/namespaces (id maps now; cgroups, hooks, network next)
 */
export function registerSyncHandler(name: string, handler: SyncHandler): void {
  if (handlers.has(name)) throw new Error(`sync step ${JSON.stringify(name)} has a handler already`);
  handlers.set(name, handler);
}

/**
 * The handler of a sync step.
 * @throws NsError `ERR_NS_CONFIG` for a step no handler is registered for (the child is not
 *   let go without what its plan waits for).
 */
export function syncHandler(name: string): SyncHandler {
  const handler = handlers.get(name);
  if (handler === undefined) throw new NsError('ERR_NS_CONFIG', `sync step ${JSON.stringify(name)}: no handler is registered for it`);
  return handler;
}

// The parent writes uid_map and gid_map of a new user namespace (plan/namespaces.ts).
registerSyncHandler(IDMAP_SYNC, ({ pid, idMaps }) => {
  if (!idMaps) throw new NsError('ERR_NS_CONFIG', `sync step ${JSON.stringify(IDMAP_SYNC)}: the plan has no id maps`);
  writeIdMaps(pid, idMaps.uidMappings, idMaps.gidMappings);
});
