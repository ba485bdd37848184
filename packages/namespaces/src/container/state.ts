import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { cgroupFrozen, openContainerCgroup } from './cgroup.js';
import { FRONT_RECORD, frontRecord } from './front-record.js';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type * as Lockfile from 'proper-lockfile';
import { ErrorCode, NsError, configError } from '@ns/syscalls';
import { CONTAINER_ID, CONTAINER_ID_RULE, isContainerId, type Container } from '../config/container.js';

/**
 * The error for a container that is not running (stopped, or its process gone): runc's words
 * `container not running`, which containerd's runc shim matches to take a kill of an exited
 * container as "already gone" (pkg/process/utils.go checkKillError), then the id.
 */
export function notRunningError(id: string, cause?: unknown): NsError {
  return new NsError(ErrorCode.STATE, `container not running: ${id}`, cause === undefined ? {} : { cause });
}

/** The FIFO a created container's process waits on before execve, in its folder (runc's exec.fifo). */
export const EXEC_FIFO = 'exec.fifo';

/** OCI runtime-spec version of the state we write. */
export const OCI_VERSION = '1.2.0';

/**
 * OCI `status` (runtime.md "State"): `creating` only while `ns` sets the container up;
 * `paused` (as runc) while its cgroup is frozen (`ns pause`).
 */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/**
 * What is kept for one container, in `<root>/<id>/state.json`: the OCI state fields
 * (ociVersion, id, status, pid, bundle, annotations) and what execIn and the lifecycle
 * commands need.
 */
export interface ContainerState {
  ociVersion: string;
  id: string;
  /** Status as recorded; {@link currentStatus} derives the live one from the process. */
  status: ContainerStatus;
  /** Pid of the container's init in the host's pid namespace. */
  pid: number;
  /** Bundle directory (absolute), or the working directory of `ns run` without a bundle. */
  bundle: string;
  annotations: Record<string, string>;
  /** Creation time, ISO 8601 (as runc's `created`). */
  created: string;
  /**
   * Field 22 (starttime) of /proc/PID/stat when the container started: a pid is trusted
   * only while its start time still matches, so a reused pid is never signalled or joined.
   */
  startTime: string;
  /** The container config (validated; rootfs absolute, or null for the embedded default). */
  config: Container;
  /** Started with `--detach`: not tied to the `ns` process that started it. */
  detached: boolean;
  /**
   * The process setting the container up (pid and start time), while `creating`: if it dies
   * before recording the container's pid, the state reads as stopped.
   */
  creator?: { pid: number; startTime: string };
}

/**
 * The state root: `/run/ns` for root, `$XDG_RUNTIME_DIR/ns` for another user (runc uses
 * /run/runc and $XDG_RUNTIME_DIR/runc the same way), `/tmp/ns-<uid>` without one.
 * @param env where XDG_RUNTIME_DIR is read (default process.env; the caller's for a call
 *   handed to `ns serve`)
 */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/ns';
  const xdg = env.XDG_RUNTIME_DIR;
  return xdg ? join(xdg, 'ns') : `/tmp/ns-${uid}`;
}

/**
 * Field 22 (starttime, clock ticks after boot) of /proc/PID/stat, or null when there is no
 * such process or it is a zombie (it has exited and only waits to be reaped). proc(5).
 */
export function processStartTime(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return fields[19] ?? null; // fields[0] is field 3
}

/** True while the recorded init process is alive and is the one recorded. */
export function isAlive(state: Pick<ContainerState, 'pid' | 'startTime'>): boolean {
  return state.pid > 0 && processStartTime(state.pid) === state.startTime;
}

/** The live status: `stopped` once the recorded process is gone or its pid was reused. */
export function currentStatus(state: ContainerState): ContainerStatus {
  if (state.status === 'creating') {
    if (state.pid > 0) return isAlive(state) ? 'creating' : 'stopped';
    return state.creator && !isAlive(state.creator) ? 'stopped' : 'creating';
  }
  return liveStatus(state.status, isAlive(state), () => frozen(state));
}

/**
 * The live status of a container recorded as `recorded` (not `creating`), given whether its
 * process is alive and (asked only when it matters) whether its cgroup is frozen. The one
 * rule {@link currentStatus} and the native front's record (front-record.ts) both follow.
 */
export function liveStatus(recorded: Exclude<ContainerStatus, 'creating'>, alive: boolean, frozen: () => boolean): ContainerStatus {
  if (recorded === 'stopped' || !alive) return 'stopped';
  if (recorded === 'running' && frozen()) return 'paused';
  return recorded === 'paused' ? 'running' : recorded;
}

/** Whether the container's cgroup is frozen (FROZEN or FREEZING); false without one. */
function frozen(state: ContainerState): boolean {
  try {
    return cgroupFrozen(openContainerCgroup(state.config));
  } catch {
    return false;
  }
}

/** The OCI state document (runtime.md "State") with the live status, as `ns state` prints it. */
export function ociState(state: ContainerState): OciStateDocument {
  return ociDocument(state, currentStatus(state));
}

/** The OCI state document `ns state` prints. */
export interface OciStateDocument {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
  created: string;
  rootfs: string | null;
}

/** {@link ociState} for a given live `status` (the pid is left out once stopped). */
export function ociDocument(state: ContainerState, status: ContainerStatus): OciStateDocument {
  return {
    ociVersion: state.ociVersion,
    id: state.id,
    status,
    ...(status === 'stopped' ? {} : { pid: state.pid }),
    bundle: state.bundle,
    ...(Object.keys(state.annotations).length ? { annotations: state.annotations } : {}),
    created: state.created,
    rootfs: state.config.rootfs,
  };
}

/**
 * Container state on disk: one folder per id under `root`, holding `state.json`. Writes are
 * atomic (write a temporary file, then rename(2)); changes are serialized per container with
 * a lock (proper-lockfile, `<root>/<id>/.lock`).
 */
export class StateStore {
  readonly root: string;

  constructor(root: string = defaultStateRoot()) {
    this.root = resolve(root);
  }

  /**
   * The folder of container `id`.
   * @throws NsError `ERR_NS_CONFIG` for an id that is not `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`
   *   (which also keeps every id inside the root: no `/`, no leading `.`).
   */
  dir(id: string): string {
    if (!isContainerId(id)) {
      throw configError(`invalid container id ${JSON.stringify(id)} (expected ${CONTAINER_ID_RULE})`, 'id');
    }
    return join(this.root, id);
  }

  /**
   * Claim `state.id`: create its folder (mkdir(2) is atomic, so of two concurrent claims one
   * fails) and write the state.
   * @throws NsError `ERR_NS_STATE` when a container with this id exists.
   */
  create(state: ContainerState): void {
    const dir = this.dir(state.id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        // runc's words (libcontainer ErrExist), then the id.
        throw new NsError(ErrorCode.STATE, `container with given ID already exists: ${state.id} (state in ${dir})`, { path: dir });
      }
      throw err;
    }
    try {
      this.write(state);
    } catch (err) {
      removeTree(dir);
      throw err;
    }
  }

  /**
   * Replace the state file atomically, and the native front's record beside it
   * (front-record.ts): the old record goes first, so a reader never finds a record older
   * than state.json (without one, the front leaves the call to Node).
   */
  write(state: ContainerState): void {
    const dir = this.dir(state.id);
    try {
      unlinkSync(join(dir, FRONT_RECORD));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    writeAtomic(dir, 'state.json', stateFileText(state));
    const record = frontRecord(state, dir);
    if (record !== null) writeAtomic(dir, FRONT_RECORD, record);
  }

  /**
   * @throws NsError `ERR_NS_NOT_FOUND` when there is no container `id`, `ERR_NS_STATE` when
   *   its state file is unreadable.
   */
  read(id: string): ContainerState {
    const file = join(this.dir(id), 'state.json');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NsError(ErrorCode.NOT_FOUND, `container ${id} does not exist`, { path: file });
      }
      throw err;
    }
    try {
      return JSON.parse(text) as ContainerState;
    } catch (cause) {
      throw new NsError(ErrorCode.STATE, `container ${id}: unreadable state file ${file}`, { path: file, cause });
    }
  }

  /**
   * Ids of all containers with a state file, sorted; none when the root does not exist yet.
   * @throws NsError with the errno code (`EACCES`: `open ROOT: permission denied`, as runc list)
   *   when the root cannot be read
   */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return [];
      const why = e.code === 'EACCES' ? 'permission denied' : e.code === 'ENOTDIR' ? 'not a directory' : (e.code ?? 'EIO');
      throw new NsError(e.code ?? 'EIO', `open ${this.root}: ${why}`, { path: this.root, cause: err });
    }
    return names
      .filter((n) => CONTAINER_ID.test(n))
      .filter((n) => {
        try {
          readFileSync(join(this.root, n, 'state.json'));
          return true;
        } catch {
          return false;
        }
      })
      .sort();
  }

  /** Remove the container's folder (no error when it is already gone). */
  remove(id: string): void {
    removeTree(this.dir(id));
  }

  /**
   * Run `fn` holding the container's lock (waits up to about 5 s for another holder).
   * @throws NsError `ERR_NS_NOT_FOUND` when the container does not exist (or is deleted
   *   meanwhile), `ERR_NS_STATE` when the lock cannot be taken.
   */
  async withLock<T>(id: string, fn: () => T | Promise<T>): Promise<T> {
    const dir = this.dir(id);
    // The lock lives inside the container's folder, so no id can clash with it and it goes
    // away with the folder.
    const lockPath = join(dir, '.lock');
    let release: () => Promise<void>;
    // proper-lockfile retries every failure, a missing folder too: `ns start` of an unknown
    // id took 5 s (100 retries) to say it does not exist.
    if (!existsSync(dir)) throw new NsError(ErrorCode.NOT_FOUND, `container ${id} does not exist`, { path: dir });
    try {
      // Loaded on first use: most `ns` calls never lock.
      const lockfile = createRequire(import.meta.url)('proper-lockfile') as typeof Lockfile;
      release = await lockfile.lock(dir, {
        realpath: false,
        lockfilePath: lockPath,
        stale: 10_000,
        retries: { retries: 100, minTimeout: 5, maxTimeout: 50, factor: 1.5 },
        // The folder (and the lock in it) is removed by delete while held: not an error.
        onCompromised: () => undefined,
      });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NsError(ErrorCode.NOT_FOUND, `container ${id} does not exist`, { path: dir, cause });
      }
      throw new NsError(ErrorCode.STATE, `container ${id} is locked by another ns process`, { path: lockPath, cause });
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }
}

/** The text of state.json for `state`. */
export function stateFileText(state: ContainerState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Write `dir/name` atomically: a temporary file (mode 0600), then rename(2). */
function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, join(dir, name));
}

/**
 * `rm -rf` of a container's folder (state.json, exec.fifo, the lock folder): Node's recursive
 * rmSync loads its rimraf module first, about 1 ms of every short `ns run`. Links are removed,
 * never followed. Anything unexpected (a file appearing meanwhile ...) falls back to rmSync.
 */
function removeTree(dir: string): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) removeTree(path);
      else unlinkSync(path);
    }
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(dir)) return;
    rmSync(dir, { recursive: true, force: true });
  }
}
