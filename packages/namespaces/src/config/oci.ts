/**
 * OCI runtime-spec `config.json`: validation at the edge with a zod schema (oci-schema.ts), a
 * loader for bundles, and the converter to the library's own {@link Container}. The warnings
 * of a spec are in oci-warnings.ts, the default spec `ns spec` writes in oci-default.ts.
 *
 * Field names and shapes follow the OCI runtime specification v1.x, `config.md` and
 * `config-linux.md` (Go bindings: `specs-go/config.go`). Known fields are strictly typed;
 * unknown fields are accepted and kept (the spec's extensibility rule: "runtimes MUST ignore
 * unknown properties").
 */
import type { LinuxResources } from '@ns/cgroups';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type * as Zod from 'zod/mini';
import { resolveCapabilitySets } from '@ns/capabilities';
import { ErrorCode, NsError, configError } from '@ns/syscalls';
import { knownCapabilities } from './capabilities.js';
import { acceptOciSpec } from './oci-check.js';
import { loneSurrogatePath, readConfigFile } from './config-file.js';
import { CAPABILITY_SETS, CONTAINER_ID_RULE, isContainerId, ownsNamespace, type Container, type ContainerHooks, type MountConfig } from './container.js';
import { isEnvEntry } from './env.js';
import { OCI_FIELDS, checkMountNamespace } from './linux-checks.js';
import { convertDevices, convertNamespaces, fail } from './oci-linux.js';
import { refuseUnsupported } from './oci-unsupported.js';
import { ociSeccomp } from './seccomp.js';
import { checkOciLimits } from './oci-limits.js';
import { inOciTerms } from './oci-paths.js';
import { validateContainer } from './validate.js';
import { isBindMount } from './mountopts.js';
import { buildOciSpecSchema, type OciSpec, type OciSpecSchema } from './oci-schema.js';
import type { ZodApi } from './zod.js';
import { processAttributesOf } from './process-attrs.js';

export { OCI_NAMESPACE_TYPES, type OciSpec, type OciSpecSchema } from './oci-schema.js';

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

let schema: OciSpecSchema | undefined;

/**
 * The config.json schema (oci-schema.ts), built on first use: zod is loaded then, not at
 * import. A valid config.json does not need it (the precompiled table of oci-check.ts accepts
 * it); it is built for one the table does not accept, to decide and to name the problems. The
 * `ns` executable's bundle replaces this `require` with its own copy of the parts in zod.ts
 * (packages/cli/scripts/bundle.mjs).
 */
export function ociSpecSchema(): OciSpecSchema {
  if (!schema) {
    const z = createRequire(import.meta.url)('zod/mini') as ZodApi;
    schema = buildOciSpecSchema(z);
  }
  return schema;
}


// ---------------------------------------------------------------------------------------------
// Parsing and error messages
// ---------------------------------------------------------------------------------------------

/** `process.args[1]`, `linux.sysctl["net.ipv4.ip_forward"]`: a JSON path as written in docs. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A short rendering of a received value: `-1`, `"abc"`, `array`. */
function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
  }
  return typeName(value);
}

const EXPECTED_NAMES: Record<string, string> = { int: 'integer', record: 'object', map: 'object' };

function describeIssue(issue: Zod.core.$ZodIssue, input: unknown): string {
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      if (value === undefined) return `missing, expected ${expected}`;
      if (expected === 'integer') return `expected integer, received ${show(value)}`;
      return `expected ${expected}, received ${typeName(value)}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, received ${show(value)}`;
    case 'too_small':
    case 'too_big': {
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      if (issue.origin === 'string' && issue.code === 'too_small' && Number(bound) === 1) {
        return 'expected a non-empty string, received ""';
      }
      if (issue.origin === 'array') {
        const length = Array.isArray(value) ? value.length : 0;
        return `expected ${op} ${String(bound)} items, received ${length}`;
      }
      if (issue.origin === 'string') {
        return `expected a string of length ${op} ${String(bound)}, received ${show(value)}`;
      }
      return `expected number ${op} ${String(bound)}, received ${show(value)}`;
    }
    case 'custom':
      return `${issue.message}, received ${show(value)}`;
    default:
      return issue.message;
  }
}

function parseWith(json: unknown, source: string): OciSpec {
  // The precompiled schema first: a valid config.json needs no zod (oci-check.ts).
  const accepted = acceptOciSpec(json);
  if (accepted !== undefined) return accepted as OciSpec;
  const result = ociSpecSchema().safeParse(json);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const parts = issues.map((issue) => {
    const path = formatPath(issue.path);
    return `${path ? `${path}: ` : ''}${describeIssue(issue, json)}`;
  });
  const first = issues[0] ? formatPath(issues[0].path) : '';
  throw new NsError(ErrorCode.CONFIG, `${source}: ${parts.join('; ')}`, first ? { path: first } : {});
}

/**
 * Validate a parsed config.json value against the OCI runtime-spec v1.x schema (config.md,
 * config-linux.md). Unknown fields are kept; known fields must have the spec's types.
 *
 * @param json any JSON value (the result of `JSON.parse`)
 * @returns the same data, typed as {@link OciSpec}
 * @throws NsError `ERR_NS_CONFIG` listing every problem, `; `-separated, each with its JSON path
 *   and what was expected: `config.json: process.args[1]: expected string, received number`.
 *   `error.path` is the JSON path of the first problem.
 */
export function parseOciSpec(json: unknown): OciSpec {
  return parseWith(json, 'config.json');
}

/**
 * Read and validate `<bundleDir>/config.json` (runtime-spec bundle.md: the bundle holds
 * config.json and, usually, the root filesystem).
 *
 * @param bundleDir the bundle directory, absolute or relative to the working directory
 * @throws NsError `ERR_NS_NOT_FOUND` when config.json does not exist (`path` is the file);
 *   the errno name (`EACCES`, `ELOOP` ...) when it cannot be opened; `ERR_NS_CONFIG` when it
 *   is not a regular file, is over 16 MiB or not UTF-8 (readConfigFile()), is not JSON (naming
 *   the file and the parser's message), holds a lone surrogate, or does not fit the schema (see
 *   {@link parseOciSpec}; the message starts with the file's path).
 */
export function loadOciSpec(bundleDir: string): OciSpec {
  const file = join(resolve(bundleDir), 'config.json');
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (err) {
    if (err instanceof NsError && err.code === ErrorCode.NOT_FOUND) {
      throw new NsError(ErrorCode.NOT_FOUND, `no config.json in bundle ${bundleDir}: ${file} does not exist`, { path: file, cause: err });
    }
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new NsError(ErrorCode.CONFIG, `${file}: invalid JSON: ${(cause as Error).message}`, { path: file, cause });
  }
  const lone = loneSurrogatePath(text, json);
  if (lone !== null) throw new NsError(ErrorCode.CONFIG, `${file}: ${lone}: a lone UTF-16 surrogate (\\uD800-\\uDFFF), not text`, { path: lone });
  return parseWith(json, file);
}

// ---------------------------------------------------------------------------------------------
// Conversion to Container
// ---------------------------------------------------------------------------------------------

/**
 * Convert an OCI config.json (validated with {@link parseOciSpec} first, so a raw
 * `JSON.parse` result is fine) into the library's {@link Container}, following runtime-spec
 * config.md and config-linux.md and runc's specconv where the spec leaves room.
 *
 * - `root.path` relative to the bundle is made absolute (config.md "Root"); `root` is required.
 * - `process.args` must be a non-empty array (required for run/start); `process.env` entries
 *   must be `KEY=value`; `process.cwd` must be absolute (default `/`).
 * - `user` is `"<uid>:<gid>"` from `process.user` (0:0 when absent); when only
 *   `process.user.username` is given, it is used as the name (`"<name>[:<gid>]"`), looked up
 *   later in the container's /etc/passwd.
 * - `process.capabilities` become `capabilitySets`, a set it leaves out empty (as runc); a name this ns or the running kernel
 *   does not know is left out, as runc does, and {@link ociWarnings} names it
 *   (`process.capabilities.bounding[2]: unknown capability "CAP_FOO", ignored`).
 * - `linux.namespaces` map 1:1. Duplicate types are an error (config-linux.md "Namespaces"),
 *   including a network namespace joined by `path` together with a new one; `path` must be
 *   absolute (the file is checked when the container starts). A type left out is shared with
 *   the runtime; without a mount namespace of its own, what needs one is refused here
 *   (`mounts`, `linux.maskedPaths` ...: see checkMountNamespace()).
 * - `linux.devices` keep their order, checked by checkDevices() (a path below /dev, c/b/u/p,
 *   device numbers the kernel holds, `fileMode` 0..0o7777).
 * - `hostname` needs a new UTS namespace (a `uts` entry without `path`), as in runc.
 * - `mounts` keep their order; relative destinations are taken relative to `/` (as runc does),
 *   relative bind-mount sources relative to the bundle (config.md "Mounts").
 * - Fields that are valid but not applied yet are listed by {@link ociWarnings}.
 *
 * @param spec a config.json value (parsed JSON or an {@link OciSpec})
 * @param options `bundle`: the bundle directory (made absolute); `id`: the container id,
 *   `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`; `args`: a command replacing `process.args`
 * @throws NsError `ERR_NS_CONFIG` naming the JSON path of the offending field (`error.path`).
 */
export function fromOciSpec(spec: unknown, options: { bundle: string; id: string; args?: string[] }): Container {
  return specToContainer(parseOciSpec(spec), options);
}

/**
 * fromOciSpec() of a spec parseOciSpec() returned (not parsed again; not changed).
 * @internal fromOciSpec() and containerFromBundle(), which parses a bundle's config.json once.
 */
export function specToContainer(spec: OciSpec, options: { bundle: string; id: string; args?: string[] }): Container {
  // A command given on the command line stands in for process.args (also when it is missing).
  const oci = options.args?.length ? { ...spec, process: { ...(spec.process ?? {}), args: [...options.args] } } : spec;
  if (!isContainerId(options.id)) {
    throw configError(`container id ${JSON.stringify(options.id)} is invalid: expected ${CONTAINER_ID_RULE}`, 'id');
  }
  const bundle = resolve(options.bundle);
  refuseUnsupported(oci, oci.root?.path ? resolve(bundle, oci.root.path) : undefined);
  checkOciLimits(oci, fail);
  const proc = oci.process;
  if (proc === undefined) fail('process', 'missing, the process to run is required');
  if (proc.args === undefined || proc.args.length === 0) {
    fail('process.args', 'expected a non-empty array of strings (the command to run)');
  }
  proc.args.forEach((arg, i) => {
    if (arg.includes('\0')) fail(`process.args[${i}]`, 'contains a NUL byte');
  });
  if (proc.args[0] === '') fail('process.args[0]', 'expected a non-empty string, received ""');
  const env = proc.env ?? [];
  env.forEach((entry, i) => {
    if (!isEnvEntry(entry) || entry.includes('\0')) {
      fail(`process.env[${i}]`, `expected KEY=value, received ${JSON.stringify(entry)}`);
    }
  });
  const cwd = proc.cwd === undefined || proc.cwd === '' ? '/' : proc.cwd;
  if (!isAbsolute(cwd)) fail('process.cwd', `expected an absolute path, received ${JSON.stringify(cwd)}`);

  if (oci.root === undefined) fail('root', 'missing, the root filesystem (root.path) is required');
  const rootfs = resolve(bundle, oci.root.path);

  const u = proc.user;
  for (const key of ['uid', 'gid'] as const) {
    if (u?.[key] === 0xffff_ffff) fail(`process.user.${key}`, `4294967295 is (${key}_t)-1, no ${key === 'uid' ? 'user' : 'group'} (setresuid(2) leaves the id unchanged with it)`);
  }
  let userSpec: string;
  if (u?.uid === undefined && u?.username !== undefined && u.username !== '') {
    userSpec = u.gid === undefined ? u.username : `${u.username}:${u.gid}`;
  } else {
    userSpec = `${u?.uid ?? 0}:${u?.gid ?? 0}`;
  }

  const namespaces = convertNamespaces(oci.linux?.namespaces ?? []);
  if (oci.hostname !== undefined && oci.hostname !== '') {
    if (!ownsNamespace({ namespaces }, 'uts')) {
      fail('hostname', 'setting a hostname needs a new UTS namespace (a "uts" entry without path in linux.namespaces)');
    }
  }

  const container: Container = {
    id: options.id,
    rootfs,
    readonly: oci.root.readonly ?? false,
    args: [...proc.args],
    env: [...env],
    cwd: normalize(cwd),
    user: userSpec,
    namespaces,
    terminal: proc.terminal ?? false,
    bundle,
  };
  if (u?.additionalGids !== undefined) container.additionalGids = [...u.additionalGids];
  if (u?.umask !== undefined) container.umask = u.umask;
  if (proc.noNewPrivileges !== undefined) container.noNewPrivileges = proc.noNewPrivileges;
  if (proc.rlimits !== undefined) {
    proc.rlimits.forEach((r, i) => {
      const first = proc.rlimits!.findIndex((o) => o.type === r.type);
      if (first < i) fail(`process.rlimits[${i}].type`, `${r.type} is also process.rlimits[${first}] (config.md: a type given twice is an error)`);
    });
    container.rlimits = proc.rlimits.map((r) => ({ type: r.type, soft: r.soft, hard: r.hard }));
  }
  if (proc.capabilities !== undefined) {
    // Names this ns or the kernel does not know are left out, as runc (ociWarnings names them).
    // A set the object leaves out is empty, as runc reads it: podman's `--cap-drop ALL` is
    // `"capabilities": {}`, which must grant nothing (the library's defaults are for callers
    // that give no sets at all).
    const sets = knownCapabilitySets(proc.capabilities, []);
    for (const set of CAPABILITY_SETS) sets[set] ??= [];
    try {
      resolveCapabilitySets(sets);
    } catch (err) {
      const message = (err as Error).message;
      fail(/^process\.capabilities\.\w+/.exec(message)?.[0] ?? 'process.capabilities', message.replace(/^process\.capabilities\.\w+: /, ''));
    }
    container.capabilitySets = sets;
  }
  if (proc.oomScoreAdj !== undefined) container.oomScoreAdj = proc.oomScoreAdj;
  Object.assign(container, processAttributesOf(proc, oci.linux));
  if (oci.linux?.timeOffsets !== undefined) container.timeOffsets = structuredClone(oci.linux.timeOffsets);
  if (oci.hostname !== undefined && oci.hostname !== '') container.hostname = oci.hostname;
  if (oci.domainname !== undefined && oci.domainname !== '') container.domainname = oci.domainname;
  // The console's size, with a terminal only (config.md: ignored otherwise).
  if (proc.terminal && proc.consoleSize !== undefined) container.consoleSize = { height: proc.consoleSize.height, width: proc.consoleSize.width };
  if (oci.mounts !== undefined) {
    container.mounts = oci.mounts.map((m): MountConfig => {
      const out: MountConfig = {
        destination: isAbsolute(m.destination) ? m.destination : `/${m.destination}`,
      };
      if (m.type !== undefined) out.type = m.type;
      if (m.source !== undefined) {
        out.source = isBindMount(m) && !isAbsolute(m.source) ? resolve(bundle, m.source) : m.source;
      }
      if (m.options !== undefined) out.options = [...m.options];
      if (m.uidMappings !== undefined) out.uidMappings = m.uidMappings.map((x) => ({ ...x }));
      if (m.gidMappings !== undefined) out.gidMappings = m.gidMappings.map((x) => ({ ...x }));
      return out;
    });
  }
  if (oci.linux?.devices !== undefined) container.devices = convertDevices(oci.linux.devices);
  if (oci.linux?.maskedPaths !== undefined) container.maskedPaths = [...oci.linux.maskedPaths];
  if (oci.linux?.readonlyPaths !== undefined) container.readonlyPaths = [...oci.linux.readonlyPaths];
  if (oci.linux?.rootfsPropagation !== undefined) container.rootfsPropagation = oci.linux.rootfsPropagation;
  if (oci.linux?.sysctl !== undefined) container.sysctl = { ...oci.linux.sysctl };
  if (oci.linux?.resources !== undefined) container.resources = structuredClone(oci.linux.resources) as LinuxResources;
  if (oci.linux?.cgroupsPath !== undefined) container.cgroupsPath = oci.linux.cgroupsPath;
  if (oci.hooks !== undefined) container.hooks = structuredClone(oci.hooks) as ContainerHooks;
  if (oci.annotations !== undefined && Object.keys(oci.annotations).length > 0) container.annotations = { ...oci.annotations };
  if (oci.linux?.seccomp !== undefined && oci.linux.seccomp !== null) container.seccomp = ociSeccomp(oci.linux.seccomp);
  const idMap = (list: { containerID: number; hostID: number; size: number }[]) => list.map(({ containerID, hostID, size }) => ({ containerID, hostID, size }));
  const user = namespaces.findIndex((ns) => ns.type === 'user');
  for (const key of ['uidMappings', 'gidMappings'] as const) {
    if (!oci.linux?.[key]?.length) continue;
    if (user < 0) fail(`linux.${key}`, 'id mappings need a user namespace in linux.namespaces');
    if (namespaces[user]!.path !== undefined) fail(`linux.${key}`, `the user namespace joined by path (linux.namespaces[${user}]) has its own id maps; leave them out`);
  }
  if (oci.linux?.uidMappings !== undefined) container.uidMappings = idMap(oci.linux.uidMappings);
  if (oci.linux?.gidMappings !== undefined) container.gidMappings = idMap(oci.linux.gidMappings);
  checkMountNamespace(container, OCI_FIELDS, fail);
  // What validateContainer() checks of the Container, named by config.json's JSON paths. A
  // missing rootfs is its last check and is left to the run (`ns spec` writes configs for one
  // not made yet), and so are the id maps of a user namespace: rootless mode (withRootless())
  // fills in missing ones.
  const probe: Container = { ...container };
  if (ownsNamespace(container, 'user')) {
    probe.uidMappings ??= [{ containerID: 0, hostID: 0, size: 1 }];
    probe.gidMappings ??= [{ containerID: 0, hostID: 0, size: 1 }];
  }
  try {
    inOciTerms(() => validateContainer(probe));
  } catch (err) {
    const rootfsMissing = err instanceof NsError && err.path === rootfs && (err.code === ErrorCode.NOT_FOUND || err.code === 'ENOTDIR');
    if (!rootfsMissing) throw err;
  }
  return container;
}

// ---------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------

/**
 * `process.capabilities` as the container's `capabilitySets`, without the names this ns or the
 * running kernel does not know; one warning per name left out goes to `warnings`.
 * @internal fromOciSpec() and ociWarnings()
 */
export function knownCapabilitySets(caps: NonNullable<NonNullable<OciSpec['process']>['capabilities']>, warnings: string[]): NonNullable<Container['capabilitySets']> {
  const sets: NonNullable<Container['capabilitySets']> = {};
  for (const set of CAPABILITY_SETS) {
    const list = caps[set];
    if (list !== undefined) sets[set] = knownCapabilities(list, `process.capabilities.${set}`, warnings);
  }
  return sets;
}
