/**
 * Cgroups whose maker died. exec() makes a container's cgroup at the `cgroup` sync step and
 * removes it when the process has exited; if the Node process that called exec() is killed in
 * between (SIGKILL, the OOM killer), the container's processes die with it (PR_SET_PDEATHSIG),
 * but the cgroup stays, and with no state file nobody knows of it. So each such cgroup is
 * claimed first, in a claim log of its maker under `<state root>/.cgroups/`
 * (`<maker pid>-<start time>.log`, one per process, opened once): a line `+<encoded path>`
 * before the cgroup is made, `-<encoded path>` once it is gone, one append write(2) each (a
 * file per claim cost a start an open, a write, a close and an unlink). The next cgroup any ns
 * process makes first sweeps the logs (and the one-file records older versions wrote:
 * `<maker pid>-<start time>.<encoded path>`, a JSON body) of dead makers, removing the cgroups
 * they still claim when empty.
 *
 * runContainer() and createContainer() record the cgroup in the container's state instead,
 * and `delete` removes it (its processes may outlive the maker: a detached container).
 */
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroup } from '@ns/cgroups';
import { defaultStateRoot, processStartTime } from './state.js';

/** Where the records live: beside the state, where no container id can be (a dot). */
export function claimsDir(root: string = defaultStateRoot()): string {
  return join(root, '.cgroups');
}

let self: { pid: number; startTime: string } | undefined;
function maker(): { pid: number; startTime: string } {
  self ??= { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
  return self;
}

/** The suffix of a claim log's name (after ownPrefix()); a one-file record has an encoded path there. */
const LOG = 'log';

/** A log past this many bytes is rewritten with only its open claims, at a release. */
const COMPACT_BYTES = 64 * 1024;

/** This process's open claim log of one claims directory. */
interface ClaimLog {
  file: string;
  fd: number;
  /** Bytes appended since the log was (re)written. */
  bytes: number;
  /** Claimed paths not yet released, with how many times. */
  claims: Map<string, number>;
}

/** Claim logs this process has open, by claims directory. */
const logs = new Map<string, ClaimLog>();

function openLog(dir: string): ClaimLog {
  let log = logs.get(dir);
  if (log) return log;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${ownPrefix()}${LOG}`);
  // O_APPEND: every line one write(2) at the end. A log of an earlier process with this pid
  // and start time cannot exist (the pair names one process).
  const fd = openSync(file, 'a', 0o600);
  log = { file, fd, bytes: fstatSync(fd).size, claims: new Map() };
  logs.set(dir, log);
  if (logs.size === 1) process.once('exit', closeLogs);
  return log;
}

/** At exit: remove the logs with no open claim (one with claims is the sweep's, as after a crash). */
function closeLogs(): void {
  for (const log of logs.values()) {
    try {
      closeSync(log.fd);
      if (log.claims.size === 0) unlinkSync(log.file);
    } catch {
      // gone already
    }
  }
  logs.clear();
}

function append(log: ClaimLog, line: string): void {
  log.bytes += writeSync(log.fd, line);
}

/** Rewrite a log with only its open claims (a new file renamed over it), and append to that. */
function compact(dir: string, log: ClaimLog): void {
  const tmp = `${log.file}.tmp`;
  writeFileSync(tmp, [...log.claims].map(([path, n]) => `+${encodeURIComponent(path)}\n`.repeat(n)).join(''), { mode: 0o600 });
  renameSync(tmp, log.file);
  const fd = openSync(log.file, 'a', 0o600);
  closeSync(log.fd);
  logs.set(dir, { ...log, fd, bytes: 0 });
}

/**
 * Record that this process made the cgroup `path`, before anything is placed in it.
 * @returns a function that records its removal (call it once the cgroup is gone; later calls
 *   do nothing); a claim that cannot be written (a read-only /run) is skipped, and so is its
 *   release.
 */
export function claimCgroup(path: string, root?: string): () => void {
  const dir = claimsDir(root);
  const line = encodeURIComponent(path);
  try {
    const log = openLog(dir);
    append(log, `+${line}\n`);
    log.claims.set(path, (log.claims.get(path) ?? 0) + 1);
  } catch {
    return () => {};
  }
  let released = false;
  return () => {
    const log = logs.get(dir);
    if (released || !log) return;
    released = true;
    try {
      append(log, `-${line}\n`);
      const n = (log.claims.get(path) ?? 1) - 1;
      if (n > 0) log.claims.set(path, n);
      else log.claims.delete(path);
      if (log.bytes > COMPACT_BYTES) compact(dir, log);
    } catch {
      // the sweep finds the cgroup gone
    }
  };
}

/** The paths a claim log still claims: each whole `+` line not matched by a later `-` line. */
export function openClaims(text: string): string[] {
  const claims = new Map<string, number>();
  // Whole lines only: what follows the last newline is empty, or a line torn by a crash.
  for (const line of text.split('\n').slice(0, -1)) {
    const sign = line[0];
    if (sign !== '+' && sign !== '-') continue;
    let path: string;
    try {
      path = decodeURIComponent(line.slice(1));
    } catch {
      continue;
    }
    const n = (claims.get(path) ?? 0) + (sign === '+' ? 1 : -1);
    if (n > 0) claims.set(path, n);
    else claims.delete(path);
  }
  return [...claims.keys()];
}

/** The name prefix of this process's records: its pid and start time (a reused pid differs in the latter). */
function ownPrefix(): string {
  const m = maker();
  return `${m.pid}-${m.startTime}.`;
}

/** A record's name: `<maker pid>-<start time>.log` or `.<encoded path>` (ownPrefix). */
const RECORD_NAME = /^(\d+)-(\d*)\./;

/**
 * Remove the cgroups that dead makers (the pid dead, or reused by another process: the start
 * time differs) still claim, when they are empty; a busy one (a process that escaped the
 * parent-death signal) stays claimed for a later sweep. Never throws.
 * @param open opens a cgroup by path (the caller's layout and options)
 */
export function sweepOrphanCgroups(open: (path: string) => Cgroup, root?: string): void {
  const dir = claimsDir(root);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // none made yet
  }
  const own = ownPrefix();
  /** Per file of a dead maker, the paths it claims. */
  const dead = new Map<string, { log: boolean; paths: string[] }>();
  for (const name of names) {
    if (name.startsWith(own)) continue; // this process lives: its own to remove
    // The name carries the maker: a live one's log or record is not read (a busy host has many).
    const maker = RECORD_NAME.exec(name);
    if (maker && maker[2] !== '' && processStartTime(Number(maker[1])) === maker[2]) continue;
    const file = join(dir, name);
    const rest = maker ? name.slice(maker[0].length) : '';
    try {
      if (maker && rest.startsWith(`${LOG}.`)) {
        rmSync(file, { force: true }); // a rewrite (compaction, sweep) its writer did not finish
      } else if (maker && rest === LOG) {
        dead.set(file, { log: true, paths: openClaims(readFileSync(file, 'utf8')) });
      } else {
        // A one-file record (older versions): its body names the maker.
        const rec = JSON.parse(readFileSync(file, 'utf8')) as { path: string; pid: number; startTime: string };
        if (processStartTime(rec.pid) === rec.startTime) continue; // its maker lives: its own to remove
        dead.set(file, { log: false, paths: [rec.path] });
      }
    } catch {
      // unreadable or half-written: left for a later sweep
    }
  }
  // Deeper paths first: a claimed cgroup below another claimed one (@ns/sandbox's run cgroup
  // and the container's `box` in it) goes before its parent, in one sweep.
  const all = [...dead].flatMap(([file, d]) => d.paths.map((path) => ({ file, path })));
  all.sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  const busy = new Map<string, string[]>();
  for (const { file, path } of all) {
    try {
      open(path).removeEmpty();
    } catch {
      busy.set(file, [...(busy.get(file) ?? []), path]); // left for a later sweep
    }
  }
  for (const [file, d] of dead) {
    const left = busy.get(file);
    try {
      if (!left) rmSync(file, { force: true });
      else if (d.log && left.length < d.paths.length) {
        writeFileSync(`${file}.sweep`, left.map((p) => `+${encodeURIComponent(p)}\n`).join(''), { mode: 0o600 });
        renameSync(`${file}.sweep`, file);
      }
    } catch {
      // a later sweep tries again
    }
  }
}
