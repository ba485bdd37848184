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
  /**
   * Optional: open an existing file once for several writes (each `write` one write(2), parsed
   * alone by cgroupfs as with writeFile: a run of devices.allow rules), `close` when done.
   * Throws as writeFile (open: `ENOENT`; write: `EINVAL` ...). Without it, writeFile each.
   */
  openWriter?(path: string): { write(value: string): void; close(): void };
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

/**
 * Writes for Cgroup's runWrites: consecutive writes into the same file (a new cgroup's devices.allow
 * rules) share one open descriptor when the sys can (CgroupSys.openWriter), one write(2) each
 * as before; an open or write error is thrown as writeFile's, and the descriptor is dropped.
 */
export class FileWriter {
  private open: { path: string; file: { write(value: string): void; close(): void } } | undefined;
  constructor(private readonly sys: CgroupSys) {}

  write(path: string, value: string): void {
    if (!this.sys.openWriter) return this.sys.writeFile(path, value);
    if (this.open?.path !== path) {
      this.close();
      this.open = { path, file: this.sys.openWriter(path) };
    }
    try {
      this.open.file.write(value);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  close(): void {
    const o = this.open;
    this.open = undefined;
    try {
      o?.file.close();
    } catch {
      // close(2) of a cgroup file reports nothing the writes did not
    }
  }
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
  openWriter(path) {
    const fd = openSync(path, constants.O_WRONLY);
    return {
      write: (value: string) => void writeSync(fd, value),
      close: () => closeSync(fd),
    };
  },
  exists(path) {
    try {
      // No exception for ENOENT, the usual answer (Node builds one with a stack: ~40 us).
      return statSync(path, { throwIfNoEntry: false }) !== undefined;
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
