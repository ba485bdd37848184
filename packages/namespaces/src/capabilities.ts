import { CAPABILITIES, DEFAULT_CAPABILITIES, formatCapability, parseCapability, readLastCap } from '@ns/capabilities';
import type { Container } from './container.js';
import { readUserFiles, resolveUser } from './user.js';

type Sets = NonNullable<Container['capabilitySets']>;
const SET_NAMES = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;

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
 * @throws CapabilityError `ERR_NS_CONFIG` naming an unknown capability.
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
  for (const name of container.dropCapabilities ?? []) for (const s of SET_NAMES) sets[s].delete(formatCapability(parseCapability(name)));
  // Names are kept in their canonical CAP_* form.
  for (const s of SET_NAMES) sets[s] = new Set([...sets[s]].map((n) => formatCapability(parseCapability(n))));
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
  const byNumber = (s: Set<string>) => [...s].sort((a, b) => parseCapability(a) - parseCapability(b));
  const out: Sets = {};
  for (const s of SET_NAMES) out[s] = byNumber(sets[s]);
  const { capabilities: _c, dropCapabilities: _d, ...rest } = container;
  return { ...rest, capabilitySets: out };
}
