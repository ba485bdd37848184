/**
 * Every read of the host file system one planning pass makes, answered once per path and
 * written down, so that a plan can later be reused exactly when all those answers are still
 * the same (see `planContainerCached` in plan.ts).
 */
import { lstatSync, readFileSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { lstatOrUndefined, type Lstat } from './path.js';
import { readUserFiles } from './user.js';

/** A file's kind as planning tells them apart; null when it does not exist. */
export type Kind = 'dir' | 'file' | 'symlink' | null;

/** One question asked of the host and its answer, as a string. */
export interface HostRead {
  /** lstat: resolveInRoot's question; kind / stat: a path's kind without / with following links. */
  op: 'lstat' | 'kind' | 'stat' | 'realpath' | 'readlink' | 'userFiles' | 'device' | 'text';
  /** A host path (`userFiles`: the rootfs, or '' for the host's own /etc). */
  path: string;
  answer: string;
}

/** The kind of an lstat/stat answer (undefined: missing). */
export function kindOfStats(st: Stats | undefined): Kind {
  if (!st) return null;
  if (st.isSymbolicLink()) return 'symlink';
  return st.isDirectory() ? 'dir' : 'file';
}

/** lstat's answer as recorded: the kind, and a symlink's target (resolveInRoot reads it). */
function lstatAnswer(path: string, st: Stats | undefined): string {
  const kind = kindOfStats(st);
  return kind === 'symlink' ? `symlink:${readlinkSync(path, 'utf8')}` : String(kind);
}

/** The kind of a host path: lstat, or stat when `follow`; unreadable counts as missing. */
export function statKind(path: string, follow: boolean): Kind {
  try {
    return kindOfStats(follow ? statSync(path, { throwIfNoEntry: false }) : lstatSync(path, { throwIfNoEntry: false }));
  } catch {
    return null;
  }
}

/** A host device node as planning sees it: its type and numbers, or null when it is none. */
export interface HostDevice {
  type: 'c' | 'b';
  major: number;
  minor: number;
}

/** The device node at `path` (lstat: a symlink is none), or null. */
function readDevice(path: string): HostDevice | null {
  let st: Stats | undefined;
  try {
    st = lstatSync(path, { throwIfNoEntry: false, bigint: false });
  } catch {
    return null;
  }
  if (!st || !(st.isCharacterDevice() || st.isBlockDevice())) return null;
  // The kernel's dev_t (glibc's major()/minor()).
  const rdev = BigInt(st.rdev);
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { type: st.isCharacterDevice() ? 'c' : 'b', major, minor };
}

function deviceAnswer(d: HostDevice | null): string {
  return d ? `${d.type}:${d.major}:${d.minor}` : 'null';
}

/** A small host file's text, or '' when it cannot be read. */
function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function userFilesAnswer(rootfs: string): string {
  return JSON.stringify(readUserFiles(rootfs === '' ? null : rootfs));
}

/**
 * The host reads of one planning pass. Each method asks the file system the first time a
 * path comes up and repeats that answer after (one pass sees one state of the host); every
 * answer is kept in {@link log}. Failures are not logged: they fail the pass.
 */
export class HostReads {
  readonly log: HostRead[] = [];
  private readonly answers = new Map<string, unknown>();

  private ask<T>(op: HostRead['op'], path: string, read: () => T, answer: (value: T) => string): T {
    const key = `${op}\0${path}`;
    if (this.answers.has(key)) return this.answers.get(key) as T;
    const value = read();
    this.answers.set(key, value);
    this.log.push({ op, path, answer: answer(value) });
    return value;
  }

  /** An {@link Lstat} for resolveInRoot (missing paths are undefined; other errors thrown). */
  readonly lstat: Lstat = (path) => this.ask('lstat', path, () => lstatOrUndefined(path), (st) => lstatAnswer(path, st));

  /** The kind of a host path (lstat, or stat when `follow`); unreadable counts as missing. */
  kind(path: string, follow = false): Kind {
    return this.ask(follow ? 'stat' : 'kind', path, () => statKind(path, follow), String);
  }

  /** realpath(3) of a host path; throws as realpathSync. */
  realpath(path: string): string {
    return this.ask('realpath', path, () => realpathSync(path), (p) => p);
  }

  /** readlink(2) of a host path; throws as readlinkSync. */
  readlink(path: string): string {
    return this.ask('readlink', path, () => readlinkSync(path, 'utf8'), (t) => t);
  }

  /** The device node at a host path (lstat), or null when there is none. */
  device(path: string): HostDevice | null {
    return this.ask('device', path, () => readDevice(path), deviceAnswer);
  }

  /** The text of a small host file (a /proc knob), '' when it cannot be read. */
  text(path: string): string {
    return this.ask('text', path, () => readText(path), (t) => t);
  }

  /** readUserFiles of a rootfs (null: the host's /etc). */
  userFiles(rootfs: string | null): { passwd?: string; group?: string } {
    return this.ask('userFiles', rootfs ?? '', () => readUserFiles(rootfs), (f) => JSON.stringify(f));
  }
}

/**
 * Whether every answer in `log` is still what the host says now (the reads are made again;
 * any error, or any difference, is false).
 */
export function stillTrue(log: readonly HostRead[]): boolean {
  try {
    for (const r of log) {
      const path = r.path;
      let now: string;
      switch (r.op) {
        case 'lstat':
          now = lstatAnswer(path, lstatOrUndefined(path));
          break;
        case 'kind':
          now = String(statKind(path, false));
          break;
        case 'stat':
          now = String(statKind(path, true));
          break;
        case 'realpath':
          now = realpathSync(path);
          break;
        case 'readlink':
          now = readlinkSync(path, 'utf8');
          break;
        case 'userFiles':
          now = userFilesAnswer(path);
          break;
        case 'device':
          now = deviceAnswer(readDevice(path));
          break;
        case 'text':
          now = readText(path);
          break;
      }
      if (now !== r.answer) return false;
    }
    return true;
  } catch {
    return false;
  }
}
