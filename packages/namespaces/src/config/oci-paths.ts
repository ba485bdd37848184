/**
 * Container fields as config.json JSON paths: validateContainer() names a Container's fields
 * (`rlimits[0].type`, `sysctl.kernel.core_pattern`), a bundle's user needs the fields of its
 * config.json (`process.rlimits[0].type`, `linux.sysctl["kernel.core_pattern"]`).
 */
import { ErrorCode, NsError } from '@ns/syscalls';
import { CONTAINER_FIELDS, OCI_FIELDS, type FieldNames } from './linux-checks.js';

/**
 * Top-level Container fields and where they come from in config.json (oci.ts specToContainer()):
 * those linux-checks.ts names in both vocabularies, and the others.
 */
const FIELD_TO_OCI: Record<string, string> = {
  ...Object.fromEntries((Object.keys(OCI_FIELDS) as (keyof FieldNames)[]).map((k) => [CONTAINER_FIELDS[k], OCI_FIELDS[k]])),
  args: 'process.args',
  env: 'process.env',
  cwd: 'process.cwd',
  user: 'process.user',
  additionalGids: 'process.user.additionalGids',
  umask: 'process.user.umask',
  terminal: 'process.terminal',
  consoleSize: 'process.consoleSize',
  noNewPrivileges: 'process.noNewPrivileges',
  rlimits: 'process.rlimits',
  oomScoreAdj: 'process.oomScoreAdj',
  ioPriority: 'process.ioPriority',
  scheduler: 'process.scheduler',
  personality: 'linux.personality',
  timeOffsets: 'linux.timeOffsets',
  capabilitySets: 'process.capabilities',
  uidMappings: 'linux.uidMappings',
  gidMappings: 'linux.gidMappings',
  resources: 'linux.resources',
  cgroupsPath: 'linux.cgroupsPath',
};

/**
 * The config.json JSON path of a Container field path, or null when it has none of its own
 * (`hostname`, `mounts[2]` and `domainname` are spelled alike).
 * @param field a Container field path: `rlimits[0].type`, `sysctl.net.ipv4.ip_forward`
 */
export function ociPathOf(field: string): string | null {
  if (field.startsWith('sysctl.')) return `linux.sysctl[${JSON.stringify(field.slice('sysctl.'.length))}]`;
  if (field === 'sysctl') return 'linux.sysctl';
  const head = /^[A-Za-z]+/.exec(field)?.[0];
  if (head === undefined) return null;
  const oci = FIELD_TO_OCI[head];
  if (oci === undefined) return ['hostname', 'domainname', 'hooks', 'annotations'].includes(head) ? field : null;
  return oci + field.slice(head.length);
}

/**
 * Run `check` (a validation of the Container made from a config.json) and rethrow its
 * `ERR_NS_CONFIG` in config.json's terms: `config.json: process.rlimits[0].type: unknown
 * resource "RLIMIT_FOO" ...`, `path` the JSON path. Other errors pass through unchanged.
 */
export function inOciTerms<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof NsError) || err.code !== ErrorCode.CONFIG || err.path === undefined || err.message.startsWith('config.json: ')) throw err;
    const oci = ociPathOf(err.path);
    if (oci === null) throw err;
    const rest = err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
    throw new NsError(ErrorCode.CONFIG, `config.json: ${oci}: ${rest}`, { path: oci, cause: err });
  }
}
