/**
 * What of a valid OCI config.json is not applied (yet), for a CLI to warn about before running,
 * as runc logs the fields it ignores.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { ignoredAmbient } from '@ns/capabilities';
import { knownCapabilitySets, type OciSpec } from './oci.js';

/** Why an LSM setting is ignored: the LSM is not active here, or not supported yet. */
function lsmNote(lsm: 'apparmor' | 'selinux'): string {
  let active: string[] = [];
  try {
    active = readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',');
  } catch {
    // securityfs not mounted: treat as absent
  }
  return active.includes(lsm) ? `ignored: ${lsm} profiles are not applied yet` : `ignored: ${lsm} is not active on this kernel`;
}

function present(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}


/**
 * The fields of a valid spec that {@link fromOciSpec} accepts but the library does not apply
 * yet, so a CLI can warn before running: one `"<json path>: <why>"` line per field, e.g.
 * `process.rlimits: not applied yet`. Security-relevant ones (ambient capabilities, id
 * mappings, seccomp, noNewPrivileges, rlimits) are included, and each
 * capability name fromOciSpec leaves out because this ns or the running kernel does not know
 * it (`process.capabilities.bounding[2]: unknown capability "CAP_FOO", ignored`); an empty
 * list means everything present is honoured.
 *
 * @param spec a spec returned by {@link parseOciSpec} (not validated again)
 * @returns warnings in config.json field order; never throws
 */
export function ociWarnings(spec: OciSpec): string[] {
  const out: string[] = [];
  const note = (path: string, why = 'not applied yet'): void => {
    out.push(`${path}: ${why}`);
  };
  if (!/^1\./.test(spec.ociVersion)) note('ociVersion', `${JSON.stringify(spec.ociVersion)} is not a 1.x version`);
  const proc = spec.process;
  if (proc !== undefined) {
    if (present(proc.consoleSize)) note('process.consoleSize');
    if (proc.user?.uid !== undefined && present(proc.user.username)) {
      note('process.user.username', 'ignored, process.user.uid is used');
    }
    if (proc.capabilities !== undefined) {
      const unknown: string[] = [];
      const known = knownCapabilitySets(proc.capabilities, unknown);
      out.push(...unknown);
      if (known.ambient?.length) {
        try {
          const ignored = ignoredAmbient(known);
          if (ignored.length) {
            note('process.capabilities.ambient', `${ignored.join(', ')} ignored: not in both permitted and inheritable (as runc)`);
          }
        } catch {
          // sets that cannot be applied are reported by fromOciSpec
        }
      }
    }
    if (present(proc.apparmorProfile)) note('process.apparmorProfile', lsmNote('apparmor'));
    if (present(proc.scheduler)) note('process.scheduler');
    if (present(proc.selinuxLabel)) note('process.selinuxLabel', lsmNote('selinux'));
    if (present(proc.ioPriority)) note('process.ioPriority');
  }
  if (present(spec.domainname)) note('domainname');
  spec.mounts?.forEach((m, i) => {
    if (!isAbsolute(m.destination)) note(`mounts[${i}].destination`, `relative, taken as /${m.destination}`);
    if (present(m.uidMappings)) note(`mounts[${i}].uidMappings`);
    if (present(m.gidMappings)) note(`mounts[${i}].gidMappings`);
  });
  if (spec.hooks !== undefined) {
    for (const [name, list] of Object.entries(spec.hooks)) {
      if (present(list)) note(`hooks.${name}`);
    }
  }
  const linux = spec.linux;
  if (linux !== undefined) {
    if (present(linux.timeOffsets)) note('linux.timeOffsets');
    if (present(linux.devices)) note('linux.devices');
    if (present(linux.seccomp)) note('linux.seccomp', 'no seccomp filter is installed yet');
    if (present(linux.mountLabel)) note('linux.mountLabel', lsmNote('selinux'));
    if (present(linux.intelRdt)) note('linux.intelRdt');
    if (present(linux.personality)) note('linux.personality');
  }
  return out;
}
