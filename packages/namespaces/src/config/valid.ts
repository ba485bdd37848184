/**
 * The edge of a start: a container config is checked once, made what this process will run
 * (rootless mode), and handed inward as a {@link ValidContainer}: deeply frozen, and branded so
 * that planning, exec() and the lifecycle functions can tell it was checked and never check
 * it again (nor emit its warnings twice).
 */
import { posix } from 'node:path';
import { delegatedCgroupParent } from '../plan/host.js';
import { hasCgroup, type Container } from './container.js';
import { rootlessMappings } from './idmap.js';
import { validateContainer } from './validate.js';

declare const VALID: unique symbol;

/**
 * A container config as {@link validatedContainer} returns it: validated and normalized
 * (validateContainer), with rootless mode applied (withRootless), deeply frozen. The brand
 * exists only for the type checker; at run time {@link isValidContainer} tells one apart (a
 * look-alike object is not one).
 */
export type ValidContainer = Readonly<Container> & { readonly [VALID]: true };

/** Every ValidContainer made here (a WeakSet: the brand cannot be forged by copying fields). */
const made = new WeakSet<object>();

/** True when `c` is a {@link ValidContainer} made by {@link validatedContainer}. */
export function isValidContainer(c: unknown): c is ValidContainer {
  return typeof c === 'object' && c !== null && made.has(c);
}

/** A deep copy of plain data (objects, arrays), every level frozen. */
function frozenCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = frozenCopy(value[i]);
    return Object.freeze(out) as T;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = frozenCopy((value as Record<string, unknown>)[k]);
  return Object.freeze(out) as T;
}

/**
 * Rootless mode: when this process is not root and the config has no user namespace, add
 * one mapping the caller's uid and gid to root inside (as `runc spec --rootless`).
 */
export function withRootless(c: Container): Container {
  if ((process.geteuid?.() ?? 0) === 0 || c.namespaces.some((ns) => ns.type === 'user')) return c;
  return { ...c, namespaces: [{ type: 'user' }, ...c.namespaces], ...rootlessMappings() };
}

/**
 * Rootless with a cgroup (`resources` or `cgroupsPath`): its path, unless absolute, made
 * absolute under this user's delegated cgroup v2 subtree (delegatedCgroupParent), so that the
 * later verbs find it from any process of the user. Unchanged as root or without delegation
 * (a rootless container then runs without a cgroup when it asks for no limit, and is refused
 * when it does: container/cgroup.ts).
 */
export function withRootlessCgroup(c: Container): Container {
  if ((process.geteuid?.() ?? 0) === 0 || !hasCgroup(c) || c.cgroupsPath?.startsWith('/')) return c;
  const parent = delegatedCgroupParent();
  if (parent === null) return c;
  return { ...c, cgroupsPath: posix.join(parent, c.cgroupsPath ?? `ns/${c.id}`) };
}

/**
 * The config a start runs, checked once: {@link validateContainer} (which also warns about
 * capabilities this ns or the kernel does not know, once), then {@link withRootless};
 * returned as a deeply frozen copy (`input` is left as it is). A {@link ValidContainer} is
 * returned as it is, unchecked: exec(), execAsync(), planContainer(), runContainer() and
 * createContainer() all take either, so a config validated once can be started many times.
 *
 * @throws NsError as validateContainer.
 */
export function validatedContainer(input: Container | ValidContainer): ValidContainer {
  if (isValidContainer(input)) return input;
  const out = frozenCopy(withRootlessCgroup(withRootless(validateContainer(input)))) as ValidContainer;
  made.add(out);
  return out;
}
