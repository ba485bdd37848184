/**
 * `ns run [options] [ID] [-- CMD ARGS...]`: create and start a container in one go, as
 * `runc run` (and `docker run` for the -e/-v/--cap-* options): in the foreground, its state
 * recorded under the state root while it runs, or with `-d` detached, its state kept until
 * `ns delete`.
 *
 * The config comes from, in this order: `--bundle DIR` (DIR/config.json), `--rootfs DIR`
 * (defaults on that root filesystem), a config.json in the working directory (the working
 * directory as the bundle, like runc), else the embedded default (a read-only sandbox of the
 * host). The options below then change it.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { CAPABILITIES, formatCapability, parseCapability } from '@ns/capabilities';
import {
  CONTAINER_ID,
  DEFAULT_MOUNTS,
  ErrorCode,
  NsError,
  StateStore,
  adjustCapabilities,
  embeddedDefault,
  formatPlan,
  fromOciSpec,
  generateId,
  loadOciSpec,
  ociWarnings,
  planContainer,
  rootfsContainer,
  type Container,
  type MountConfig,
  type NamespaceConfig,
} from '@ns/namespaces';
import { openOutputFiles, runDetached, type OpenedOutput } from '../detach.js';
import { EXIT, errorLine } from '../errors.js';
import type { ResolvedIo } from '../io.js';
import { startContainer } from '../start.js';

/** The options of `ns run`, as parsed from the command line (every field optional). */
export interface RunOptions {
  /** The first positional argument: the container id. */
  idArgument?: string;
  /** `--id ID` (the same as the positional; both may be given only when they agree). */
  id?: string;
  /** `-b, --bundle DIR`: read DIR/config.json. */
  bundle?: string;
  /** `--rootfs DIR`: the default config on this root filesystem. */
  rootfs?: string;
  /** The command after `--`: replaces `process.args`. */
  command?: string[];
  /** `--hostname NAME`. */
  hostname?: string;
  /** `-u, --user USER[:GROUP]` (names looked up in the container's /etc/passwd, /etc/group). */
  user?: string;
  /** `--cwd DIR`: working directory inside the container (absolute). */
  cwd?: string;
  /** `-e, --env K=V` or `-e K` (value from ns's own environment; skipped when unset). */
  env?: string[];
  /** `-t, --tty`: allocate a pseudo-terminal. */
  tty?: boolean;
  /** `--readonly`: mount the root filesystem read-only. */
  readonly?: boolean;
  /** `--net none|host|PATH`. */
  net?: string;
  /** `--cap-add CAP` (or `ALL`). */
  capAdd?: string[];
  /** `--cap-drop CAP` (or `ALL`). */
  capDrop?: string[];
  /** `-v, --volume HOST:CONTAINER[:ro|rw]`. */
  volume?: string[];
  /** `--dry-run`: print the plan, start nothing. */
  dryRun?: boolean;
  /** `-d, --detach`: start the container, record its state and return; it keeps running. */
  detach?: boolean;
  /** `--stdout FILE`: append the container's stdout to FILE (default: ns's own, /dev/null with -d). */
  stdout?: string;
  /** `--stderr FILE`: append the container's stderr to FILE. */
  stderr?: string;
  /** `--log FILE`: append both stdout and stderr to FILE (unless --stdout / --stderr say otherwise). */
  log?: string;
}

/** What {@link buildContainer} reads besides the options, and where it reports warnings. */
export interface BuildContext {
  /** Environment `-e KEY` copies from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Receives warnings (OCI fields not applied yet, ignored options). */
  warnings?: string[];
}

/** Which config source {@link buildContainer} picked. */
export type ContainerSource = 'bundle' | 'rootfs' | 'cwd-bundle' | 'default';

function usage(message: string, path?: string): NsError {
  return new NsError(ErrorCode.CONFIG, message, path === undefined ? {} : { path });
}

/** The source `options` select in `cwd`: bundle > rootfs > ./config.json > default. */
export function selectSource(options: Pick<RunOptions, 'bundle' | 'rootfs'>, cwd: string): ContainerSource {
  if (options.bundle !== undefined) return 'bundle';
  if (options.rootfs !== undefined) return 'rootfs';
  if (existsSync(join(cwd, 'config.json'))) return 'cwd-bundle';
  return 'default';
}

function containerId(options: RunOptions): string {
  if (options.idArgument !== undefined && options.id !== undefined && options.idArgument !== options.id) {
    throw usage(`container id given twice: ${JSON.stringify(options.idArgument)} and --id ${JSON.stringify(options.id)}`, 'id');
  }
  const id = options.idArgument ?? options.id;
  if (id === undefined) return generateId();
  if (!CONTAINER_ID.test(id)) {
    const hint = options.idArgument !== undefined ? '; to run a command, put it after --: ns run [ID] -- CMD ARGS...' : '';
    throw usage(`invalid container id ${JSON.stringify(id)} (expected [A-Za-z0-9][A-Za-z0-9_.-]{0,127})${hint}`, 'id');
  }
  return id;
}

function fromBundle(dir: string, id: string, warnings: string[]): Container {
  const spec = loadOciSpec(dir);
  warnings.push(...ociWarnings(spec));
  return fromOciSpec(spec, { bundle: dir, id });
}

/**
 * `-e` entries applied to `base`: `K=V` sets K, `K` alone copies K from `hostEnv` (and is
 * skipped when unset there, as docker does). A key set again replaces the earlier entry in place.
 * @throws NsError `ERR_NS_CONFIG` for an entry with an empty key.
 */
export function applyEnv(base: readonly string[], entries: readonly string[], hostEnv: NodeJS.ProcessEnv): string[] {
  const out = [...base];
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (entry === '' || eq === 0) throw usage(`-e ${JSON.stringify(entry)}: expected KEY=value or KEY`, 'env');
    if (entry.includes('\0')) throw usage(`-e ${JSON.stringify(entry)}: contains a NUL byte`, 'env');
    let full = entry;
    if (eq < 0) {
      const value = hostEnv[entry];
      if (value === undefined) continue;
      full = `${entry}=${value}`;
    }
    const key = full.slice(0, full.indexOf('=') + 1);
    const at = out.findIndex((e) => e.startsWith(key));
    if (at < 0) out.push(full);
    else out[at] = full;
  }
  return out;
}

function canonicalCapability(name: string, option: string): string {
  if (name.toUpperCase() === 'ALL') return 'ALL';
  try {
    return formatCapability(parseCapability(name));
  } catch {
    throw usage(`${option}: unknown capability ${JSON.stringify(name)} (expected a name from capabilities(7), such as CAP_NET_ADMIN or NET_ADMIN, or ALL)`, option);
  }
}

/**
 * The capabilities kept after `--cap-add` / `--cap-drop`, as docker: `(base - drop) + add`;
 * `--cap-drop ALL` starts from nothing, `--cap-add ALL` from every known capability. Names
 * are case-insensitive, with or without `CAP_`, and come back as `CAP_...`.
 * @throws NsError `ERR_NS_CONFIG` naming an unknown capability.
 */
export function applyCapabilities(base: readonly string[], add: readonly string[], drop: readonly string[]): string[] {
  const adds = add.map((c) => canonicalCapability(c, '--cap-add'));
  const drops = drop.map((c) => canonicalCapability(c, '--cap-drop'));
  const all = CAPABILITIES.map((c) => c.name as string);
  const normalized = base.map((c) => {
    try {
      return formatCapability(parseCapability(c));
    } catch {
      return c; // left for the library to report
    }
  });
  const start = adds.includes('ALL') ? all : normalized;
  const kept = drops.includes('ALL') ? [] : start.filter((c) => !drops.includes(c));
  const added = adds.filter((c) => c !== 'ALL');
  return [...new Set([...kept, ...added])];
}

/**
 * `container` with `--cap-add` / `--cap-drop` applied to all its capability sets (the
 * library's adjustCapabilities(): dropped from every set, added to bounding, effective and
 * permitted, and for a non-root user to inheritable and ambient too), with docker's rules:
 * an explicit add wins over a drop of the same name, but `--cap-add ALL` still loses the
 * dropped ones. Names are case-insensitive, with or without `CAP_`.
 * @throws NsError `ERR_NS_CONFIG` naming the option and an unknown capability.
 */
export function changeCapabilities(container: Container, add: readonly string[], drop: readonly string[]): Container {
  const adds = add.map((c) => canonicalCapability(c, '--cap-add'));
  const drops = drop.map((c) => canonicalCapability(c, '--cap-drop'));
  if (adds.includes('ALL')) return adjustCapabilities(adjustCapabilities(container, { add: adds }), { drop: drops });
  return adjustCapabilities(container, { add: adds, drop: drops });
}

/**
 * The network namespace entry `--net` asks for: `none` a new namespace with only `lo`,
 * `host` none at all (the host's network), a path (with a slash) joins that namespace.
 * @throws NsError `ERR_NS_CONFIG` for another word, `ERR_NS_NOT_FOUND` for a missing path.
 */
export function applyNetwork(namespaces: readonly NamespaceConfig[], net: string, cwd: string): NamespaceConfig[] {
  let entry: NamespaceConfig | undefined;
  if (net === 'none') {
    entry = { type: 'network' };
  } else if (net === 'host') {
    entry = undefined;
  } else if (net.includes('/')) {
    const path = resolve(cwd, net);
    if (!existsSync(path)) {
      throw new NsError(ErrorCode.NOT_FOUND, `--net ${net}: ${path}: no such network namespace file`, { path });
    }
    entry = { type: 'network', path };
  } else {
    throw usage(`--net ${JSON.stringify(net)}: expected none, host or the path of a network namespace (/var/run/netns/NAME, /proc/PID/ns/net)`, 'net');
  }
  const out = namespaces.map((ns) => ({ ...ns }));
  const at = out.findIndex((ns) => ns.type === 'network');
  if (entry === undefined) return out.filter((ns) => ns.type !== 'network');
  if (at < 0) out.push(entry);
  else out[at] = entry;
  return out;
}

/**
 * One `-v HOST:CONTAINER[:ro|rw]` as a recursive bind mount. A relative HOST is taken from
 * `cwd`; CONTAINER must be absolute.
 * @throws NsError `ERR_NS_CONFIG` for a malformed volume, `ERR_NS_NOT_FOUND` when HOST is missing.
 */
export function parseVolume(spec: string, cwd: string): MountConfig {
  const parts = spec.split(':');
  const [host, destination, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !host || !destination) {
    throw usage(`-v ${JSON.stringify(spec)}: expected HOST:CONTAINER[:ro|rw]`, 'volume');
  }
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
    throw usage(`-v ${JSON.stringify(spec)}: unknown mode ${JSON.stringify(mode)} (expected ro or rw)`, 'volume');
  }
  if (!isAbsolute(destination)) {
    throw usage(`-v ${JSON.stringify(spec)}: the container path ${JSON.stringify(destination)} must be absolute`, 'volume');
  }
  const source = resolve(cwd, host);
  if (!existsSync(source)) {
    throw new NsError(ErrorCode.NOT_FOUND, `-v ${spec}: ${source}: no such file or directory`, { path: source });
  }
  return { destination, type: 'bind', source, options: mode === 'ro' ? ['rbind', 'ro'] : ['rbind'] };
}

/**
 * The container `ns run` would start: the source picked by {@link selectSource}, then the
 * options applied. Pure apart from reading the bundle's config.json and checking that paths
 * exist; the container is validated later, by planContainer() / exec().
 *
 * @param cwd directory relative paths (bundle, rootfs, volumes, --net) are taken from
 * @throws NsError `ERR_NS_CONFIG` for a bad option or config.json, `ERR_NS_NOT_FOUND` for a
 *   missing bundle config, volume source or network namespace.
 */
export function buildContainer(options: RunOptions, cwd: string, context: BuildContext = {}): Container {
  const warnings = context.warnings ?? [];
  const hostEnv = context.env ?? process.env;
  const id = containerId(options);
  const source = selectSource(options, cwd);
  let container: Container;
  switch (source) {
    case 'bundle':
      if (options.rootfs !== undefined) warnings.push("--rootfs is ignored with --bundle (the bundle's root.path is used)");
      container = fromBundle(resolve(cwd, options.bundle!), id, warnings);
      break;
    case 'rootfs':
      container = rootfsContainer(resolve(cwd, options.rootfs!), { id });
      break;
    case 'cwd-bundle':
      container = fromBundle(resolve(cwd), id, warnings);
      break;
    case 'default':
      container = embeddedDefault({ id });
      break;
  }

  if (options.command !== undefined && options.command.length > 0) container.args = [...options.command];
  if (options.env !== undefined && options.env.length > 0) container.env = applyEnv(container.env, options.env, hostEnv);
  if (options.hostname !== undefined) container.hostname = options.hostname;
  if (options.user !== undefined) container.user = options.user;
  if (options.cwd !== undefined) container.cwd = options.cwd;
  if (options.readonly) container.readonly = true;
  if (options.tty) container.terminal = true;
  if (options.net !== undefined) container.namespaces = applyNetwork(container.namespaces, options.net, cwd);

  const add = options.capAdd ?? [];
  const drop = options.capDrop ?? [];
  if (add.length > 0 || drop.length > 0) container = changeCapabilities(container, add, drop);

  const volumes = (options.volume ?? []).map((v) => parseVolume(v, cwd));
  if (volumes.length > 0) {
    const base = container.mounts ?? DEFAULT_MOUNTS.map((m) => ({ ...m, options: [...(m.options ?? [])] }));
    container.mounts = [...base, ...volumes];
  }
  return container;
}

/**
 * `ns run`: build the container, print warnings, then print the plan (`--dry-run`), start it
 * detached (`-d`, see {@link runDetached}), or start it in the foreground and return its exit
 * status (see {@link EXIT}). The state goes to `store` (default: the default state root).
 */
export async function runCommand(options: RunOptions, io: ResolvedIo, store?: StateStore): Promise<number> {
  const warnings: string[] = [];
  let container: Container;
  try {
    container = buildContainer(options, io.cwd, { env: io.env, warnings });
  } catch (err) {
    io.stderr(errorLine(err));
    return EXIT.FAILURE;
  }
  for (const w of warnings) io.stderr(`ns: warning: ${w}\n`);

  const files = { stdout: options.stdout, stderr: options.stderr, log: options.log };
  const hasFiles = files.stdout !== undefined || files.stderr !== undefined || files.log !== undefined;
  if (hasFiles && container.terminal && !options.detach) {
    io.stderr('ns: --stdout, --stderr and --log cannot be used with a terminal (-t): the output goes to the pty\n');
    return EXIT.FAILURE;
  }

  if (options.dryRun) {
    try {
      // In terminal mode the pty is only opened by exec(); show where it would go.
      const planIo = container.terminal ? { stdio: [], console: { fd: 0, path: '/dev/pts/N' } } : { stdio: [0, 1, 2] };
      const { plan } = planContainer(container, planIo);
      io.stdout(`${formatPlan(plan)}\n`);
      return 0;
    } catch (err) {
      io.stderr(errorLine(err));
      return EXIT.FAILURE;
    }
  }

  const defined = Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined));
  if (options.detach) {
    return runDetached(container, defined, store ?? new StateStore(), io);
  }
  let output: OpenedOutput | undefined;
  try {
    if (hasFiles) output = openOutputFiles(defined, io.cwd);
  } catch (err) {
    io.stderr(errorLine(err));
    return EXIT.FAILURE;
  }
  try {
    return await startContainer(container, io, {
      ...(store !== undefined ? { store } : {}),
      ...(output ? { stdio: ['inherit', output.stdout ?? 'inherit', output.stderr ?? 'inherit'] } : {}),
    });
  } finally {
    output?.close();
  }
}
