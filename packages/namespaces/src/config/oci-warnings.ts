/**
 * What of a valid OCI config.json is applied otherwise than written, for a CLI to warn about
 * before running, as runc logs such fields. The fields ns refuses are in oci-unsupported.ts;
 * docs/conformance.md lists every field.
 */
import { unknownFieldWarnings } from './oci-unknown.js';
import { isAbsolute } from 'node:path';
import { ignoredAmbient } from '@ns/capabilities';
import { knownCapabilitySets, type OciSpec } from './oci.js';

function present(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * The fields of a valid spec that are applied otherwise than written, for a CLI to warn about
 * before running (runtime.md "Warnings"): one `"<json path>: <why>"` line per field, only where
 * the spec lets a runtime log and go on: each capability name fromOciSpec leaves out because
 * this ns or the running kernel does not know it, and ambient capabilities that cannot be
 * raised (config.md: "MUST be logged as a warning", "SHOULD NOT fail"), a relative mount
 * destination (taken from `/`, as the spec says), `process.user.username` beside a uid (a
 * Windows field), the sections of other platforms (`windows`, `solaris`, `zos`), `root.path`
 * beside a joined mount namespace, and an `ociVersion` that is not 1.x. Fields ns refuses are not listed here
 * (see unsupportedFields() in oci-unsupported.ts); an empty list means everything present is honoured.
 *
 * @param spec a spec returned by {@link parseOciSpec} (not validated again)
 * @returns warnings in config.json field order; never throws
 */
export function ociWarnings(spec: OciSpec): string[] {
  const out: string[] = [];
  const note = (path: string, why: string): void => {
    out.push(`${path}: ${why}`);
  };
  if (!/^1\./.test(spec.ociVersion)) note('ociVersion', `${JSON.stringify(spec.ociVersion)} is not a 1.x version`);
  out.push(...unknownFieldWarnings(spec));
  const proc = spec.process;
  if (proc !== undefined) {
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
  }
  spec.mounts?.forEach((m, i) => {
    if (!isAbsolute(m.destination)) note(`mounts[${i}].destination`, `relative, taken as /${m.destination}`);
  });
  for (const other of ['windows', 'solaris', 'zos'] as const) {
    if (present((spec as Record<string, unknown>)[other])) note(other, 'ignored: configuration for another platform (config.md "Platform-specific configuration")');
  }
  const joinedMount = spec.linux?.namespaces?.findIndex((ns) => ns.type === 'mount' && present(ns.path)) ?? -1;
  if (joinedMount >= 0 && spec.root !== undefined) {
    note('root.path', `not used: the process takes the root of the mount namespace it joins (linux.namespaces[${joinedMount}].path)`);
  }
  return out;
}
