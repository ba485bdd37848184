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
import { existsSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import {
  CONTAINER_ID,
  CONTAINER_ID_RULE,
  DEFAULT_MOUNTS,
  StateStore,
  changeCapabilities,
  containerFromBundle,
  embeddedDefault,
  formatPlan,
  generateId,
  planContainer,
  rootfsContainer,
  stdioOwners,
  type Container,
} from '@ns/namespaces';
import { openOutputFiles, runDetached, type OpenedOutput } from '../detach.js';
import { EXIT, reportError, reportWarning, usage } from '../errors.js';
import { commandUsage } from '../usage.js';
import { applyEnv, applyNetwork, bridgeOf, checkUserOption, parseVolume, withTerm } from '../flags.js';
import { absolutePath, baseDir, type ResolvedIo } from '../io.js';
import { runAttached } from '../start.js';
import { givenLimitFlags, hasLimitFlags, runLimited, type LimitFlags } from './run-limits.js';
import { applySecurityOpts } from '../security-opt.js';

/**
 * The options of `ns run`, as parsed from the command line (every field optional). The limit
 * flags of {@link LimitFlags} (`--time`, `--mem`, `--meta` ...) make a run in limit mode.
 */
export interface RunOptions extends LimitFlags {
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
  /**
   * `--init`: a minimal init as the container's pid 1 that forwards signals to the command and
   * reaps orphans (`docker run --init`; the container's `init`, see @ns/namespaces Container).
   */
  init?: boolean;
  /**
   * `--no-new-keyring` (commander's `newKeyring: false`): the container keeps ns's session
   * keyring instead of a new `_ses.<id>` (runc's flag; the container's `noNewKeyring`).
   */
  newKeyring?: boolean;
  /** `--no-pivot` (commander's `pivot: false`): the container's `noPivotRoot` (runc's flag). */
  pivot?: boolean;
  /** `--net none|host|bridge[:NAME]|PATH`. */
  net?: string;
  /** `--cap-add CAP` (or `ALL`). */
  capAdd?: string[];
  /** `--cap-drop CAP` (or `ALL`). */
  capDrop?: string[];
  /** `-v, --volume HOST:CONTAINER[:ro|rw]`. */
  volume?: string[];
  /** `--security-opt seccomp=unconfined|default|FILE`, `no-new-privileges` (see security-opt.ts). */
  securityOpt?: string[];
  /** `--dry-run`: print the plan, start nothing. */
  dryRun?: boolean;
  /** `-d, --detach`: start the container, record its state and return; it keeps running. */
  detach?: boolean;
  /** `ns create`: set it up and leave it waiting for `ns start` (implies detach). */
  createOnly?: boolean;
  /** `--pid-file FILE`: where to write the container process's pid once it runs, as runc (also in the foreground). */
  pidFile?: string;
  /** `--preserve-fds N` (with -d or create): ns's descriptors 3 .. 3+N-1 passed on, as runc. */
  preserveFds?: number;
  /**
   * `--console-socket PATH` (with -d or create, and a terminal): send the pty master to the unix
   * socket at PATH (SCM_RIGHTS), as runc; a detached container with a terminal needs it.
   */
  consoleSocket?: string;
  /**
   * `--stdout FILE`: append the container's stdout to FILE. Default: ns's own stdout, also
   * with `-d` and for `create` (runc's pass-through: the container gets the stdio `ns` was
   * started with).
   */
  stdout?: string;
  /** `--stderr FILE`: append the container's stderr to FILE (default: ns's own stderr, as stdout). */
  stderr?: string;
  /**
   * `--log FILE` after `run` / `create`: refused. It was the container's stdout and stderr;
   * `--log` is now the runtime's own log, a global option before the verb, as runc's (see
   * {@link LOG_AFTER_VERB}).
   * @deprecated use `stdout` and `stderr` (the same file for both is fine)
   */
  log?: string;
}

/**
 * Why `ns run --log FILE` / `ns create --log FILE` (the option after the verb) is refused:
 * it used to take the container's output; `--log` is now ns's own log, as runc's global flag.
 */
export const LOG_AFTER_VERB =
  "no longer takes the container's output: --log is ns's own log now, a global option given before the verb as runc's " +
  '(ns --log FILE [--log-format json] VERB ...); send the container\'s output to a file with --stdout FILE --stderr FILE (the same FILE for both is fine)';

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
    const hint = options.idArgument !== undefined ? `; to run a command, put it after --: ${commandUsage(options.createOnly ? 'create' : 'run')}` : '';
    throw usage(`invalid container id ${JSON.stringify(id)} (expected ${CONTAINER_ID_RULE})${hint}`, 'id');
  }
  return id;
}

/**
 * The bundle's config.json as a container (containerFromBundle(): parsed once), its warnings
 * added to `warnings`. A command given after `--` stands in for `process.args` before
 * validation, so a config.json without one runs the command.
 */
function fromBundle(dir: string, id: string, warnings: string[], args: string[] | undefined): Container {
  const bundle = containerFromBundle(dir, { id, ...(args !== undefined && args.length > 0 ? { args: [...args] } : {}) });
  warnings.push(...bundle.warnings);
  return bundle.container;
}

/**
 * The container `ns run` would start: the source picked by {@link selectSource}, then the
 * options applied. Pure apart from reading the bundle's config.json, /proc/self/status (see
 * ownBoundingSet() of @ns/namespaces) and checking that paths exist; the container is
 * validated later, once, by planContainer() / runContainer().
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
  // A bare word and no command, as `runc run ID` takes it: an id. Without a bundle to give the
  // command, running the default shell under that name would pass for the word having run.
  if (options.idArgument !== undefined && command === undefined && (source === 'rootfs' || source === 'default')) {
    const word = JSON.stringify(options.idArgument);
    if (source === 'rootfs') {
      throw usage(`no command given, and ${word} is taken as the container id: to run it, ns run --rootfs DIR -- ${options.idArgument}; to name the container, ns run --rootfs DIR ${options.idArgument} -- CMD`, 'args');
    }
    throw usage(`no config.json in ${cwd ?? 'the working directory'}: ns run ID runs the bundle there, as runc run (${word} is taken as the id); to run a command in the embedded default, ns run -- CMD`, 'bundle');
  }
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
  if (options.user !== undefined) container.user = checkUserOption(options.user);
  if (options.cwd !== undefined) container.cwd = options.cwd;
  if (options.readonly) container.readonly = true;
  if (options.init) container.init = true;
  if (options.newKeyring === false) container.noNewKeyring = true;
  if (options.pivot === false) container.noPivotRoot = true;
  if (options.tty) container.terminal = true;
  if (container.terminal) container.env = withTerm(container.env ?? []);
  if (options.net !== undefined) {
    container.namespaces = applyNetwork(container.namespaces, options.net, cwd);
    const bridge = bridgeOf(options.net);
    if (bridge) container.bridge = bridge;
  }

  const add = options.capAdd ?? [];
  const drop = options.capDrop ?? [];
  if (add.length > 0 || drop.length > 0) {
    container = changeCapabilities(container, add, drop, { warnings, ...(context.bounding !== undefined ? { bounding: context.bounding } : {}) });
  }

  if (options.securityOpt?.length) container = applySecurityOpts(container, options.securityOpt, cwd);

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
 * `ns run`: build the container, report warnings (to the runtime's log: reportWarning()),
 * then print the plan (`--dry-run`), start it detached (`-d`, see {@link runDetached}: with
 * ns's own stdio passed through, unless `--stdout` / `--stderr`), or start it in the
 * foreground and return its exit status (see {@link EXIT}). The state goes to `store`
 * (default: the default state root). `--log` after the verb is refused ({@link LOG_AFTER_VERB}).
 */
export async function runCommand(options: RunOptions, io: ResolvedIo, store?: StateStore): Promise<number> {
  if (options.log !== undefined) {
    reportError(io, usage(`${options.createOnly ? 'create' : 'run'} --log ${options.log}: ${LOG_AFTER_VERB}`, 'log'));
    return EXIT.FAILURE;
  }
  // Limit mode (isolate's) has no container id: its run is not in the state (ns list, ns kill),
  // its cgroups are named sbx-*. An id would be silently ignored: refused, as isolate has none.
  if (hasLimitFlags(options) && (options.idArgument !== undefined || options.id !== undefined)) {
    const id = options.idArgument ?? options.id;
    reportError(io, usage(`container id ${JSON.stringify(id)}: limit mode (${givenLimitFlags(options)}) takes no container id (its run is not a container of ns list / ns kill; stop it with a signal to ns); leave the ID out (a bundle: --bundle DIR)`, 'id'));
    return EXIT.FAILURE;
  }
  const warnings: string[] = [];
  let container: Container;
  try {
    container = buildContainer(options, baseDir(io), { env: io.env, warnings });
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
  // A bundle's config.json: the errors of the start that name it (`config.json: linux...`,
  // joined namespace files) name it by its full path, as those of reading it (reportError()).
  if (container.bundle !== undefined) io = { ...io, configFile: join(container.bundle, 'config.json') };
  // Recorded in the state as the bundle; '/' when the working directory is gone.
  container.bundle ??= io.cwd;
  for (const w of warnings) reportWarning(io, w);

  const files = { stdout: options.stdout, stderr: options.stderr };
  if (hasLimitFlags(options)) {
    // isolate's mode: one run with a verdict (run-limits.ts), in the foreground only.
    const given = givenLimitFlags(options);
    const clash = options.detach ? (options.createOnly ? 'ns create' : '-d') : container.terminal ? 'a terminal (-t)' : options.dryRun ? '--dry-run' : undefined;
    if (clash !== undefined) {
      reportError(io, usage(`${given}: limit mode runs once in the foreground with its output captured; it cannot be used with ${clash}`, given.split(',')[0]));
      return EXIT.FAILURE;
    }
    return runLimited(container, options, files, io);
  }
  const hasFiles = files.stdout !== undefined || files.stderr !== undefined;
  if (hasFiles && container.terminal) {
    reportError(io, usage('--stdout and --stderr cannot be used with a terminal (-t): the output goes to the pty', 'terminal'));
    return EXIT.FAILURE;
  }

  // runc's two rules (utils_linux.go validateProcessSpec), in its words.
  if (options.consoleSocket !== undefined && (!options.detach || !container.terminal)) {
    reportError(io, usage('cannot use console socket if ns will not detach or allocate tty', 'consoleSocket'));
    return EXIT.FAILURE;
  }
  if (options.detach && container.terminal && options.consoleSocket === undefined && !options.dryRun) {
    reportError(io, usage('cannot allocate tty if ns will detach without setting console socket (--console-socket PATH, or run without -t / with process.terminal false)', 'terminal'));
    return EXIT.FAILURE;
  }

  if ((options.preserveFds ?? 0) > 0 && !options.detach) {
    reportError(io, usage('--preserve-fds needs -d (or ns create): a foreground run keeps them in ns itself', 'preserveFds'));
    return EXIT.FAILURE;
  }
  let pidFile: string | undefined;
  try {
    if (options.pidFile !== undefined && !options.detach) pidFile = absolutePath(baseDir(io), options.pidFile, '--pid-file');
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }

  if (options.dryRun) {
    try {
      // In terminal mode the pty is only opened by exec(); show where it would go.
      const planIo = container.terminal ? { stdio: [], console: { fd: 0, path: '/dev/pts/N' } } : { stdio: [0, 1, 2], stdioOwners: stdioOwners([0, 1, 2]) };
      const { plan } = planContainer(container, planIo);
      io.stdout(`${formatPlan(plan)}\n`);
      return 0;
    } catch (err) {
      reportError(io, err);
      return EXIT.FAILURE;
    }
  }

  const defined = Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined));
  if (options.detach) {
    return runDetached(container, defined, store ?? new StateStore(), io, options.createOnly === true, {
      ...(options.pidFile !== undefined ? { pidFile: options.pidFile } : {}),
      ...(options.preserveFds !== undefined ? { preserveFds: options.preserveFds } : {}),
      ...(options.consoleSocket !== undefined ? { consoleSocket: options.consoleSocket } : {}),
    });
  }
  let output: OpenedOutput | undefined;
  try {
    if (hasFiles) output = openOutputFiles(defined, baseDir(io));
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
  try {
    return await runAttached(container, io, {
      ...(store !== undefined ? { store } : {}),
      ...(output ? { stdio: ['inherit', output.stdout ?? 'inherit', output.stderr ?? 'inherit'] } : {}),
      ...(pidFile !== undefined ? { pidFile } : {}),
    });
  } finally {
    output?.close();
  }
}
