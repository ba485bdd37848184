import { CAPABILITIES, DEFAULT_CAPABILITIES, formatCapability, isCapabilityName, parseCapability, readLastCap } from '@ns/capabilities';
import type { Container } from './container.js';
import { readUserFiles, resolveUser } from './user.js';

type Sets = NonNullable<Container['capabilitySets']>;
const SET_NAMES = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;

/**
 * The `code` of the process warning (`process.emitWarning`) validateContainer() emits for each
 * capability it leaves out of a config (see {@link knownCapabilities}).
 */
export const UNKNOWN_CAPABILITY_WARNING = 'NS_UNKNOWN_CAPABILITY';

let lastCap: number | undefined;

/**
 * Why the capability `name` cannot be applied here, or undefined when it can: a name not in
 * @ns/capabilities' table (`unknown capability "CAP_FOO"`), or one above the running kernel's
 * /proc/sys/kernel/cap_last_cap (`CAP_BPF is not known to the running kernel (cap_last_cap is
 * 38)`).
 * @param last the kernel's highest capability number; default read once from /proc
 */
export function capabilityProblem(name: string, last: number = (lastCap ??= readLastCap())): string | undefined {
  let n: number;
  try {
    n = parseCapability(name);
  } catch {
    return `unknown capability ${JSON.stringify(name)}`;
  }
  return n > last ? `${formatCapability(n)} is not known to the running kernel (cap_last_cap is ${last})` : undefined;
}

/**
 * `names` without the capabilities this ns or the running kernel does not know (see
 * {@link capabilityProblem}), as runc does ("ignoring unknown or unavailable capabilities"):
 * leaving one out grants less, never more, and a config written for a newer kernel or runtime
 * still runs. One warning per entry left out is pushed to `warnings`, naming its path:
 * `process.capabilities.bounding[2]: unknown capability "CAP_FOO", ignored`.
 * @param names capability names (strings: the caller refuses anything else first)
 * @param field the path of the list in messages (`capabilitySets.bounding`, `process.capabilities.bounding`)
 */
export function knownCapabilities(names: readonly string[], field: string, warnings: string[]): string[] {
  return names.filter((name, i) => {
    const problem = capabilityProblem(name);
    if (problem !== undefined) warnings.push(`${field}[${i}]: ${problem}, ignored`);
    return problem === undefined;
  });
}

/** True when the container's user is uid 0 (by number, or a name that maps to 0). */
function runsAsRoot(c: Container): boolean {
  const spec = c.user || '0';
  const name = spec.split(':')[0]!;
  if (/^\d+$/.test(name)) return Number(name) === 0;
  try {
    return resolveUser(spec, readUserFiles(c.rootfs)).uid === 0;
  } catch {
    return false;
  }
}

/**
 * Apply `--cap-add` / `--cap-drop` as docker and podman do: start from the container's sets
 * (`capabilitySets`, or `capabilities` kept in bounding/effective/permitted, or the default
 * allow-list), drop the `drop` names (`ALL` for every one) from every set, then add the
 * `add` names (`ALL` for every capability the kernel knows) to bounding, effective and
 * permitted. For a non-root user the added ones also go into inheritable and ambient, so the
 * process still holds them after execve(2) (as podman does; capabilities(7)).
 *
 * @returns a copy of `container` with `capabilitySets` set and the seed-style fields cleared.
 *   Names of the container's own lists that this ns does not know are kept as given (last in
 *   their set): validateContainer() leaves them out with a warning.
 * @throws CapabilityError `ERR_NS_CONFIG` naming an unknown capability in `add` or `drop`.
 */
export function adjustCapabilities(container: Container, changes: { add?: string[]; drop?: string[] }): Container {
  const base: string[] = container.capabilities ?? [...DEFAULT_CAPABILITIES];
  const sets: Record<(typeof SET_NAMES)[number], Set<string>> = {
    bounding: new Set(container.capabilitySets?.bounding ?? base),
    effective: new Set(container.capabilitySets?.effective ?? container.capabilitySets?.bounding ?? base),
    permitted: new Set(container.capabilitySets?.permitted ?? container.capabilitySets?.bounding ?? base),
    inheritable: new Set(container.capabilitySets?.inheritable ?? []),
    ambient: new Set(container.capabilitySets?.ambient ?? []),
  };
  // Names are kept in their canonical CAP_* form; one this ns does not know stays as given,
  // for validateContainer() to leave out with a warning.
  const canonical = (n: string) => (isCapabilityName(n) ? formatCapability(parseCapability(n)) : n);
  for (const s of SET_NAMES) sets[s] = new Set([...sets[s]].map(canonical));
  for (const name of container.dropCapabilities ?? []) for (const s of SET_NAMES) sets[s].delete(canonical(name));
  const expand = (names: string[]): string[] => {
    const last = readLastCap();
    return names.flatMap((n) =>
      n.toUpperCase() === 'ALL' ? CAPABILITIES.filter((c) => c.value <= last).map((c) => c.name) : [formatCapability(parseCapability(n))],
    );
  };
  // Docker's order: `--cap-add ALL` starts from every capability and then drops; `--cap-drop
  // ALL` keeps only what is added; otherwise the drops come off and the adds go on.
  const isAll = (n: string) => n.toUpperCase() === 'ALL';
  const drop = changes.drop ?? [];
  const addList = changes.add ?? [];
  const add = expand(addList.filter((n) => !isAll(n)));
  const ambient = (add.length > 0 || addList.some(isAll)) && !runsAsRoot(container);
  const grant = (n: string) => {
    sets.bounding.add(n);
    sets.effective.add(n);
    sets.permitted.add(n);
    if (ambient) {
      sets.inheritable.add(n);
      sets.ambient.add(n);
    }
  };
  if (addList.some(isAll)) expand(['ALL']).forEach(grant);
  if (drop.some(isAll)) for (const s of SET_NAMES) sets[s].clear();
  for (const n of expand(drop.filter((d) => !isAll(d)))) for (const s of SET_NAMES) sets[s].delete(n);
  add.forEach(grant);
  const order = (n: string) => (isCapabilityName(n) ? parseCapability(n) : Infinity);
  const byNumber = (s: Set<string>) => [...s].sort((a, b) => order(a) - order(b) || 0);
  const out: Sets = {};
  for (const s of SET_NAMES) out[s] = byNumber(sets[s]);
  const { capabilities: _c, dropCapabilities: _d, ...rest } = container;
  return { ...rest, capabilitySets: out };
}
