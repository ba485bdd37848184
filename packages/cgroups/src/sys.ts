/**
 * The few host operations the cgroup manager makes, behind an interface so that unit tests can
 * record them on a fake tree (as youki tests against a recording Syscall double). The real
 * one writes cgroup files the way runc does: open O_WRONLY without O_CREAT (a missing file is
 * ENOENT, never created) and one write(2) per value, since cgroupfs parses each write alone.
 */
import { closeSync, constants, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, statSync, writeSync } from 'node:fs';

export interface CgroupSys {
  /** The whole file as text. Throws Node's fs errors (`ENOENT` ...). */
  readFile(path: string): string;
  /** One write(2) of `value` into an existing file. Throws Node's fs errors (`EINVAL`, `EBUSY` ...). */
  writeFile(path: string, value: string): void;
  exists(path: string): boolean;
  /** mkdir(2) with mode 0755; true when made, false when it already existed. */
  mkdir(path: string): boolean;
  /** rmdir(2). Throws Node's fs errors (`EBUSY` while it holds processes, `ENOENT`). */
  rmdir(path: string): void;
  /** Names of the subdirectories (child cgroups) of a directory. */
  subdirs(path: string): string[];
  /** kill(2); `ESRCH` (already gone) is not an error. */
  kill(pid: number, signal: NodeJS.Signals | number): void;
}

/** The real host. */
export const hostSys: CgroupSys = {
  readFile(path) {
    return readFileSync(path, 'utf8');
  },
  writeFile(path, value) {
    // libuv opens with O_CLOEXEC already.
    const fd = openSync(path, constants.O_WRONLY);
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  },
  exists(path) {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  mkdir(path) {
    try {
      mkdirSync(path, 0o755);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  },
  rmdir(path) {
    rmdirSync(path);
  },
  subdirs(path) {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  },
  kill(pid, signal) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  },
};

/** Pids listed in a cgroup.procs text. */
export function parsePids(text: string): number[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

/** Sleep `ms` milliseconds (the pollers of freeze, kill and destroy). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
