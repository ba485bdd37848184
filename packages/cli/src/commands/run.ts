/**
 * `ns run [options] [ID] [-- CMD ARGS...]`: create and start a container in one go, as
 * `runc run` (and `docker run` for the -e/-v/--cap-* options): in the foreground, its state
 * recorded under the state root while it runs, or with `-d` detached, its state kept until
 * `ns delete`.
 *
 * The config comes from, in this order: `--bundle DIR` (DIR/config.json), `--rootfs DIR`
 * (defaults on that root filesystem), when an ID is given a config.json in the working
 * directory (the working directory as the bundle, like `runc run ID`), else the embedded
 * default (a read-only sandbox of the host). The options below then change it.
 */
import { existsSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { CAPABILITIES, formatCapability, parseCapability, readLastCap, readProcessCapabilities } from '@ns/capabilities';
import {
  CONTAINER_ID,
  DEFAULT_MOUNTS,
  ErrorCode,
  NsError,
  StateStore,
  adjustCapabilities,
  dedupEnv,
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
import { absolutePath, baseDir, type ResolvedIo } from '../io.js';
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
  /** The command after `--`: replaces `process.args` (also a bundle's missing one). */
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
  /** `ns create`: set it up and leave it waiting for `ns start` (implies detach). */
  createOnly?: boolean;
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
  /**
   * Receives warnings (OCI fields not applied yet, capabilities of config.json left out,
   * `--cap-add` of a capability the running kernel lacks, ignored options).
   */
  warnings?: string[];
  /**
   * The bounding set `--cap-add` is limited to (a mask, as /proc/PID/status CapBnd), or null
   * for no limit. Default: see {@link ownBoundingSet}.
   */
  bounding?: bigint | null;
}

/** Which config source {@link buildContainer} picked. */
export type ContainerSource = 'bundle' | 'rootfs' | 'cwd-bundle' | 'default';

function usage(message: string, path?: string): NsError {
  return new NsError(ErrorCode.CONFIG, message, path === undefined ? {} : { path });
}

/**
 * The source `options` select in `cwd`: bundle > rootfs > ./config.json > default. As
 * `runc run ID`, the working directory is a bundle only when an id is given (the ID argument
 * or `--id`): `ns run -- CMD` never picks up an unrelated config.json.
 * @param cwd the working directory, or null when it no longer exists (never a bundle then)
 */
export function selectSource(
  options: Pick<RunOptions, 'bundle' | 'rootfs' | 'idArgument' | 'id'>,
  cwd: string | null,
): ContainerSource {
  if (options.bundle !== undefined) return 'bundle';
  if (options.rootfs !== undefined) return 'rootfs';
  const idGiven = options.idArgument !== undefined || options.id !== undefined;
  if (idGiven && cwd !== null && existsSync(join(cwd, 'config.json'))) return 'cwd-bundle';
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

/**
 * The bundle's config.json as a container. A command given after `--` is passed as
 * fromOciSpec()'s `args`, which stands in for `process.args` before validation, so a
 * config.json without one runs the command.
 */
function fromBundle(dir: string, id: string, warnings: string[], args: string[] | undefined): Container {
  const spec = loadOciSpec(dir);
  warnings.push(...ociWarnings(spec));
  const options = { bundle: dir, id, ...(args !== undefined && args.length > 0 ? { args: [...args] } : {}) };
  return fromOciSpec(spec, options as Parameters<typeof fromOciSpec>[1]);
}

/** The `TERM` a terminal gets when the environment has none (as docker). */
export const DEFAULT_TERM = 'TERM=xterm';

/** `env` with `TERM=xterm` added when it has no `TERM` (for a process given a terminal). */
export function withTerm(env: readonly string[]): string[] {
  return env.some((e) => e.startsWith('TERM=')) ? [...env] : [...env, DEFAULT_TERM];
}

/**
 * `-e` entries applied to `base`: `K=V` sets K, `K` alone copies K from `hostEnv` (and is
 * skipped when unset there, as docker does). As `runc exec --env`, the entries come after
 * `base`, and the result has each key once: the last entry of a key wins, at its place
 * ({@link dedupEnv}, what the container's process would see anyway).
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
    out.push(full);
  }
  return dedupEnv(out);
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
 * The bounding set `--cap-add` can draw from for `container`: when ns runs as root and the
 * container has no user namespace, its process inherits ns's own bounding set (CapBnd of
 * /proc/self/status) and cannot gain anything outside it; otherwise (a new user namespace
 * starts with a full bounding set) null, no limit. Null too when /proc cannot be read.
 */
export function ownBoundingSet(container: Pick<Container, 'namespaces'>): bigint | null {
  if (process.geteuid?.() !== 0) return null;
  if (container.namespaces.some((ns) => ns.type === 'user')) return null;
  try {
    return readProcessCapabilities('self').bounding;
  } catch {
    return null;
  }
}

/** The names of the capabilities in `mask` that the library and the running kernel know. */
function capabilitiesIn(mask: bigint): string[] {
  let last: number;
  try {
    last = readLastCap();
  } catch {
    last = Math.max(...CAPABILITIES.map((c) => c.value));
  }
  return CAPABILITIES.filter((c) => c.value <= last && (mask & (1n << BigInt(c.value))) !== 0n).map((c) => c.name as string);
}

/**
 * `container` with `--cap-add` / `--cap-drop` applied to all its capability sets (the
 * library's adjustCapabilities(): dropped from every set, added to bounding, effective and
 * permitted, and for a non-root user to inheritable and ambient too), with docker's rules:
 * an explicit add wins over a drop of the same name, but `--cap-add ALL` still loses the
 * dropped ones. Names are case-insensitive, with or without `CAP_`.
 *
 * With a `bounding` limit (default {@link ownBoundingSet}: ns as root, no user namespace),
 * `--cap-add ALL` adds only the capabilities in it, and a named one outside it is an error:
 * the container could not get it from this ns process.
 *
 * A name ns does not know at all is an error (a typo on the command line, as docker and
 * podman `--cap-add`); one ns knows but the running kernel does not (CAP_BPF below Linux
 * 5.8) is left out of `--cap-add` with a warning in `options.warnings`, as runc leaves out
 * such a name of a config.json (so a script written for a newer kernel still runs, with
 * less, never more).
 * @param options.lastCap the kernel's highest capability (default /proc/sys/kernel/cap_last_cap)
 * @throws NsError `ERR_NS_CONFIG` naming the option and an unknown capability, or one
 *   outside the bounding limit.
 */
export function changeCapabilities(
  container: Container,
  add: readonly string[],
  drop: readonly string[],
  options: { bounding?: bigint | null; warnings?: string[]; lastCap?: number } = {},
): Container {
  const adds = add.map((c) => canonicalCapability(c, '--cap-add'));
  const drops = drop.map((c) => canonicalCapability(c, '--cap-drop'));
  const last = options.lastCap ?? readLastCap();
  const named = [...new Set(adds.filter((c) => c !== 'ALL'))].filter((name) => {
    if (parseCapability(name) <= last) return true;
    options.warnings?.push(`--cap-add: ${name} is not known to the running kernel (cap_last_cap is ${last}), ignored`);
    return false;
  });
  const bounding = adds.length === 0 ? null : options.bounding !== undefined ? options.bounding : ownBoundingSet(container);
  if (bounding !== null) {
    for (const name of named) {
      if ((bounding & (1n << BigInt(parseCapability(name)))) === 0n) {
        throw usage(`--cap-add ${name}: not in the bounding set of this ns process`, 'capAdd');
      }
    }
  }
  if (adds.includes('ALL')) {
    // The library's ALL is every capability the kernel knows; limit it to what ns can pass on.
    const all = bounding === null ? ['ALL'] : capabilitiesIn(bounding);
    return adjustCapabilities(adjustCapabilities(container, { add: [...new Set([...all, ...named])] }), { drop: drops });
  }
  return adjustCapabilities(container, { add: named, drop: drops });
}

/** `TYPE:[INODE]`: how a namespace reads through /proc (readlink, mountinfo). */
const NS_NAME = /^(\w+):\[(\d+)\]$/;

/**
 * The type of the namespace file `path` (stat `st`), when it can be told: a /proc/PID/ns/*
 * link (also behind other symlinks) reads as `net:[INODE]`; a bind mount of one (`ip netns
 * add`) has `net:[INODE]` as its root in /proc/self/mountinfo.
 */
function namespaceType(path: string, st: Stats): string | undefined {
  let at = path;
  for (let hops = 0; hops < 40; hops++) {
    let target: string;
    try {
      target = readlinkSync(at);
    } catch {
      break; // not a symlink
    }
    const name = NS_NAME.exec(target);
    if (name) return name[1];
    at = resolve(dirname(at), target);
  }
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const name = NS_NAME.exec(line.split(' ')[3] ?? '');
      if (name && Number(name[2]) === st.ino) return name[1];
    }
  } catch {
    // no /proc: left to setns(2)
  }
  return undefined;
}

/**
 * Check that `path` (as given: `net`) is a network namespace file: it exists, can be
 * accessed, is on nsfs (the device of /proc/self/ns/net: every namespace inode is on that
 * one internal file system), and where its type can be told, is a network namespace.
 * @throws NsError `ERR_NS_NOT_FOUND` for a missing file, `EACCES` when it cannot be
 *   accessed, `ERR_NS_CONFIG` for a file that is not a network namespace.
 */
export function checkNetworkNamespace(path: string, net: string): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new NsError(ErrorCode.NOT_FOUND, `--net ${net}: ${path}: no such network namespace file`, { path, cause });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new NsError(code, `--net ${net}: permission denied`, { path, syscall: 'stat', cause });
    }
    throw new NsError(code, `--net ${net}: ${(cause as Error).message}`, { path, syscall: 'stat', cause });
  }
  let nsfs: number | undefined;
  try {
    nsfs = statSync('/proc/self/ns/net').dev;
  } catch {
    // no /proc: left to setns(2)
  }
  if (nsfs !== undefined && st.dev !== nsfs) throw usage(`--net ${net}: not a network namespace`, 'net');
  const type = namespaceType(path, st);
  if (type !== undefined && type !== 'net') throw usage(`--net ${net}: not a network namespace (a ${type} namespace)`, 'net');
}

/**
 * The network namespace entry `--net` asks for: `none` a new namespace with only `lo`,
 * `host` none at all (the host's network), a path (with a slash) joins that namespace.
 * @param cwd directory a relative path is taken from (null: the working directory is gone)
 * @throws NsError `ERR_NS_CONFIG` for another word or a file that is not a network
 *   namespace, `ERR_NS_NOT_FOUND` for a missing path, `EACCES` for one that cannot be accessed.
 */
export function applyNetwork(namespaces: readonly NamespaceConfig[], net: string, cwd: string | null): NamespaceConfig[] {
  let entry: NamespaceConfig | undefined;
  if (net === 'none') {
    entry = { type: 'network' };
  } else if (net === 'host') {
    entry = undefined;
  } else if (net.includes('/')) {
    const path = absolutePath(cwd, net, '--net');
    checkNetworkNamespace(path, net);
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
 * `cwd` (null: the working directory is gone); CONTAINER must be absolute and not `/`.
 * @throws NsError `ERR_NS_CONFIG` for a malformed volume, `ERR_NS_NOT_FOUND` when HOST is missing.
 */
export function parseVolume(spec: string, cwd: string | null): MountConfig {
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
  if (posix.resolve('/', destination) === '/') throw usage(`-v ${spec}: the destination cannot be /`, 'volume');
  const source = absolutePath(cwd, host, '-v');
  if (!existsSync(source)) {
    throw new NsError(ErrorCode.NOT_FOUND, `-v ${spec}: ${source}: no such file or directory`, { path: source });
  }
  return { destination, type: 'bind', source, options: mode === 'ro' ? ['rbind', 'ro'] : ['rbind'] };
}

/**
 * The container `ns run` would start: the source picked by {@link selectSource}, then the
 * options applied. Pure apart from reading the bundle's config.json, /proc/self/status (see
 * {@link ownBoundingSet}) and checking that paths exist; the container is validated later,
 * by planContainer() / exec().
 *
 * @param cwd directory relative paths (bundle, rootfs, volumes, --net) are taken from; null
 *   when the working directory no longer exists (relative paths are then refused)
 * @throws NsError `ERR_NS_CONFIG` for a bad option or config.json, `ERR_NS_NOT_FOUND` for a
 *   missing bundle config, volume source or network namespace.
 */
export function buildContainer(options: RunOptions, cwd: string | null, context: BuildContext = {}): Container {
  const warnings = context.warnings ?? [];
  const hostEnv = context.env ?? process.env;
  const id = containerId(options);
  if (options.hostname === '') throw usage('--hostname: empty', 'hostname');
  const source = selectSource(options, cwd);
  const command = options.command !== undefined && options.command.length > 0 ? options.command : undefined;
  let container: Container;
  switch (source) {
    case 'bundle':
      if (options.rootfs !== undefined) warnings.push("--rootfs is ignored with --bundle (the bundle's root.path is used)");
      container = fromBundle(absolutePath(cwd, options.bundle!, '--bundle'), id, warnings, command);
      break;
    case 'rootfs':
      container = rootfsContainer(absolutePath(cwd, options.rootfs!, '--rootfs'), { id });
      break;
    case 'cwd-bundle':
      container = fromBundle(resolve(cwd!), id, warnings, command);
      break;
    case 'default':
      container = embeddedDefault({ id });
      break;
  }

  if (command !== undefined) container.args = [...command];
  if (options.env !== undefined && options.env.length > 0) container.env = applyEnv(container.env, options.env, hostEnv);
  if (options.hostname !== undefined) container.hostname = options.hostname;
  if (options.user !== undefined) container.user = options.user;
  if (options.cwd !== undefined) container.cwd = options.cwd;
  if (options.readonly) container.readonly = true;
  if (options.tty) container.terminal = true;
  if (container.terminal) container.env = withTerm(container.env ?? []);
  if (options.net !== undefined) container.namespaces = applyNetwork(container.namespaces, options.net, cwd);

  const add = options.capAdd ?? [];
  const drop = options.capDrop ?? [];
  if (add.length > 0 || drop.length > 0) {
    container = changeCapabilities(container, add, drop, { warnings, ...(context.bounding !== undefined ? { bounding: context.bounding } : {}) });
  }

  const volumes = (options.volume ?? []).map((v) => parseVolume(v, cwd));
  const seen = new Set<string>();
  for (const v of volumes) {
    const destination = posix.resolve('/', v.destination);
    if (seen.has(destination)) throw usage(`duplicate mount point ${destination}`, 'volume');
    seen.add(destination);
  }
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
    container = buildContainer(options, baseDir(io), { env: io.env, warnings });
  } catch (err) {
    io.stderr(errorLine(err));
    return EXIT.FAILURE;
  }
  // Recorded in the state as the bundle; '/' when the working directory is gone.
  container.bundle ??= io.cwd;
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
    return runDetached(container, defined, store ?? new StateStore(), io, options.createOnly === true);
  }
  let output: OpenedOutput | undefined;
  try {
    if (hasFiles) output = openOutputFiles(defined, baseDir(io));
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
