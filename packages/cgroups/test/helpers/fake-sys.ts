/**
 * A recording, in-memory cgroupfs for unit tests of the manager (no root): directories, files
 * with text, and a log of every mkdir / write / rmdir / kill. Writes to a missing file fail with
 * ENOENT (as the real one opened without O_CREAT); `fail` injects errno errors; a new directory
 * gets the files `template(dir)` returns; rmdir refuses a directory whose cgroup.procs lists pids.
 */
import { dirname } from 'node:path';
import type { CgroupSys } from '../../src/sys.js';

export type LogEntry = ['mkdir' | 'rmdir' | 'read', string] | ['write', string, string] | ['kill', number, string | number];

export function sysError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
}

export class FakeSys implements CgroupSys {
  readonly dirs = new Set<string>();
  readonly files = new Map<string, string>();
  readonly log: LogEntry[] = [];
  /** Return an errno name to fail a write (checked before the file exists check). */
  fail: (path: string, value: string) => string | undefined = () => undefined;
  /** Files a new directory starts with (cgroupfs makes them). */
  template: (dir: string) => Record<string, string> = () => ({});
  /** Called after each write, to emulate the kernel (cgroup.freeze -> cgroup.events ...). */
  onWrite: (path: string, value: string, old: string) => void = () => undefined;

  constructor(tree: Record<string, string> = {}, dirs: string[] = []) {
    for (const d of dirs) this.addDir(d);
    for (const [p, v] of Object.entries(tree)) {
      this.addDir(dirname(p));
      this.files.set(p, v);
    }
  }

  addDir(d: string): void {
    for (let p = d; p !== '/' && !this.dirs.has(p); p = dirname(p)) this.dirs.add(p);
  }

  readFile(path: string): string {
    const v = this.files.get(path);
    if (v === undefined) throw sysError(this.dirs.has(path) ? 'EISDIR' : 'ENOENT', 'open', path);
    return v;
  }

  writeFile(path: string, value: string): void {
    const code = this.fail(path, value);
    if (code) throw sysError(code, 'write', path);
    if (!this.files.has(path)) throw sysError('ENOENT', 'open', path);
    this.log.push(['write', path, value]);
    const old = this.files.get(path)!;
    if (path.endsWith('/cgroup.procs')) this.files.set(path, `${old}${value}\n`);
    else this.files.set(path, value);
    this.onWrite(path, value, old);
  }

  exists(path: string): boolean {
    return this.dirs.has(path) || this.files.has(path);
  }

  mkdir(path: string): boolean {
    if (this.dirs.has(path)) return false;
    if (!this.dirs.has(dirname(path))) throw sysError('ENOENT', 'mkdir', path);
    this.dirs.add(path);
    this.log.push(['mkdir', path]);
    for (const [f, v] of Object.entries(this.template(path))) this.files.set(`${path}/${f}`, v);
    return true;
  }

  rmdir(path: string): void {
    if (!this.dirs.has(path)) throw sysError('ENOENT', 'rmdir', path);
    if (this.subdirs(path).length) throw sysError('ENOTEMPTY', 'rmdir', path);
    if ((this.files.get(`${path}/cgroup.procs`) ?? '').trim() !== '') throw sysError('EBUSY', 'rmdir', path);
    this.dirs.delete(path);
    for (const f of [...this.files.keys()]) if (dirname(f) === path) this.files.delete(f);
    this.log.push(['rmdir', path]);
  }

  subdirs(path: string): string[] {
    return [...this.dirs].filter((d) => dirname(d) === path).map((d) => d.slice(path.length + 1));
  }

  kill(pid: number, signal: NodeJS.Signals | number): void {
    this.log.push(['kill', pid, signal]);
    if (signal === 'SIGKILL' || signal === 9) {
      for (const [f, v] of this.files) {
        if (f.endsWith('/cgroup.procs')) this.files.set(f, v.split('\n').filter((l) => l !== '' && Number(l) !== pid).map((l) => `${l}\n`).join(''));
      }
    }
  }

  /** The writes logged so far, as [path, value]. */
  writes(): Array<[string, string]> {
    return this.log.filter((e): e is ['write', string, string] => e[0] === 'write').map(([, p, v]) => [p, v]);
  }
}
