/**
 * OCI runtime-spec `config.json`: a zod schema (validation at the edge), a loader for bundles,
 * the converter to the library's own {@link Container}, and the default spec `ns spec` writes.
 *
 * Field names and shapes follow the OCI runtime specification v1.x, `config.md` and
 * `config-linux.md` (Go bindings: `specs-go/config.go`). Known fields are strictly typed;
 * unknown fields are accepted and kept (the spec's extensibility rule: "runtimes MUST ignore
 * unknown properties").
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { z } from 'zod';
import { ignoredAmbient, resolveCapabilitySets } from '@ns/capabilities';
import { ErrorCode, NsError, configError } from '@ns/syscalls';
import { knownCapabilities } from './capabilities.js';
import type { Container, MountConfig, NamespaceConfig, NamespaceType } from './container.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './defaults.js';
import { buildOciSpecSchema, type OciSpec, type OciSpecSchema } from './oci-schema.js';

export { OCI_NAMESPACE_TYPES, type OciSpec, type OciSpecSchema } from './oci-schema.js';

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

let schema: OciSpecSchema | undefined;

/** The config.json schema, built on first use (zod is loaded then, not at import). */
export function ociSpecSchema(): OciSpecSchema {
  if (!schema) {
    const { z } = createRequire(import.meta.url)('zod') as typeof import('zod');
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

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
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
 *   the errno name (`EACCES`, `EISDIR` ...) when it cannot be read; `ERR_NS_CONFIG` when it is
 *   not JSON (naming the file and the parser's message) or does not fit the schema (see
 *   {@link parseOciSpec}; the message starts with the file's path).
 */
export function loadOciSpec(bundleDir: string): OciSpec {
  const file = join(resolve(bundleDir), 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') {
      throw new NsError(ErrorCode.NOT_FOUND, `no config.json in bundle ${bundleDir}: ${file} does not exist`, {
        path: file,
        cause,
      });
    }
    throw new NsError(code, `cannot read ${file}: ${(cause as Error).message}`, {
      path: file,
      syscall: 'open',
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new NsError(ErrorCode.CONFIG, `${file}: invalid JSON: ${(cause as Error).message}`, { path: file, cause });
  }
  return parseWith(json, file);
}

// ---------------------------------------------------------------------------------------------
// Conversion to Container
// ---------------------------------------------------------------------------------------------

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function isBindMount(m: { type?: string | undefined; options?: string[] | undefined }): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function fail(path: string, message: string): never {
  throw configError(`config.json: ${path}: ${message}`, path);
}

function convertNamespaces(list: NonNullable<NonNullable<OciSpec['linux']>['namespaces']>): NamespaceConfig[] {
  const seen = new Map<NamespaceType, number>();
  const out: NamespaceConfig[] = [];
  list.forEach((ns, i) => {
    const path = ns.path === '' ? undefined : ns.path;
    if (path !== undefined && !isAbsolute(path)) {
      fail(`linux.namespaces[${i}].path`, `expected an absolute path, received ${JSON.stringify(path)}`);
    }
    const previous = seen.get(ns.type);
    if (previous !== undefined) {
      const other = list[previous];
      const otherPath = other?.path === '' ? undefined : other?.path;
      if (ns.type === 'network' && (path === undefined) !== (otherPath === undefined)) {
        fail(
          `linux.namespaces[${i}]`,
          `joining an existing network namespace (path ${JSON.stringify(path ?? otherPath)}) and creating ` +
            `a new one (linux.namespaces[${path === undefined ? i : previous}]) cannot be combined`,
        );
      }
      fail(
        `linux.namespaces[${i}].type`,
        `duplicate namespace type ${JSON.stringify(ns.type)} (also linux.namespaces[${previous}])`,
      );
    }
    seen.set(ns.type, i);
    out.push(path === undefined ? { type: ns.type } : { type: ns.type, path });
  });
  return out;
}

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
 * - `process.capabilities` become `capabilitySets`; a name this ns or the running kernel
 *   does not know is left out, as runc does, and {@link ociWarnings} names it
 *   (`process.capabilities.bounding[2]: unknown capability "CAP_FOO", ignored`).
 * - `linux.namespaces` map 1:1. Duplicate types are an error (config-linux.md "Namespaces"),
 *   including a network namespace joined by `path` together with a new one; `path` must be
 *   absolute.
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
  const oci = parseOciSpec(spec);
  // A command given on the command line stands in for process.args (also when it is missing).
  if (options.args?.length) oci.process = { ...(oci.process ?? {}), args: [...options.args] };
  if (!CONTAINER_ID.test(options.id)) {
    throw configError(
      `container id ${JSON.stringify(options.id)} is invalid: expected [A-Za-z0-9][A-Za-z0-9_.-]{0,127}`,
      'id',
    );
  }
  const bundle = resolve(options.bundle);
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
    const eq = entry.indexOf('=');
    if (eq <= 0 || entry.includes('\0')) {
      fail(`process.env[${i}]`, `expected KEY=value, received ${JSON.stringify(entry)}`);
    }
  });
  const cwd = proc.cwd === undefined || proc.cwd === '' ? '/' : proc.cwd;
  if (!isAbsolute(cwd)) fail('process.cwd', `expected an absolute path, received ${JSON.stringify(cwd)}`);

  if (oci.root === undefined) fail('root', 'missing, the root filesystem (root.path) is required');
  const rootfs = resolve(bundle, oci.root.path);

  const u = proc.user;
  let userSpec: string;
  if (u?.uid === undefined && u?.username !== undefined && u.username !== '') {
    userSpec = u.gid === undefined ? u.username : `${u.username}:${u.gid}`;
  } else {
    userSpec = `${u?.uid ?? 0}:${u?.gid ?? 0}`;
  }

  const namespaces = convertNamespaces(oci.linux?.namespaces ?? []);
  if (oci.hostname !== undefined && oci.hostname !== '') {
    if (!namespaces.some((ns) => ns.type === 'uts' && ns.path === undefined)) {
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
    container.rlimits = proc.rlimits.map((r) => ({ type: r.type, soft: r.soft, hard: r.hard }));
  }
  if (proc.capabilities !== undefined) {
    // Names this ns or the kernel does not know are left out, as runc (ociWarnings names them).
    const sets = knownCapabilitySets(proc.capabilities, []);
    try {
      resolveCapabilitySets(sets);
    } catch (err) {
      const message = (err as Error).message;
      fail(/^process\.capabilities\.\w+/.exec(message)?.[0] ?? 'process.capabilities', message.replace(/^process\.capabilities\.\w+: /, ''));
    }
    container.capabilitySets = sets;
  }
  if (proc.oomScoreAdj !== undefined) container.oomScoreAdj = proc.oomScoreAdj;  if (oci.hostname !== undefined && oci.hostname !== '') container.hostname = oci.hostname;
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
      return out;
    });
  }
  if (oci.linux?.maskedPaths !== undefined) container.maskedPaths = [...oci.linux.maskedPaths];
  if (oci.linux?.readonlyPaths !== undefined) container.readonlyPaths = [...oci.linux.readonlyPaths];
  if (oci.linux?.rootfsPropagation !== undefined) container.rootfsPropagation = oci.linux.rootfsPropagation;
  if (oci.linux?.sysctl !== undefined) container.sysctl = { ...oci.linux.sysctl };
  const idMap = (list: { containerID: number; hostID: number; size: number }[]) => list.map(({ containerID, hostID, size }) => ({ containerID, hostID, size }));
  if (oci.linux?.uidMappings !== undefined) container.uidMappings = idMap(oci.linux.uidMappings);
  if (oci.linux?.gidMappings !== undefined) container.gidMappings = idMap(oci.linux.gidMappings);
  return container;
}

// ---------------------------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------------------------

/**
 * `process.capabilities` as the container's `capabilitySets`, without the names this ns or the
 * running kernel does not know; one warning per name left out goes to `warnings`.
 */
function knownCapabilitySets(caps: NonNullable<NonNullable<OciSpec['process']>['capabilities']>, warnings: string[]): NonNullable<Container['capabilitySets']> {
  const sets: NonNullable<Container['capabilitySets']> = {};
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
    const list = caps[set];
    if (list !== undefined) sets[set] = knownCapabilities(list, `process.capabilities.${set}`, warnings);
  }
  return sets;
}

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
 * mappings, seccomp, noNewPrivileges, rlimits, cgroup resources) are included, and each
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
    if (present(linux.cgroupsPath)) note('linux.cgroupsPath');
    if (present(linux.resources)) note('linux.resources', 'cgroup limits are not applied yet');
    if (present(linux.seccomp)) note('linux.seccomp', 'no seccomp filter is installed yet');
    if (present(linux.mountLabel)) note('linux.mountLabel', lsmNote('selinux'));
    if (present(linux.intelRdt)) note('linux.intelRdt');
    if (present(linux.personality)) note('linux.personality');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Default spec
// ---------------------------------------------------------------------------------------------

/**
 * The config.json `ns spec` writes: what `runc spec` writes (runc 1.2, libcontainer/specconv
 * Example()) with `ociVersion` "1.2.0" and hostname "ns": a terminal `sh` as root with
 * CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE (bounding, effective, permitted),
 * RLIMIT_NOFILE 1024, noNewPrivileges, a read-only `rootfs` root, the standard /proc, /dev,
 * /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup mounts, a deny-all device cgroup
 * rule, new pid, network, ipc, uts, mount and cgroup namespaces, and runc's masked and
 * read-only paths.
 *
 * @param options `args` (default `["sh"]`), `terminal` (default true), `rootfs` (root.path,
 *   default "rootfs", relative to the bundle), `hostname` (default "ns")
 * @returns a fresh object each call (safe to modify); never throws
 */
export function defaultOciSpec(
  options: { args?: string[]; terminal?: boolean; rootfs?: string; hostname?: string } = {},
): OciSpec {
  const caps = (): string[] => ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: options.terminal ?? true,
      user: { uid: 0, gid: 0 },
      args: [...(options.args ?? ['sh'])],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps(), effective: caps(), permitted: caps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: options.rootfs ?? 'rootfs', readonly: true },
    hostname: options.hostname ?? 'ns',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [
        { type: 'pid' },
        { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
      ],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}
