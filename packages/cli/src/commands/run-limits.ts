/**
 * `ns run` with isolate's limit flags (isolate(1) "LIMITS", "META-FILES", "RETURN VALUE"): one
 * run of the command under limits through @ns/sandbox run(), a verdict, and isolate's meta
 * file, so a grader written for `isolate --run` switches with a change of flags.
 *
 * Units as isolate's: times in seconds (fractions allowed), sizes in KiB. The command runs under
 * ns's init, in a container of its own with a read-only root and a fresh /tmp, with its
 * output captured (up to `--output-limit`) and written out once it has ended: to `--stdout` /
 * `--stderr` FILE (created or truncated, as isolate's) or to ns's own stdout / stderr.
 *
 * Exit status, as isolate's: 0 when the verdict is OK, 1 for any other verdict of the program
 * (RE, SG, TO, OOM, OLE; the meta file and one `ns: STATUS: message` line on stderr say which),
 * 125 when ns could not run it (a bad flag, nothing started; or the XX verdict: the command
 * could not be started, a cgroup could not be made), where isolate exits 2: both are "an
 * internal error" to a caller that follows isolate's man page. 128 + N when ns itself got
 * signal N (SIGINT, SIGTERM, SIGHUP): the run is killed and cleaned up first.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { validateContainer, type Container } from '@ns/namespaces';
import type { Limits, Verdict } from '@ns/sandbox';
import { EXIT, reportError, usage } from '../errors.js';
import { absolutePath, baseDir, type ResolvedIo } from '../io.js';

/** isolate's limit flags as commander gives them (strings; `--processes` alone is `true`). */
export interface LimitFlags {
  /** `--time SECONDS`: cpu time of the whole run (isolate -t). */
  time?: string;
  /** `--wall-time SECONDS` (isolate -w). */
  wallTime?: string;
  /** `--extra-time SECONDS`: grace past --time before the kill (isolate -x). */
  extraTime?: string;
  /** `--mem KIB`: memory of the whole run, the cgroup's limit (isolate's --cg-mem; its -m is an address-space rlimit per process). */
  mem?: string;
  /** `--cg-mem KIB`: the same as --mem (isolate's name for a cgroup's limit). */
  cgMem?: string;
  /** `--processes [N]`: tasks at once (isolate -p); alone: no limit. */
  processes?: string | boolean;
  /** `--fsize KIB`: largest file written (isolate -f, RLIMIT_FSIZE). */
  fsize?: string;
  /** `--open-files N` (isolate -n, RLIMIT_NOFILE). */
  openFiles?: string;
  /** `--stack KIB` (isolate -k, RLIMIT_STACK). */
  stack?: string;
  /** `--stdin FILE` (isolate -i): the command's standard input (default /dev/null). */
  stdin?: string;
  /** `--output-limit KIB`: output kept per stream; past it the run is killed, OLE. */
  outputLimit?: string;
  /** `--meta FILE` (isolate -M): isolate's key:value meta file. */
  meta?: string;
  /** `--cgroup-parent PATH`: where the run's cgroups are made (default @ns/sandbox's `/ns-sandbox`). */
  cgroupParent?: string;
}

/** The command-line name of each flag, for messages. */
const FLAG: Record<keyof LimitFlags, string> = {
  time: '--time',
  wallTime: '--wall-time',
  extraTime: '--extra-time',
  mem: '--mem',
  cgMem: '--cg-mem',
  processes: '--processes',
  fsize: '--fsize',
  openFiles: '--open-files',
  stack: '--stack',
  stdin: '--stdin',
  outputLimit: '--output-limit',
  meta: '--meta',
  cgroupParent: '--cgroup-parent',
};

/** Which flag sets each field of Limits, to name it when the sandbox refuses a value. */
const FIELD_FLAG: Record<string, keyof LimitFlags> = {
  cpuTimeMs: 'time',
  wallTimeMs: 'wallTime',
  extraTimeMs: 'extraTime',
  memoryBytes: 'mem',
  processes: 'processes',
  fileSizeBytes: 'fsize',
  openFiles: 'openFiles',
  stackBytes: 'stack',
  outputBytes: 'outputLimit',
};

/** Whether any limit flag was given: `ns run` then runs in limit mode ({@link runLimited}). */
export function hasLimitFlags(flags: LimitFlags): boolean {
  return (Object.keys(FLAG) as (keyof LimitFlags)[]).some((k) => flags[k] !== undefined && flags[k] !== false);
}

/** The flags given, as `--time, --meta` (for messages about flags that do not go together). */
export function givenLimitFlags(flags: LimitFlags): string {
  return (Object.keys(FLAG) as (keyof LimitFlags)[])
    .filter((k) => flags[k] !== undefined && flags[k] !== false)
    .map((k) => FLAG[k])
    .join(', ');
}

/**
 * Seconds as isolate takes them (`1`, `0.5`, `2.25`, `.5`, and as its strtod also `1e3`) in
 * whole milliseconds (at least 1 for a positive value).
 * @throws NsError `ERR_NS_CONFIG` naming the flag
 */
function seconds(value: string, flag: keyof LimitFlags, allowZero: boolean): number {
  if (!/^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value) || !Number.isFinite(Number(value))) {
    throw usage(`${FLAG[flag]} ${JSON.stringify(value)}: expected seconds, a number such as 1, 0.5 or 1e3`, FLAG[flag]);
  }
  const s = Number(value);
  if (!allowZero && s <= 0) throw usage(`${FLAG[flag]} ${value}: expected more than 0 seconds`, FLAG[flag]);
  if (s > 1e9) throw usage(`${FLAG[flag]} ${value}: too large (at most 1e9 seconds)`, FLAG[flag]);
  const ms = Math.round(s * 1000);
  return s > 0 && ms === 0 ? 1 : ms;
}

/**
 * A whole number as isolate takes sizes and counts.
 * @throws NsError `ERR_NS_CONFIG` naming the flag
 */
function whole(value: string, flag: keyof LimitFlags, what: string, min: number): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw usage(`${FLAG[flag]} ${JSON.stringify(value)}: expected ${what}, a whole number`, FLAG[flag]);
  }
  const n = Number(value);
  if (n < min) throw usage(`${FLAG[flag]} ${value}: expected at least ${min} (${what})`, FLAG[flag]);
  return n;
}

/** KiB as bytes, within what the sandbox takes. @throws NsError naming the flag */
function kib(value: string, flag: keyof LimitFlags, min = 0): number {
  const n = whole(value, flag, 'KiB', min);
  if (n * 1024 > Number.MAX_SAFE_INTEGER) throw usage(`${FLAG[flag]} ${value}: too large`, FLAG[flag]);
  return n * 1024;
}

/** The kernel's PID_MAX_LIMIT on 64-bit (include/linux/threads.h): pids.max must be below it + 1. */
const PID_MAX_LIMIT = 4 * 1024 * 1024;
/** The largest --processes: pids.max (the run's processes + ns's init) at most PID_MAX_LIMIT. */
const MAX_PROCESSES = PID_MAX_LIMIT - 1;

/**
 * The largest RLIMIT_NOFILE setrlimit(2) takes from ns: the kernel's fs.nr_open
 * (/proc/sys/fs/nr_open, EPERM above it even for root); without CAP_SYS_RESOURCE (not root)
 * also ns's own hard limit, which it cannot raise. Undefined when neither can be read.
 */
function openFilesBound(): { max: number; why: string } | undefined {
  let bound: { max: number; why: string } | undefined;
  try {
    const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    if (Number.isSafeInteger(nrOpen)) bound = { max: nrOpen, why: `the kernel's fs.nr_open, /proc/sys/fs/nr_open` };
  } catch {
    // not readable: the kernel says EPERM at the start
  }
  if (process.getuid?.() !== 0) {
    try {
      const m = /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
      const hard = m ? Number(m[1]) : NaN;
      if (Number.isSafeInteger(hard) && (bound === undefined || hard < bound.max)) bound = { max: hard, why: "ns's own hard limit (ulimit -Hn), which it cannot raise" };
    } catch {
      // as above
    }
  }
  return bound;
}

/**
 * The sandbox limits of the flags, checked here so a bad value fails naming its flag (and
 * again by @ns/sandbox's schema, whose field is then mapped back to the flag).
 * @param cwd where a relative `--stdin` is taken from (null: the working directory is gone)
 * @throws NsError `ERR_NS_CONFIG` naming the flag (`--time "x": expected seconds ...`),
 *   `ENOENT` for a relative path without a working directory
 */
export function limitsFromFlags(flags: LimitFlags, cwd: string | null): Limits {
  const limits: Limits = {};
  if (flags.mem !== undefined && flags.cgMem !== undefined) throw usage('--mem and --cg-mem are the same limit here: give one', '--cg-mem');
  if (flags.time !== undefined) limits.cpuTimeMs = seconds(flags.time, 'time', false);
  if (flags.wallTime !== undefined) limits.wallTimeMs = seconds(flags.wallTime, 'wallTime', false);
  if (flags.extraTime !== undefined) {
    if (flags.time === undefined) throw usage('--extra-time: only with --time (it is the grace past the cpu time limit)', '--extra-time');
    limits.extraTimeMs = seconds(flags.extraTime, 'extraTime', true);
  }
  const mem = flags.mem ?? flags.cgMem;
  if (mem !== undefined) limits.memoryBytes = kib(mem, flags.mem !== undefined ? 'mem' : 'cgMem', 1024);
  if (typeof flags.processes === 'string') {
    limits.processes = whole(flags.processes, 'processes', 'processes', 1);
    if (limits.processes > MAX_PROCESSES) {
      throw usage(`--processes ${flags.processes}: too large (at most ${MAX_PROCESSES}: the cgroup's pids.max is below the kernel's PID_MAX_LIMIT ${PID_MAX_LIMIT}, and ns's init is one of them)`, '--processes');
    }
  }
  if (flags.fsize !== undefined) limits.fileSizeBytes = kib(flags.fsize, 'fsize');
  if (flags.openFiles !== undefined) {
    limits.openFiles = whole(flags.openFiles, 'openFiles', 'descriptors', 3);
    const bound = openFilesBound();
    if (bound !== undefined && limits.openFiles > bound.max) throw usage(`--open-files ${flags.openFiles}: too large (RLIMIT_NOFILE at most ${bound.max}: ${bound.why})`, '--open-files');
  }
  if (flags.stack !== undefined) limits.stackBytes = kib(flags.stack, 'stack', 1);
  if (flags.outputLimit !== undefined) limits.outputBytes = kib(flags.outputLimit, 'outputLimit');
  if (flags.stdin !== undefined) {
    if (flags.stdin === '') throw usage('--stdin: empty file name', '--stdin');
    limits.stdin = { file: absolutePath(cwd, flags.stdin, '--stdin') };
  }
  return limits;
}

/** An NsError of the sandbox's limit schema (`limits.cpuTimeMs: ...`) told by its flag instead. */
function byFlag(err: unknown): unknown {
  const path = (err as { path?: unknown })?.path;
  if (path === 'cgroupParent') return usage(`--cgroup-parent: ${(err as Error).message.replace(/^cgroupParent:\s*/, '')}`, '--cgroup-parent');
  const field = typeof path === 'string' && path.startsWith('limits.') ? path.slice(7).split('.')[0]! : undefined;
  const flag = field !== undefined ? FIELD_FLAG[field] : undefined;
  if (flag === undefined) return err;
  const message = (err as Error).message.replace(/^limits\.[\w.]+:\s*/, '');
  return usage(`${FLAG[flag]}: ${message}`, FLAG[flag]);
}

/** Open (create, truncate) an output file now, so a bad path fails before the run. @throws NsError naming the flag */
function openTruncated(cwd: string | null, file: string, flag: string): number {
  const path = absolutePath(cwd, file, flag);
  try {
    return openSync(path, 'w', 0o644);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    throw Object.assign(usage(`${flag} ${path}: cannot open for writing: ${code}`, flag), { code });
  }
}

/**
 * Check now that the meta file can be written at the end (opened for writing, created when
 * missing, not truncated). @returns whether it was created (to remove on a later failure)
 * @throws NsError naming the flag
 */
function checkWritable(path: string, flag: string): boolean {
  const existed = existsSync(path);
  try {
    closeSync(openSync(path, 'a', 0o644));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    throw Object.assign(usage(`${flag} ${path}: cannot open for writing: ${code}`, flag), { code });
  }
  return !existed;
}

/** Write all of `data` to descriptor `fd` (blocking: a file, or ns's own stdout / stderr). */
function writeAll(fd: number, data: Buffer): void {
  for (let at = 0; at < data.length; ) {
    try {
      at += writeSync(fd, data, at, data.length - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue; // a non-blocking pipe: try again
      throw err;
    }
  }
}

/** Signals that end a limited run early (the run is killed and cleaned up, ns exits 128 + N). */
const STOP_SIGNALS = [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const;

/** The exit status of a verdict (see the module note). */
export function verdictExitCode(v: Pick<Verdict, 'status'>): number {
  if (v.status === 'OK') return 0;
  if (v.status === 'XX') return EXIT.FAILURE;
  return 1;
}

/**
 * Run `container` once under the limits of `flags` (see the module note for the exit status).
 * @param files `--stdout` / `--stderr` FILE: where the captured output goes (default: ns's own)
 */
export async function runLimited(container: Container, flags: LimitFlags, files: { stdout?: string | undefined; stderr?: string | undefined }, io: ResolvedIo): Promise<number> {
  const cwd = baseDir(io);
  const opened: number[] = [];
  let limits: Limits;
  let outFd = 1;
  let errFd = 2;
  let metaPath: string | undefined;
  let metaMade = false;
  // Loaded only here: the sandbox (and its schema, p-limit) is no cost to other commands.
  const { run, writeMeta, validateLimits, sandboxContainer } = await import('@ns/sandbox');
  try {
    limits = limitsFromFlags(flags, cwd);
    // The limits and the config as run() will check them, before any file is touched: a bad
    // config (a missing rootfs) must not truncate the --stdout FILE first.
    const checked = validateLimits(limits);
    validateContainer(sandboxContainer(container, checked, { id: container.id ?? 'sbx-check', cgroupsPath: '/sbx-check' }));
    if (typeof limits.stdin === 'object' && 'file' in limits.stdin) {
      const path = limits.stdin.file;
      try {
        accessSync(path, constants.R_OK);
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
        throw Object.assign(usage(`--stdin ${path}: cannot open for reading: ${code}`, '--stdin'), { code });
      }
    }
    if (flags.meta !== undefined) {
      metaPath = absolutePath(cwd, flags.meta, '--meta');
      metaMade = checkWritable(metaPath, '--meta'); // before the run, not after it (as isolate's open)
    }
    if (files.stdout !== undefined) opened.push((outFd = openTruncated(cwd, files.stdout, '--stdout')));
    if (files.stderr !== undefined) {
      const same = files.stdout !== undefined && absolutePath(cwd, files.stderr, '--stderr') === absolutePath(cwd, files.stdout, '--stdout');
      errFd = same ? outFd : openTruncated(cwd, files.stderr, '--stderr');
      if (!same) opened.push(errFd);
    }
  } catch (err) {
    for (const fd of opened) closeSync(fd);
    if (metaMade && metaPath !== undefined) rmSync(metaPath, { force: true });
    reportError(io, byFlag(err));
    return EXIT.FAILURE;
  }

  const controller = new AbortController();
  let stoppedBy = 0;
  const handlers = STOP_SIGNALS.map(([signal, n]) => {
    const onSignal = () => {
      stoppedBy ||= n;
      controller.abort();
    };
    process.on(signal, onSignal);
    return () => process.removeListener(signal, onSignal);
  });
  try {
    let verdict: Verdict;
    try {
      verdict = await run(container, limits, { signal: controller.signal, ...(flags.cgroupParent !== undefined ? { cgroupParent: flags.cgroupParent } : {}) });
    } catch (err) {
      if (metaMade && metaPath !== undefined) rmSync(metaPath, { force: true }); // no meta file without a verdict
      if (stoppedBy) return 128 + stoppedBy;
      reportError(io, byFlag(err));
      return EXIT.FAILURE;
    }
    writeAll(outFd, verdict.stdout);
    writeAll(errFd, verdict.stderr);
    if (metaPath !== undefined) {
      try {
        await writeMeta(metaPath, verdict);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        reportError(io, new Error(`--meta ${metaPath}: cannot write: ${code}`));
        return EXIT.FAILURE;
      }
    }
    if (verdict.status === 'XX') reportError(io, new Error(verdict.message));
    else if (verdict.status !== 'OK') io.stderr(`ns: ${verdict.status}: ${verdict.message.replace(/\s*\n\s*/g, ' ')}\n`);
    return verdictExitCode(verdict);
  } finally {
    for (const undo of handlers) undo();
    for (const fd of opened) closeSync(fd);
  }
}
