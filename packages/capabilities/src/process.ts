import { DEFAULT_CAPABILITIES } from './defaults.js';
import { CapabilityError } from './errors.js';
import { formatCapability, parseCapability } from './parse.js';
import { ALL_BITS_MASK, fromMask, readLastCap } from './set.js';

/** The five capability sets of a process, as OCI `process.capabilities` lists names. */
export interface CapabilitySetNames {
  bounding?: Iterable<string>;
  effective?: Iterable<string>;
  permitted?: Iterable<string>;
  inheritable?: Iterable<string>;
  ambient?: Iterable<string>;
}

/** The five sets as 64-bit masks. capabilities(7). */
export interface CapabilitySets {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

const SET_NAMES = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;

let lastCap: number | undefined;

/**
 * Resolve OCI `process.capabilities` lists into masks and check they can be applied:
 * a list left out defaults to `bounding` for effective and permitted, to nothing for
 * inheritable and ambient, and bounding itself to {@link DEFAULT_CAPABILITIES}.
 *
 * @param names lists of names (any form `parseCapability` accepts).
 * @param options.field the config path used in messages (default `process.capabilities`).
 * @param options.lastCap the kernel's highest capability (default /proc/sys/kernel/cap_last_cap).
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) naming the set and the capability: an
 *   unknown name, one the running kernel does not know, an effective capability not in
 *   permitted (capset(2) would refuse it). An ambient capability not in both permitted and
 *   inheritable is left out of the ambient set, as runc does (PR_CAP_AMBIENT_RAISE would
 *   refuse it); {@link ignoredAmbient} names them. capabilities(7), prctl(2).
 */
export function resolveCapabilitySets(
  names: CapabilitySetNames,
  options: { field?: string; lastCap?: number } = {},
): CapabilitySets {
  const field = options.field ?? 'process.capabilities';
  const last = options.lastCap ?? (lastCap ??= readLastCap());
  const mask = (set: (typeof SET_NAMES)[number], list: Iterable<string>): bigint => {
    let m = 0n;
    for (const name of list) {
      let n: number;
      try {
        n = parseCapability(name);
      } catch (err) {
        if (err instanceof CapabilityError) throw new CapabilityError(`${field}.${set}: ${err.message}`, name);
        throw err;
      }
      if (n > last) {
        throw new CapabilityError(`${field}.${set}: ${formatCapability(n)} is not known to the running kernel (cap_last_cap is ${last})`, name);
      }
      m |= 1n << BigInt(n);
    }
    return m;
  };
  const bounding = mask('bounding', names.bounding ?? DEFAULT_CAPABILITIES);
  const sets: CapabilitySets = {
    bounding,
    effective: names.effective === undefined ? bounding : mask('effective', names.effective),
    permitted: names.permitted === undefined ? bounding : mask('permitted', names.permitted),
    inheritable: names.inheritable === undefined ? 0n : mask('inheritable', names.inheritable),
    ambient: names.ambient === undefined ? 0n : mask('ambient', names.ambient),
  };
  const outside = sets.effective & ~sets.permitted;
  if (outside) {
    throw new CapabilityError(`${field}.effective: ${fromMask(outside).join(', ')} must also be in ${field}.permitted`, fromMask(outside)[0]);
  }
  // The kernel refuses an ambient capability that is not both permitted and inheritable;
  // like runc (and `runc spec` writes such configs), those are left out, not an error.
  sets.ambient &= sets.permitted & sets.inheritable;
  return sets;
}

/**
 * The ambient capabilities of `names` that cannot be raised because they are not in both
 * the permitted and inheritable lists (so {@link resolveCapabilitySets} leaves them out).
 */
export function ignoredAmbient(names: CapabilitySetNames): string[] {
  if (names.ambient === undefined) return [];
  const full = resolveCapabilitySets({ ...names, ambient: [] });
  let ambient = 0n;
  for (const n of names.ambient) ambient |= 1n << BigInt(parseCapability(n));
  return fromMask(ambient & ~(full.permitted & full.inheritable));
}

/**
 * Every set in one: `kept` in bounding, effective and permitted, the seed's form
 * (libcontainer's DropCapabilities), with `inheritable & kept` and no ambient capability.
 */
export function keptCapabilitySets(kept: bigint, inheritable = 0n): CapabilitySets {
  return { bounding: kept, effective: kept, permitted: kept, inheritable: inheritable & kept, ambient: 0n };
}

/** The steps that apply capability sets, split around the caller's user switch. */
export interface CapabilitySetSteps {
  /** Before the uid change: drop the bounding set (needs CAP_SETPCAP), keep caps across setuid. */
  before: (
    | { op: 'capbsetDrop'; mask: bigint }
    | { op: 'prctl'; option: number; arg2: number; arg3: number; arg4: number; arg5: number }
  )[];
  /** After the uid change: capset, raise the ambient set, stop keeping caps. */
  after: (
    | { op: 'capset'; effective: bigint; permitted: bigint; inheritable: bigint }
    | { op: 'ambientRaise'; mask: bigint }
    | { op: 'prctl'; option: number; arg2: number; arg3: number; arg4: number; arg5: number }
  )[];
}

/**
 * Plan steps for {@link CapabilitySets} (the bounding drop covers every capability up to the
 * kernel's cap_last_cap, read at run time), in the order that makes them stick across the uid
 * change and execve: `capbsetDrop(~bounding)`, `PR_SET_KEEPCAPS 1`, [the caller's
 * setgroups/setresgid/setresuid], `capset(effective, permitted, inheritable)`,
 * `PR_CAP_AMBIENT_RAISE` for each ambient capability, `PR_SET_KEEPCAPS 0`. After execve a
 * non-root process without file capabilities keeps exactly its ambient set (in permitted
 * and effective); root keeps the bounding set. capabilities(7) "Transformation of
 * capabilities during execve()".
 */
export function capabilitySetSteps(sets: CapabilitySets, options: { lastCap?: number } = {}): CapabilitySetSteps {
  // Only numbers the running kernel knows: a newer kernel's extra capabilities are below its
  // own cap_last_cap and so still dropped; prctl(2) would only answer EINVAL for the rest.
  const last = options.lastCap ?? (lastCap ??= readLastCap());
  const known = (1n << BigInt(last + 1)) - 1n;
  const keepCaps = (on: boolean) => ({ op: 'prctl' as const, option: 8 /* PR_SET_KEEPCAPS */, arg2: on ? 1 : 0, arg3: 0, arg4: 0, arg5: 0 });
  const after: CapabilitySetSteps['after'] = [
    { op: 'capset', effective: sets.effective, permitted: sets.permitted, inheritable: sets.inheritable },
  ];
  if (sets.ambient) after.push({ op: 'ambientRaise', mask: sets.ambient });
  after.push(keepCaps(false));
  return { before: [{ op: 'capbsetDrop', mask: ~sets.bounding & known & ALL_BITS_MASK }, keepCaps(true)], after };
}
