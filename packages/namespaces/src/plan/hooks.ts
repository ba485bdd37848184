/**
 * The plan's part of the OCI hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md
 * "Lifecycle"): the `hooks` sync step at which the parent runs `prestart` and `createRuntime`,
 * and the `hook` steps by which ns-init runs `createContainer` and `startContainer` inside the
 * container's namespaces. What each hook gets (argv, environment, the state JSON, its timeout,
 * where it starts) is decided here; ns-init forks, execs and waits (HookStep, @ns/syscalls).
 *
 * Where they run, as runc does (libcontainer/rootfs_linux.go prepareRootfs,
 * standard_init_linux.go Init):
 * - `createContainer`, after `createRuntime` and before pivot_root, in every namespace of the
 *   container, as root there, with the full capabilities of the set-up: its root is the host's
 *   root as the container's mount namespace has it (the path resolves there), and its working
 *   directory the rootfs's host path, where the container's root is bound with its mounts made
 *   (runc binds the rootfs onto itself; plan/mounttree.ts): what a hook mounts there reaches the
 *   container. The hostname is not set yet (runc sets it after this too).
 * - `startContainer`, after `start` (after the exec FIFO is read) and just before the program's
 *   execve: in the container's root, as the container's user with its capabilities (and a
 *   seccomp filter without noNewPrivileges, which goes in before the capabilities), in its
 *   working directory. Without `env` it gets the program's environment (runc's de facto
 *   behaviour); the path resolves in the container.
 * Both get the state (`creating`, `created`) with the host's pid of the container's process on
 * stdin, and their stdout and stderr are the container's stderr (runc keeps them for its error
 * message). A failure fails the start: `ERR_NS_HOOK` naming `hooks.createContainer[0]`.
 */
import { accessSync, constants } from 'node:fs';
import { ErrorCode, NsError, type HookStep, type Step } from '@ns/syscalls';
import type { Container, ContainerHooks, Hook, HookKind } from '../config/container.js';
import { STAGE } from './rootfs.js';

/** The sync step at which the parent runs `prestart` and `createRuntime` hooks (container/hooks.ts). */
export const HOOKS_SYNC = 'hooks';

/** Whether `hooks` has any of `kinds`. */
export function hasHooks(hooks: ContainerHooks | undefined, ...kinds: HookKind[]): boolean {
  return hooks !== undefined && kinds.some((k) => (hooks[k]?.length ?? 0) > 0);
}

/** The state a hook reads on its stdin (runtime.md "State"). */
export interface HookState {
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  /** The container process's pid as this runtime sees it; 0 once it is gone. */
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** The state of `c` for its hooks; `bundle` is the working directory when `c` has none. */
export function hookState(c: Pick<Container, 'id' | 'bundle' | 'annotations'>, status: HookState['status'], pid: number): HookState {
  let bundle = c.bundle;
  if (bundle === undefined) {
    try {
      bundle = process.cwd();
    } catch {
      bundle = '/';
    }
  }
  return { id: c.id, status, pid, bundle, ...(c.annotations ? { annotations: c.annotations } : {}) };
}

/** The state as JSON (runtime.md "State"): `pid` only while there is one. */
export function stateJson(s: HookState): string {
  const [head, tail] = stateJsonParts(s);
  return s.pid > 0 ? `${head}${s.pid}${tail}` : `${head.slice(0, -',"pid":'.length)}${tail}`;
}

/**
 * The state JSON split where the pid goes, for a `hook` step (ns-init writes the pid its parent
 * saw between the two): `{"ociVersion":..,"id":..,"status":..,"pid":` and `,"bundle":..}`.
 */
export function stateJsonParts(s: HookState): [string, string] {
  const head = JSON.stringify({ ociVersion: '1.2.0', id: s.id, status: s.status });
  const tail = JSON.stringify({ bundle: s.bundle, ...(s.annotations && Object.keys(s.annotations).length > 0 ? { annotations: s.annotations } : {}) });
  return [`${head.slice(0, -1)},"pid":`, `,${tail.slice(1)}`];
}

/** A hook's argv: `args` when given (argv[0] first), else its path alone. */
export function hookArgv(hook: Hook): string[] {
  return hook.args !== undefined && hook.args.length > 0 ? [...hook.args] : [hook.path];
}

/**
 * The `hooks` sync step, when there is a hook to run before pivot_root or one that needs the
 * container process's pid in its state: the parent runs `prestart` and `createRuntime` there,
 * and tells ns-init the pid (after the namespaces are joined: the pid of the process that runs
 * on). Before it, the paths of `createContainer` hooks are checked (checkCreateContainerPaths).
 */
export function hookSyncSteps(c: Pick<Container, 'hooks'>): Step[] {
  return hasHooks(c.hooks, 'prestart', 'createRuntime', 'createContainer', 'startContainer') ? [{ op: 'sync', name: HOOKS_SYNC }] : [];
}

/** A hook step of `kind`, `index` (timeout in ms; stdout and stderr to the container's stderr). */
function hookStep(kind: 'createContainer' | 'startContainer', index: number, hook: Hook, state: HookState, env: readonly string[], where: { cwd: string | null; root: string | null }): HookStep {
  return {
    op: 'hook',
    path: hook.path,
    argv: hookArgv(hook),
    envp: [...env],
    state: stateJsonParts(state),
    timeout: (hook.timeout ?? 0) * 1000,
    cwd: where.cwd,
    root: where.root,
    output: 2,
    field: `hooks.${kind}[${index}]`,
  };
}

/**
 * The `createContainer` hook steps, run after the `hooks` sync step and before pivot_root (or the
 * chroot into the rootfs): with a mount namespace of the container's own, each starts in the
 * container's root under the staging (`/newroot`) with the host's root as the container's mount
 * namespace has it (`/oldroot`) as its root; without one, in the rootfs with the caller's root
 * (none when a mount namespace is joined). Each gets exactly its `env` (none when absent).
 *
 * @param ownMount whether the container has a mount namespace of its own (the staging exists)
 */
export function createContainerSteps(c: Pick<Container, 'hooks' | 'id' | 'bundle' | 'annotations' | 'rootfs'>, ownMount: boolean, joinedMount: boolean): HookStep[] {
  const state = hookState(c, 'creating', 0);
  const where = ownMount ? { cwd: STAGE.newRoot, root: STAGE.oldRoot } : { cwd: joinedMount ? null : c.rootfs ?? null, root: null };
  return (c.hooks?.createContainer ?? []).map((hook, i) => hookStep('createContainer', i, hook, state, hook.env ?? [], where));
}

/**
 * The `startContainer` hook steps, run right before the program's execve (after the exec FIFO
 * for a created container), in its root, working directory, user and capabilities. Each gets
 * its `env`, or else `programEnv` (as runc).
 */
export function startContainerSteps(c: Pick<Container, 'hooks' | 'id' | 'bundle' | 'annotations'>, programEnv: readonly string[]): HookStep[] {
  const state = hookState(c, 'created', 0);
  return (c.hooks?.startContainer ?? []).map((hook, i) => hookStep('startContainer', i, hook, state, hook.env ?? programEnv, { cwd: null, root: null }));
}

/**
 * `execCheck` steps for the `startContainer` hooks' paths, so that a missing one fails the start
 * before any hook runs (a created container: at create). `where` maps a path of the container
 * to where the set-up process finds it at that point (under the staged new root, before
 * prestart); the error names the hook's own path.
 */
export function startContainerCheckSteps(c: Pick<Container, 'hooks'>, where: (path: string) => string = (p) => p): Step[] {
  return (c.hooks?.startContainer ?? []).map((hook, i) => ({ op: 'execCheck', paths: [where(hook.path)], displayPath: hook.path, field: `hooks.startContainer[${i}]` }));
}

/**
 * The `createContainer` hooks' paths resolve in the host's root, as the container's mount
 * namespace has it (a copy of the caller's): each must be executable there, checked before
 * anything is made (access(2) X_OK).
 * @throws NsError `ERR_NS_HOOK` naming the hook: `hooks.createContainer[0] (/x): cannot be run: ENOENT`.
 */
export function checkCreateContainerPaths(c: Pick<Container, 'hooks'>): void {
  (c.hooks?.createContainer ?? []).forEach((hook, i) => {
    try {
      accessSync(hook.path, constants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EACCES';
      throw new NsError(ErrorCode.HOOK, `hooks.createContainer[${i}] (${hook.path}): cannot be run: ${code}`, { path: hook.path, cause: err });
    }
  });
}

/**
 * Milliseconds the set-up's hooks may take by their `timeout`s (prestart, createRuntime,
 * createContainer, and startContainer unless the process detaches before them), added to the
 * default set-up deadline so that a hook is stopped by its own timeout, not by that deadline.
 * A hook without a timeout adds nothing (the deadline still holds for it).
 */
export function hookSetupMs(c: Pick<Container, 'hooks'>, detached: boolean): number {
  const kinds: HookKind[] = ['prestart', 'createRuntime', 'createContainer', ...(detached ? [] : ['startContainer' as const])];
  return kinds.reduce((ms, k) => ms + (c.hooks?.[k] ?? []).reduce((n, h) => n + (h.timeout ?? 0) * 1000, 0), 0);
}
