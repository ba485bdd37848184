/**
 * runc's global options, as `ns` takes them (before the verb, as runc; `--root` also after
 * it): `--root DIR`, `--log FILE`, `--log-format text|json`, `--debug`, `--systemd-cgroup`,
 * `--rootless true|false|auto`. Clients such as containerd's runc shim and podman's conmon
 * pass them on every call (`runc --root R --log L --log-format json create ...`).
 */
import { Option, type Command } from 'commander';
import { defaultStateRoot } from '@ns/namespaces';
import { usage } from './errors.js';
import { absolutePath, baseDir, type ResolvedIo } from './io.js';
import { LOG_FORMATS, RuntimeLog, openRuntimeLog, type LogFormat } from './log.js';
import type { GlobalOptions } from './store.js';

/** The verbs that make a container's cgroup (where `--systemd-cgroup` would matter). */
const CGROUP_VERBS = new Set(['run', 'create']);

/**
 * Why `--systemd-cgroup` is refused for `run` and `create`: ns writes cgroupfs itself (as
 * runc's cgroupfs driver); there is no systemd driver to ask for a scope, and a systemd
 * cgroupsPath (`slice:prefix:name`) means something else to cgroupfs.
 */
export const SYSTEMD_CGROUP_REFUSED =
  '--systemd-cgroup: ns has no systemd cgroup driver: it makes cgroups through cgroupfs itself, as runc without this flag ' +
  '(cgroupsPath a path, not "slice:prefix:name"); set the client to cgroupfs (podman: cgroup_manager = "cgroupfs"; ' +
  'containerd: SystemdCgroup = false)';

/**
 * Add runc's global options to `program` (help text included).
 * @param env the caller's environment, for the default root shown in the help (process.env)
 */
export function addGlobalOptions(program: Command, env: NodeJS.ProcessEnv = process.env): Command {
  return program
    .option('--root <dir>', `directory for container state (default: ${defaultStateRoot(env)})`)
    .option('--log <file>', "ns's own log: its errors and warnings, appended (default: stderr), never a container's output")
    .addOption(new Option('--log-format <format>', 'format of the log: text or json (JSON lines {"level","msg","time"}, as runc)').default('text'))
    .option('--debug', 'also write debug lines to the log')
    .option('--systemd-cgroup', 'refused for run and create: ns has no systemd cgroup driver (accepted, and meaningless, for the other verbs)')
    .option('--rootless <value>', "accepted for runc's clients: true, false or auto (ns's rootless mode follows its effective uid)");
}

/**
 * `--rootless` as runc's parseBoolOrAuto takes it: `auto` or empty, or what Go's
 * strconv.ParseBool accepts (1, t, T, TRUE, true, True and their false forms).
 * @returns true, false, or null for auto
 * @throws NsError `ERR_NS_CONFIG` naming `--rootless` for another value.
 */
export function parseRootless(value: string): boolean | null {
  if (value === '' || value === 'auto') return null;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw usage(`--rootless ${JSON.stringify(value)}: expected true, false or auto`, 'rootless');
}

/**
 * Check the global options for the verb about to run and make the runtime's log, as runc's
 * `Before` (configLogrus): `--log-format` is text or json, `--rootless` a boolean or auto,
 * `--systemd-cgroup` is refused for `run` / `create`, and `--log FILE` (relative to the
 * working directory) is opened for appending, created 0644. Nothing else is created.
 *
 * A refused `--rootless` or `--systemd-cgroup` is reported once the log exists (`onLog` gets
 * it first), so that a client reading only `--log` (containerd's shim) sees why.
 *
 * @param verb the command's name (`run`, `create`, `delete` ...)
 * @param onLog called with the log as soon as it is made, before the remaining checks
 * @returns the log: the file of `--log`, or with `--log-format json` or `--debug` a log on
 *   `io.stderr`; undefined for ns's plain `ns: ...` lines on stderr
 * @throws NsError `ERR_NS_CONFIG` naming the option, or the errno code of opening `--log`.
 */
export function setupGlobals(
  globals: GlobalOptions,
  verb: string,
  io: Pick<ResolvedIo, 'cwd' | 'cwdGone' | 'stderr'>,
  onLog?: (log: RuntimeLog) => void,
): RuntimeLog | undefined {
  const format = globals.logFormat ?? 'text';
  if (!LOG_FORMATS.includes(format as LogFormat)) {
    throw usage(`--log-format ${JSON.stringify(format)}: expected text or json`, 'logFormat');
  }
  const log = openLog(globals, format as LogFormat, io);
  if (log !== undefined) onLog?.(log);
  if (globals.rootless !== undefined) parseRootless(globals.rootless);
  if (globals.systemdCgroup && CGROUP_VERBS.has(verb)) throw usage(SYSTEMD_CGROUP_REFUSED, 'systemdCgroup');
  return log;
}

/** The runtime's log of the global options (see setupGlobals), or undefined. */
function openLog(globals: GlobalOptions, format: LogFormat, io: Pick<ResolvedIo, 'cwd' | 'cwdGone' | 'stderr'>): RuntimeLog | undefined {
  const options = { format, debug: globals.debug ?? false };
  if (globals.log !== undefined && globals.log !== '') {
    return openRuntimeLog(absolutePath(baseDir(io), globals.log, '--log'), options);
  }
  if (options.format === 'text' && !options.debug) return undefined;
  return new RuntimeLog({ ...options, write: (line) => io.stderr(line) });
}
