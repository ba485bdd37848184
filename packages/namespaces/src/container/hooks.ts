/**
 * OCI lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle"):
 * programs the runtime runs at points of a container's life, each with the container's state
 * as JSON on its stdin.
 *
 * - `prestart` (deprecated) and `createRuntime`: after the namespaces are made and the id maps
 *   written, before pivot_root, in the runtime's namespaces: a `hooks` sync step of the plan
 *   (plan/mounttree.ts), run by this process while the container's set-up waits. A failing
 *   one fails the start, and the container is taken down (runtime.md: "the runtime MUST
 *   generate an error, stop the container").
 * - `poststart`: after the program has started (run: once it runs; create: at start);
 *   `poststop`: after the container is deleted (run: once it has exited). A failing one is a
 *   warning (`process.emitWarning`, code `NS_HOOK_FAILED`), the rest still run.
 * - `createContainer` and `startContainer` run inside the container's namespaces, by ns-init
 *   (`hook` steps of the plan: plan/hooks.ts); a failing one fails the start.
 */
import { spawnSync } from 'node:child_process';
import { ErrorCode, NsError } from '@ns/syscalls';
import type { Container, ContainerHooks, Hook, HookKind } from '../config/container.js';
import { HOOKS_SYNC, hasHooks, hookArgv, hookState, stateJson, type HookState } from '../plan/hooks.js';
import { registerSyncHandler } from '../process/sync.js';

export { hasHooks, hookState, type HookState } from '../plan/hooks.js';

/** The warning code of a poststart or poststop hook that failed. */
export const HOOK_WARNING = 'NS_HOOK_FAILED';

/**
 * Run one hook: `path` with `args` (argv, `args[0]` as argv[0]; `[path]` when absent), exactly
 * the environment `env` (none when absent, as runc), the state on stdin, killed with SIGKILL
 * after `timeout` seconds. Blocks until it ends (hooks are rare and short; runc waits the same).
 * @param cwd its working directory (default this process's, as runc's hooks inherit runc's)
 * @throws NsError `ERR_NS_HOOK` naming `field` (`hooks.prestart[0]`), the path and why: not
 *   executable (the errno), a non-zero exit status or signal (with the end of its stderr), or
 *   the timeout.
 */
export function runHook(field: string, hook: Hook, state: HookState, cwd?: string): void {
  const env: Record<string, string> = {};
  for (const e of hook.env ?? []) {
    const eq = e.indexOf('=');
    env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const argv = hookArgv(hook);
  const r = spawnSync(hook.path, argv.slice(1), {
    argv0: argv[0]!,
    env,
    input: stateJson(state),
    stdio: ['pipe', 'ignore', 'pipe'],
    ...(hook.timeout !== undefined ? { timeout: hook.timeout * 1000 } : {}),
    killSignal: 'SIGKILL',
    maxBuffer: 1 << 20,
    ...(cwd !== undefined ? { cwd } : {}),
  });
  const what = `${field} (${hook.path})`;
  // A hook that does not read the state ends before it is written: EPIPE on its stdin is no
  // failure (Go's os/exec, hence runc, ignores it too); its exit status says how it went.
  const epipe = (r.error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' && (r.status !== null || r.signal !== null);
  if (r.error !== undefined && !epipe) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') throw new NsError(ErrorCode.HOOK, `${what}: did not finish within its timeout of ${hook.timeout} s and was killed`, { path: hook.path });
    throw new NsError(ErrorCode.HOOK, `${what}: cannot be run: ${code ?? r.error.message}`, { path: hook.path, cause: r.error });
  }
  if (r.status !== 0) {
    const err = String(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    const how = r.signal !== null ? `was killed by ${r.signal}` : `exited with status ${r.status}`;
    throw new NsError(ErrorCode.HOOK, `${what}: ${how}${err ? `: ${err}` : ''}`, { path: hook.path });
  }
}

/**
 * Run the hooks of `kinds` in order (runtime.md: "hooks MUST be called in the listed order").
 * @throws NsError `ERR_NS_HOOK` at the first that fails (see {@link runHook}); the rest do not run.
 */
export function runHooks(hooks: ContainerHooks | undefined, kinds: HookKind[], state: HookState): void {
  for (const kind of kinds) {
    (hooks?.[kind] ?? []).forEach((hook, i) => runHook(`hooks.${kind}[${i}]`, hook, state));
  }
}

/**
 * Run the hooks of `kind` where the spec says a failure is only a warning (poststart,
 * poststop): each one, whatever the others did; a failure goes to `process.emitWarning`
 * (code {@link HOOK_WARNING}), never to the container's stdio.
 * @param cwd the working directory they run in (default this process's, as runc's hooks
 *   inherit runc's: a warm `ns serve` gives the caller's)
 */
export function runHooksWarning(hooks: ContainerHooks | undefined, kind: 'poststart' | 'poststop', state: HookState, cwd?: string): void {
  (hooks?.[kind] ?? []).forEach((hook, i) => {
    try {
      runHook(`hooks.${kind}[${i}]`, hook, state, cwd);
    } catch (err) {
      process.emitWarning((err as Error).message, { code: HOOK_WARNING });
    }
  });
}

/**
 * exec() and execAsync() alone have no start or delete to run `poststart` and `poststop` at:
 * refuse them there (runContainer(), createContainer() and deleteContainer() run them).
 * @throws NsError `ERR_NS_CONFIG` naming the first such hook list.
 */
export function refuseLifecycleHooks(c: Pick<Container, 'hooks'>): void {
  for (const kind of ['poststart', 'poststop'] as const) {
    if (hasHooks(c.hooks, kind)) {
      throw new NsError(ErrorCode.CONFIG, `hooks.${kind}: run by the lifecycle operations (runContainer(), createContainer() and startCreatedContainer(), deleteContainer()), not by exec() alone`, { path: `hooks.${kind}` });
    }
  }
}

/** `c` without its poststart and poststop hooks, which the lifecycle operation runs itself. */
export function withoutLifecycleHooks<T extends Pick<Container, 'hooks'>>(c: T): T {
  if (!hasHooks(c.hooks, 'poststart', 'poststop')) return c;
  const { poststart: _start, poststop: _stop, ...rest } = c.hooks!;
  return { ...c, hooks: rest };
}

// prestart, then createRuntime, while the set-up waits before pivot_root.
registerSyncHandler(HOOKS_SYNC, ({ container, pid }) => {
  runHooks(container.hooks, ['prestart', 'createRuntime'], hookState(container, 'creating', pid));
});
