/**
 * The fields of a valid OCI config.json that ns refuses: what would confine the container
 * (AppArmor, SELinux, Intel RDT) and ns does not apply, and what the spec asks a
 * runtime to apply and ns does not yet. Running without them would give the container less
 * confinement, or another behaviour, than its config says. docs/conformance.md lists every
 * field and what ns does with it.
 */
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { configError } from '@ns/syscalls';
import type { OciSpec } from './oci-schema.js';

/** Whether a Linux security module is active on this kernel (/sys/kernel/security/lsm). */
function lsmActive(lsm: 'apparmor' | 'selinux'): boolean {
  try {
    return readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',').includes(lsm);
  } catch {
    return false; // securityfs not mounted: treat as absent
  }
}

/** Why an LSM field is refused: ns applies no LSM, active here or not. */
function lsmReason(lsm: 'apparmor' | 'selinux'): string {
  const name = lsm === 'apparmor' ? 'AppArmor' : 'SELinux';
  const here = lsmActive(lsm) ? `${lsm} is active on this kernel` : `${lsm} is not active on this kernel`;
  return `ns applies no ${name} ${lsm === 'apparmor' ? 'profile' : 'label'} (${here}); the container would run unconfined by it: remove the field to accept that`;
}

function present(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * The fields of a spec that ns refuses, in config.json order, as `[json path, why]`: what would
 * confine the container (AppArmor, SELinux, Intel RDT) and ns does not apply, and what
 * the spec asks a runtime to apply and ns does not yet (id-mapped mounts).
 * Running without them would silently give the container less confinement, or another
 * behaviour, than its config says.
 */
/**
 * Whether the tmpfs of `destination` hides nothing: the directory under it in `rootfs` is
 * missing or empty, reached without a symlink (one could point anywhere on the host). Then
 * tmpcopyup (copy what is there into the new tmpfs, as runc) has nothing to copy. podman's
 * `--read-only` puts such tmpfs on /run, /tmp and /var/tmp.
 */
function nothingToCopy(rootfs: string, destination: string): boolean {
  let path = rootfs;
  for (const part of posix.resolve('/', destination).split('/').filter(Boolean)) {
    path = posix.join(path, part);
    try {
      if (lstatSync(path).isSymbolicLink()) return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }
  try {
    return lstatSync(path).isDirectory() && readdirSync(path).length === 0;
  } catch {
    return false;
  }
}

/**
 * @param rootfs the root filesystem's absolute path on the host, when known: a `tmpcopyup`
 *   tmpfs over a missing or empty directory of it is taken (nothing to copy).
 */
export function unsupportedFields(spec: OciSpec, rootfs?: string): [path: string, why: string][] {
  const out: [string, string][] = [];
  const proc = spec.process;
  if (proc !== undefined) {
    if (present(proc.apparmorProfile)) out.push(['process.apparmorProfile', lsmReason('apparmor')]);
    if (present(proc.selinuxLabel)) out.push(['process.selinuxLabel', lsmReason('selinux')]);
  }
  spec.mounts?.forEach((m, i) => {
    m.options?.forEach((o, j) => {
      if (o === 'tmpcopyup' && (rootfs === undefined || !nothingToCopy(rootfs, m.destination))) {
        out.push([`mounts[${i}].options[${j}]`, `tmpcopyup is not implemented (the tmpfs would start empty, hiding what ${m.destination} holds in the rootfs); it is taken over a missing or empty directory`]);
      }
    });
  });
  // A config for a virtual machine runtime (kata ...): a container is not the isolation it asks for.
  if (present((spec as Record<string, unknown>).vm)) out.push(['vm', 'ns runs containers, not virtual machines: the process would share the host kernel']);
  const linux = spec.linux;
  if (linux !== undefined) {
    if (present(linux.mountLabel)) out.push(['linux.mountLabel', lsmReason('selinux')]);
    if (present(linux.intelRdt)) out.push(['linux.intelRdt', 'Intel RDT (resctrl) classes of service are not applied: the container would get no cache or memory-bandwidth allocation']);
  }
  return out;
}

/**
 * Refuse a spec with a field ns does not apply and the spec does not let it ignore
 * ({@link unsupportedFields}): the first one, by JSON path. fromOciSpec() calls this first.
 * @throws NsError `ERR_NS_CONFIG`, `path` the field: `config.json: linux.intelRdt: Intel RDT
 *   (resctrl) classes of service are not applied ...`.
 * @param rootfs as {@link unsupportedFields}
 */
export function refuseUnsupported(spec: OciSpec, rootfs?: string): void {
  const first = unsupportedFields(spec, rootfs)[0];
  if (first) throw configError(`config.json: ${first[0]}: ${first[1]}`, first[0]);
}

