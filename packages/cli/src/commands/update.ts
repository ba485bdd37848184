/**
 * `ns update [options] ID`: change a running container's cgroup limits, as `runc update`.
 * The limits come from `-r FILE` (an OCI `linux.resources` object, `-` for stdin) and from
 * runc's flags, which win over the file field by field (runc ignores the flags when `-r` is
 * given). Values are read as runc reads them (`--memory 512m`, `-1` for unlimited); what they
 * mean, their ranges and the cgroup files they go to are the library's (`updateContainer`).
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, NsError, updateContainer, type LinuxResources, type StateStore } from '@ns/namespaces';
import { EXIT, reportError, usage } from '../errors.js';
import { absolutePath, baseDir, type ResolvedIo } from '../io.js';
import { parseBytes, parseInteger } from '../units.js';

/** The options of `ns update` (commander's camelCase names of runc's flags), values as typed. */
export interface UpdateOptions {
  /** `-r, --resources FILE`: a JSON `linux.resources` object; `-` reads it from stdin. */
  resources?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  /** Refused: kernel memory limits no longer exist (cgroup v2, Linux >= 5.16). */
  kernelMemory?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpuBurst?: string;
  cpuShares?: string;
  /** `--cpu-share`: runc's own spelling of `--cpu-shares`. */
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpuIdle?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  blkioWeight?: string;
  pidsLimit?: string;
}

type Section = 'memory' | 'cpu' | 'blockIO' | 'pids';

/** One flag: its option key, the `linux.resources` field it sets, and how its value is read. */
interface FlagField {
  key: keyof UpdateOptions;
  flag: string;
  section: Section;
  field: string;
  parse: (value: string, flag: string) => number | string;
}

const bytes = parseBytes;
const uint = (hint?: string) => (v: string, flag: string) => parseInteger(v, flag, 0, hint);
const int = (hint?: string) => (v: string, flag: string) => parseInteger(v, flag, -1, hint);
const list = (v: string) => v;

/** runc update's flags, in its order of application, and the OCI field each one sets. */
export const UPDATE_FLAGS: readonly FlagField[] = [
  { key: 'memory', flag: '--memory', section: 'memory', field: 'limit', parse: bytes },
  { key: 'memoryReservation', flag: '--memory-reservation', section: 'memory', field: 'reservation', parse: bytes },
  { key: 'memorySwap', flag: '--memory-swap', section: 'memory', field: 'swap', parse: bytes },
  { key: 'cpuShares', flag: '--cpu-shares', section: 'cpu', field: 'shares', parse: uint() },
  { key: 'cpuShare', flag: '--cpu-share', section: 'cpu', field: 'shares', parse: uint() },
  { key: 'cpuPeriod', flag: '--cpu-period', section: 'cpu', field: 'period', parse: uint('microseconds') },
  { key: 'cpuQuota', flag: '--cpu-quota', section: 'cpu', field: 'quota', parse: int('microseconds, -1 for unlimited') },
  { key: 'cpuBurst', flag: '--cpu-burst', section: 'cpu', field: 'burst', parse: uint('microseconds') },
  { key: 'cpuRtPeriod', flag: '--cpu-rt-period', section: 'cpu', field: 'realtimePeriod', parse: uint('microseconds') },
  { key: 'cpuRtRuntime', flag: '--cpu-rt-runtime', section: 'cpu', field: 'realtimeRuntime', parse: int('microseconds, -1 for unlimited') },
  { key: 'cpuIdle', flag: '--cpu-idle', section: 'cpu', field: 'idle', parse: uint('0 or 1') },
  { key: 'cpusetCpus', flag: '--cpuset-cpus', section: 'cpu', field: 'cpus', parse: list },
  { key: 'cpusetMems', flag: '--cpuset-mems', section: 'cpu', field: 'mems', parse: list },
  { key: 'blkioWeight', flag: '--blkio-weight', section: 'blockIO', field: 'weight', parse: uint('10 to 1000') },
  { key: 'pidsLimit', flag: '--pids-limit', section: 'pids', field: 'limit', parse: int('-1 for unlimited') },
];

/** What {@link updateResources} makes of the options: the resources, and where each field came from. */
export interface UpdateRequest {
  resources: LinuxResources;
  /** `linux.resources.<section>.<field>` -> the flag that set it. */
  flags: Map<string, string>;
  /** The `-r` file (`-` for stdin), when one was given. */
  file?: string;
}

/**
 * The `linux.resources` an `ns update` asks for: the `-r` file's object (given as `fileText`),
 * then each flag's value over it, field by field. Only syntax is checked here (a size, an
 * integer); ranges and whether the host has the controller are checked by the library when
 * it applies them.
 *
 * @param fileText the text of the `-r` file, when `options.resources` is set
 * @throws NsError `ERR_NS_CONFIG` naming the flag (`--memory "abc": expected a size ...`) or
 *   the file (not JSON, not an object), for `--kernel-memory`, and when nothing is asked for
 */
export function updateResources(options: UpdateOptions, fileText?: string): UpdateRequest {
  if (options.kernelMemory !== undefined) {
    throw usage(
      '--kernel-memory: kernel memory limits are not supported: cgroup v2 has none (kernel memory counts toward memory.max) and Linux 5.16 removed them from cgroup v1 (runc ignores the flag)',
      '--kernel-memory',
    );
  }
  const request: UpdateRequest = { resources: {}, flags: new Map() };
  const r = request.resources as Record<string, Record<string, unknown>>;
  if (options.resources !== undefined) {
    request.file = options.resources;
    const name = options.resources === '-' ? 'standard input' : options.resources;
    let parsed: unknown;
    try {
      parsed = JSON.parse(fileText ?? '');
    } catch (err) {
      throw usage(`-r ${name}: not JSON: ${(err as Error).message}`, '--resources');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw usage(`-r ${name}: expected a JSON object of linux.resources ({"memory": {"limit": ...}, "cpu": ..., "pids": ...})`, '--resources');
    }
    Object.assign(r, structuredClone(parsed));
  }
  for (const f of UPDATE_FLAGS) {
    const value = options[f.key];
    if (value === undefined) continue;
    const section = r[f.section];
    // A section the file gave as something other than an object is the library's to refuse.
    if (section !== undefined && (typeof section !== 'object' || section === null || Array.isArray(section))) continue;
    r[f.section] = { ...section, [f.field]: f.parse(value, f.flag) };
    request.flags.set(`linux.resources.${f.section}.${f.field}`, f.flag);
  }
  if (options.resources === undefined && request.flags.size === 0) {
    throw usage('nothing to update: give -r FILE or at least one limit flag (see ns update --help)');
  }
  return request;
}

/** An error from the library, its message starting with the flag or the file the field came from. */
function withSource(err: unknown, request: UpdateRequest): unknown {
  if (!(err instanceof NsError) || err.path === undefined || !err.path.startsWith('linux.resources')) return err;
  const path = err.path;
  const flag = [...request.flags].find(([field]) => path === field || path.startsWith(`${field}.`))?.[1];
  const source = flag ?? (request.file === undefined ? undefined : `-r ${request.file === '-' ? 'standard input' : request.file}`);
  if (source === undefined) return err;
  return new NsError(err.code, `${source}: ${err.message}`, { path, cause: err, ...(err.syscall === undefined ? {} : { syscall: err.syscall }) });
}

/** The text of the `-r` argument: a file (relative to the working directory), or stdin for `-`. */
function readResourcesFile(file: string, io: ResolvedIo): string {
  const path = file === '-' ? 0 : absolutePath(baseDir(io), file, '-r');
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    throw new NsError(code === 'ENOENT' ? ErrorCode.NOT_FOUND : code, `-r ${file}: cannot read: ${code}`, { path: String(path), cause });
  }
}

/**
 * `ns update`: 0 once the limits are written; 125 for a bad flag or file, an unknown
 * container, one that is not running or has no cgroup, a field this host cannot honour, or a
 * limit the kernel refuses (a memory limit below the usage names the field and the cgroup file).
 * @param readInput reads the `-r` argument (default: the file, or stdin for `-`)
 */
export function updateCommand(
  id: string,
  options: UpdateOptions,
  store: StateStore,
  io: ResolvedIo,
  readInput: (file: string) => string = (file) => readResourcesFile(file, io),
): number {
  let request: UpdateRequest | undefined;
  try {
    const text = options.resources === undefined ? undefined : readInput(options.resources);
    request = updateResources(options, text);
    updateContainer(store, id, request.resources);
    return 0;
  } catch (err) {
    reportError(io, request ? withSource(err, request) : err);
    return EXIT.FAILURE;
  }
}
