import { CapabilityError } from './errors.js';
import { DEFAULT_CAPABILITIES } from './defaults.js';
import { parseCapability } from './parse.js';
import { ALL_BITS_MASK } from './set.js';

// Plan steps, typed structurally: the same shapes as @ns/syscalls' CapbsetDropStep,
// CapsetStep and PrctlStep, declared here so this package stays free of native code.

/**
 * prctl(PR_CAPBSET_DROP, cap) for every capability number whose bit is set in `mask`,
 * 0 ... 63; the child ignores EINVAL (a number the running kernel does not know).
 * prctl(2), capabilities(7).
 */
export interface CapbsetDropStep {
  op: 'capbsetDrop';
  mask: bigint;
}

/** capset(2) with _LINUX_CAPABILITY_VERSION_3; each field a 64-bit capability mask. */
export interface CapsetStep {
  op: 'capset';
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** prctl(2) with its option and four integer arguments (unused ones 0). */
export interface PrctlStep {
  op: 'prctl';
  option: number;
  arg2: number;
  arg3: number;
  arg4: number;
  arg5: number;
}

/** A plan step this package produces. */
export type CapabilityStep = CapbsetDropStep | CapsetStep | PrctlStep;

/** prctl(2) option: keep permitted capabilities across a switch away from uid 0. */
export const PR_SET_KEEPCAPS = 8;
/** prctl(2) option: drop one capability from the bounding set. */
export const PR_CAPBSET_DROP = 24;

/**
 * The capability mask a container keeps: `keep` (default {@link DEFAULT_CAPABILITIES})
 * minus `drop`. A name in both is dropped.
 *
 * @param options.keep capability names (any form `parseCapability` accepts) to keep.
 * @param options.drop capability names to remove from `keep`.
 * @returns a 64-bit mask (bits 0 ... 40).
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) naming every unknown name, e.g.
 *   `unknown capability "CAP_FOO"` or `unknown capabilities "CAP_FOO", "bar"`.
 *   capabilities(7).
 */
export function resolveKeptCapabilities(options: { keep?: Iterable<string>; drop?: Iterable<string> } = {}): bigint {
  const unknown: string[] = [];
  const maskOf = (names: Iterable<string>): bigint => {
    let mask = 0n;
    for (const name of names) {
      try {
        mask |= 1n << BigInt(parseCapability(name));
      } catch (error) {
        if (!(error instanceof CapabilityError)) throw error;
        if (!unknown.includes(String(name))) unknown.push(String(name));
      }
    }
    return mask;
  };
  const keep = maskOf(options.keep ?? DEFAULT_CAPABILITIES);
  const drop = maskOf(options.drop ?? []);
  if (unknown.length === 1) {
    throw new CapabilityError(`unknown capability ${JSON.stringify(unknown[0])}`, unknown[0]);
  }
  if (unknown.length > 1) {
    throw new CapabilityError(`unknown capabilities ${unknown.map((n) => JSON.stringify(n)).join(', ')}`, unknown.join(','));
  }
  return keep & ~drop;
}

/**
 * The plan steps that reduce a process to the capabilities `kept`, in order:
 *
 * 1. `capbsetDrop` with mask `~kept` over all 64 bits: the bounding set loses everything not
 *    kept, including numbers above the kernel's cap_last_cap and those a newer kernel adds
 *    (the child ignores their EINVAL). Needs CAP_SETPCAP, so it comes first.
 * 2. `capset` with effective = permitted = `kept` and inheritable = `kept & options.inheritable`.
 *
 * When the container runs as a non-root user, the caller switches user between the two:
 * `keepCapsStep(true)` before, setresgid/setresuid (which otherwise clear the permitted set),
 * then the `capset` to restore the effective set; see capabilities(7) "Effect of user ID
 * changes on capabilities", prctl(2) PR_SET_KEEPCAPS / PR_CAPBSET_DROP, capset(2).
 * Ambient capabilities are not raised here.
 *
 * @param kept a 64-bit mask, usually from {@link resolveKeptCapabilities}.
 * @param options.inheritable mask of capabilities allowed in the inheritable set (default
 *   `0n`: none); bits outside `kept` are ignored.
 * @throws CapabilityError (`code: 'ERR_NS_CONFIG'`) when a mask is negative or wider than
 *   64 bits.
 */
export function dropCapabilitiesSteps(kept: bigint, options: { inheritable?: bigint } = {}): CapabilityStep[] {
  checkMask(kept, 'kept');
  const inheritable = options.inheritable ?? 0n;
  checkMask(inheritable, 'inheritable');
  return [
    { op: 'capbsetDrop', mask: ~kept & ALL_BITS_MASK },
    { op: 'capset', effective: kept, permitted: kept, inheritable: kept & inheritable },
  ];
}

/**
 * A `prctl(PR_SET_KEEPCAPS, enabled ? 1 : 0)` step: with it set, the permitted set survives
 * the switch from uid 0 to a non-zero uid (the effective set is still cleared). prctl(2),
 * capabilities(7).
 */
export function keepCapsStep(enabled: boolean): PrctlStep {
  return { op: 'prctl', option: PR_SET_KEEPCAPS, arg2: enabled ? 1 : 0, arg3: 0, arg4: 0, arg5: 0 };
}

function checkMask(mask: bigint, what: string): void {
  if (typeof mask !== 'bigint' || mask < 0n || mask > ALL_BITS_MASK) {
    throw new CapabilityError(`${what} capability mask ${String(mask)} is not a 64-bit set`, String(mask));
  }
}
