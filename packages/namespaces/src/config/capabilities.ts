/**
 * Capability policy of a container config: which names apply here (unknown ones are left out
 * with a warning, as runc), and Docker's `--cap-add` / `--cap-drop` on top of a config's sets,
 * limited to what the calling process can pass on (its bounding set).
 */
import { CAPABILITIES, DEFAULT_CAPABILITIES, formatCapability, isCapabilityName, parseCapability, readLastCap, readProcessCapabilities } from '@ns/capabilities';
import { configError } from '@ns/syscalls';
import { CAPABILITY_SETS, type Container } from './container.js';
import { readUserFiles, resolveUser } from '../plan/user.js';

type Sets = NonNullable<Container['capabilitySets']>;

/**
 * The `code` of the process warning (`process.emitWarning`) validateContainer() emits for each
 * capability it leaves out of a config (see {@link knownCapabilities}).
 */
export const UNKNOWN_CAPABILITY_WARNING = 'NS_UNKNOWN_CAPABILITY';

let lastCap: number | undefined;
let ownBounding: bigint | undefined;

/** The calling process's bounding set (/proc/self/status CapBnd), read once; all ones when unreadable. */
function callerBounding(): bigint {
  if (ownBounding === undefined) {
    try {
      ownBounding = readProcessCapabilities('self').bounding;
    } catch {
      ownBounding = (1n << 64n) - 1n;
    }
  }
  return ownBounding;
}

/**
 * Why the capability `name` cannot be applied here, or undefined when it can: a name not in
 * @ns/capabilities' table (`unknown capability "CAP_FOO"`), one above the running kernel's
 * /proc/sys/kernel/cap_last_cap (`CAP_BPF is not known to the running kernel (cap_last_cap is
 * 38)`), or one outside the bounding set of the calling process (`CAP_SYS_RESOURCE is not in
 * the bounding set of the ns process, so no process it starts can hold it`): no new user
 * namespace or setns(2) gives that back (capabilities(7)), and capset(2) would fail with EPERM.
 * The spec (config.md, "process.capabilities", 1.2) says such a value MUST be logged as a
 * warning and the runtime SHOULD NOT fail "if the runtime operates in a restricted environment
 * with a limited set of capabilities".
 * @param last the kernel's highest capability number; default read once from /proc
 * @param bounding the caller's bounding set; default read once from /proc/self/status
 */
export function capabilityProblem(name: string, last: number = (lastCap ??= readLastCap()), bounding: bigint = callerBounding()): string | undefined {
  let n: number;
  try {
    n = parseCapability(name);
  } catch {
    return `unknown capability ${JSON.stringify(name)}`;
  }
  if (n > last) return `${formatCapability(n)} is not known to the running kernel (cap_last_cap is ${last})`;
  if (!((bounding >> BigInt(n)) & 1n)) return `${formatCapability(n)} is not in the bounding set of the ns process, so no process it starts can hold it`;
  return undefined;
}

/**
 * `names` without the capabilities that cannot be applied here (see {@link capabilityProblem}:
 * unknown to ns or the running kernel, or outside the caller's bounding set), as runc does
 * ("ignoring unknown or unavailable capabilities"): leaving one out grants less, never more, and
 * a config written for a newer kernel or runtime, or a privileged one (`podman --privileged`)
 * on a host whose runtime lacks a capability, still runs. One warning per entry left out is
 * pushed to `warnings`, naming its path:
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
  const sets: Record<(typeof CAPABILITY_SETS)[number], Set<string>> = {
    bounding: new Set(container.capabilitySets?.bounding ?? base),
    effective: new Set(container.capabilitySets?.effective ?? container.capabilitySets?.bounding ?? base),
    permitted: new Set(container.capabilitySets?.permitted ?? container.capabilitySets?.bounding ?? base),
    inheritable: new Set(container.capabilitySets?.inheritable ?? []),
    ambient: new Set(container.capabilitySets?.ambient ?? []),
  };
  // Names are kept in their canonical CAP_* form; one this ns does not know stays as given,
  // for validateContainer() to leave out with a warning.
  const canonical = (n: string) => (isCapabilityName(n) ? formatCapability(parseCapability(n)) : n);
  for (const s of CAPABILITY_SETS) sets[s] = new Set([...sets[s]].map(canonical));
  for (const name of container.dropCapabilities ?? []) for (const s of CAPABILITY_SETS) sets[s].delete(canonical(name));
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
  if (drop.some(isAll)) for (const s of CAPABILITY_SETS) sets[s].clear();
  for (const n of expand(drop.filter((d) => !isAll(d)))) for (const s of CAPABILITY_SETS) sets[s].delete(n);
  add.forEach(grant);
  const order = (n: string) => (isCapabilityName(n) ? parseCapability(n) : Infinity);
  const byNumber = (s: Set<string>) => [...s].sort((a, b) => order(a) - order(b) || 0);
  const out: Sets = {};
  for (const s of CAPABILITY_SETS) out[s] = byNumber(sets[s]);
  const { capabilities: _c, dropCapabilities: _d, ...rest } = container;
  return { ...rest, capabilitySets: out };
}

/** A `--cap-add` / `--cap-drop` name as `CAP_...` (or `ALL`). @throws NsError `ERR_NS_CONFIG` naming `option`. */
export function canonicalCapability(name: string, option: string): string {
  if (name.toUpperCase() === 'ALL') return 'ALL';
  try {
    return formatCapability(parseCapability(name));
  } catch {
    throw configError(`${option}: unknown capability ${JSON.stringify(name)} (expected a name from capabilities(7), such as CAP_NET_ADMIN or NET_ADMIN, or ALL)`, option);
  }
}

/**
 * The capabilities kept after `--cap-add` / `--cap-drop`, as docker: `(base - drop) + add`;
 * `--cap-drop ALL` starts from nothing, `--cap-add ALL` from every known capability. Names
 * are case-insensitive, with or without `CAP_`, and come back as `CAP_...`; a name of `base`
 * this ns does not know is kept as given (validateContainer leaves it out with a warning).
 * @throws NsError `ERR_NS_CONFIG` naming the flag (`--cap-add`) and an unknown capability.
 */
export function applyCapabilities(base: readonly string[], add: readonly string[], drop: readonly string[]): string[] {
  const adds = add.map((c) => canonicalCapability(c, '--cap-add'));
  const drops = drop.map((c) => canonicalCapability(c, '--cap-drop'));
  const all = CAPABILITIES.map((c) => c.name as string);
  const normalized = base.map((c) => {
    try {
      return formatCapability(parseCapability(c));
    } catch {
      return c; // left for validateContainer to report
    }
  });
  const start = adds.includes('ALL') ? all : normalized;
  const kept = drops.includes('ALL') ? [] : start.filter((c) => !drops.includes(c));
  const added = adds.filter((c) => c !== 'ALL');
  return [...new Set([...kept, ...added])];
}

/**
 * The bounding set a container's added capabilities can come from: when this process is root
 * and the container has no user namespace, its process inherits this process's bounding set
 * (CapBnd of /proc/self/status) and cannot gain anything outside it; otherwise (a new user
 * namespace starts with a full bounding set) null, no limit. Null too when /proc cannot be read.
 * @see capabilities(7) "Capability bounding set"
 */
export function ownBoundingSet(container: Pick<Container, 'namespaces'>): bigint | null {
  if (process.geteuid?.() !== 0) return null;
  if (container.namespaces.some((ns) => ns.type === 'user')) return null;
  try {
    return readProcessCapabilities('self').bounding;
  } catch {
    return null;
  }
}

/** The names of the capabilities in `mask` that the library and the running kernel know. */
export function capabilitiesIn(mask: bigint): string[] {
  let last: number;
  try {
    last = readLastCap();
  } catch {
    last = Math.max(...CAPABILITIES.map((c) => c.value));
  }
  return CAPABILITIES.filter((c) => c.value <= last && (mask & (1n << BigInt(c.value))) !== 0n).map((c) => c.name as string);
}

/**
 * `container` with Docker's `--cap-add` / `--cap-drop` applied to all its capability sets
 * ({@link adjustCapabilities}: dropped from every set, added to bounding, effective and
 * permitted, and for a non-root user to inheritable and ambient too), with docker's rules: an
 * explicit add wins over a drop of the same name, but `--cap-add ALL` still loses the dropped
 * ones. Names are case-insensitive, with or without `CAP_`. What `ns run` and `ns exec` do
 * with their flags (messages name the flags).
 *
 * With a `bounding` limit (default {@link ownBoundingSet}: this process as root, no user
 * namespace), `--cap-add ALL` adds only the capabilities in it, and a named one outside it is
 * an error: the container could not get it from this process.
 *
 * A name ns does not know at all is an error (a typo, as docker and podman `--cap-add`); one
 * ns knows but the running kernel does not (CAP_BPF below Linux 5.8) is left out of the adds
 * with a warning in `options.warnings`, as runc leaves out such a name of a config.json (so a
 * script written for a newer kernel still runs, with less, never more).
 *
 * @param options.bounding the limit as a mask (as /proc/PID/status CapBnd), null for none
 * @param options.lastCap the kernel's highest capability (default /proc/sys/kernel/cap_last_cap)
 * @param options.warnings receives the warnings (`--cap-add: CAP_BPF is not known to the running kernel ...`)
 * @returns a copy with `capabilitySets` set and `capabilities` / `dropCapabilities` cleared
 * @throws NsError `ERR_NS_CONFIG` naming the flag and an unknown capability (`--cap-add:
 *   unknown capability "NOPE" ...`), or one outside the bounding limit (`--cap-add
 *   CAP_SYS_RESOURCE: not in the bounding set of this ns process`).
 * @see capabilities(7), docker-run(1) "--cap-add"
 */
export function changeCapabilities(
  container: Container,
  add: readonly string[],
  drop: readonly string[],
  options: { bounding?: bigint | null; warnings?: string[]; lastCap?: number } = {},
): Container {
  const adds = add.map((c) => canonicalCapability(c, '--cap-add'));
  const drops = drop.map((c) => canonicalCapability(c, '--cap-drop'));
  const last = options.lastCap ?? readLastCap();
  const named = [...new Set(adds.filter((c) => c !== 'ALL'))].filter((name) => {
    if (parseCapability(name) <= last) return true;
    options.warnings?.push(`--cap-add: ${name} is not known to the running kernel (cap_last_cap is ${last}), ignored`);
    return false;
  });
  const bounding = adds.length === 0 ? null : options.bounding !== undefined ? options.bounding : ownBoundingSet(container);
  if (bounding !== null) {
    for (const name of named) {
      if ((bounding & (1n << BigInt(parseCapability(name)))) === 0n) {
        throw configError(`--cap-add ${name}: not in the bounding set of this ns process`, 'capAdd');
      }
    }
  }
  if (adds.includes('ALL')) {
    // adjustCapabilities' ALL is every capability the kernel knows; limit it to what this process can pass on.
    const all = bounding === null ? ['ALL'] : capabilitiesIn(bounding);
    return adjustCapabilities(adjustCapabilities(container, { add: [...new Set([...all, ...named])] }), { drop: drops });
  }
  return adjustCapabilities(container, { add: named, drop: drops });
}
