/**
 * runc exec's `-c, --cap CAP`: capabilities added to the process's own sets, on top of the
 * container's (which docker-style `--cap-add` rewrites instead).
 */
import { parseCapability, readLastCap } from '@ns/capabilities';
import { configError } from '@ns/syscalls';
import { CAPABILITY_SETS, type Container } from './container.js';
import { canonicalCapability, capabilitiesIn, ownBoundingSet } from './capabilities.js';
import { capabilitySetsOf } from '../plan/process.js';
import { resolveSeccomp } from '../plan/seccomp.js';

/**
 * `container` with each of `caps` added to the bounding, effective and permitted sets of its
 * process, as runc exec `--cap` does (utils: exec.go), and to the ambient set where the
 * capability is in the inheritable set already (runc adds it to ambient when the process has
 * an inheritable list: raising an ambient capability needs it inheritable, prctl(2)). Names
 * are case-insensitive, with or without `CAP_`; `ALL` is not one (runc takes names only).
 *
 * A name the running kernel does not know is left out with a warning in `options.warnings`.
 * As root without a user namespace, a capability outside this process's bounding set is an
 * error (the process could not get it from here).
 *
 * @param options.bounding the limit as a mask (default {@link ownBoundingSet}), null for none
 * @returns a copy with `capabilitySets` set and `capabilities` / `dropCapabilities` cleared
 * @throws NsError `ERR_NS_CONFIG` (path `cap`) naming an unknown capability, `ALL`, or one
 *   outside the bounding limit.
 * @see capabilities(7), runc-exec(8) "--cap"
 */
export function addProcessCapabilities(
  container: Container,
  caps: readonly string[],
  options: { bounding?: bigint | null; warnings?: string[]; lastCap?: number } = {},
): Container {
  if (caps.length === 0) return container;
  const names = caps.map((c) => {
    if (c.toUpperCase() === 'ALL') throw configError('--cap ALL: name the capabilities one by one (as runc exec --cap)', 'cap');
    try {
      return canonicalCapability(c, '--cap');
    } catch {
      throw configError(`--cap: unknown capability ${JSON.stringify(c)} (expected a name from capabilities(7), such as CAP_NET_ADMIN or NET_ADMIN)`, 'cap');
    }
  });
  const last = options.lastCap ?? readLastCap();
  const known = [...new Set(names)].filter((name) => {
    if (parseCapability(name) <= last) return true;
    options.warnings?.push(`--cap: ${name} is not known to the running kernel (cap_last_cap is ${last}), ignored`);
    return false;
  });
  const bounding = options.bounding !== undefined ? options.bounding : ownBoundingSet(container);
  if (bounding !== null) {
    for (const name of known) {
      if ((bounding & (1n << BigInt(parseCapability(name)))) === 0n) throw configError(`--cap ${name}: not in the bounding set of this ns process`, 'cap');
    }
  }
  const masks = capabilitySetsOf(container);
  let add = 0n;
  for (const name of known) add |= 1n << BigInt(parseCapability(name));
  masks.bounding |= add;
  masks.effective |= add;
  masks.permitted |= add;
  masks.ambient |= add & masks.inheritable;
  const sets: Record<string, string[]> = {};
  for (const s of CAPABILITY_SETS) sets[s] = capabilitiesIn(masks[s]);
  const { capabilities: _c, dropCapabilities: _d, ...rest } = container;
  // The filter stays the container's, as runc exec keeps the config's: the default profile as
  // the container's own bounding set made it (it allows more calls for more capabilities).
  const seccomp = container.seccomp === 'default' ? { seccomp: resolveSeccomp('default', capabilitySetsOf(container).bounding) } : {};
  return { ...rest, capabilitySets: sets, ...seccomp };
}
