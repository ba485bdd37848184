/**
 * What a run may leave behind on the host, for the hardening tests of issue 15 (shared by
 * *.int.test.ts files of @ns/cli; not a test itself): mounts, cgroups, state entries and
 * processes marked with an environment variable of the test's own.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostMountPoints } from '../../../scripts/testing/host-mounts.mjs';

/** The host's mount points (this process's mount namespace), sorted. */
export function hostMounts(): string[] {
  return hostMountPoints();
}

/** Every cgroup directory named `ns*` one or two levels below each hierarchy (runc-style `/ns/<id>`). */
export function nsCgroups(): string[] {
  const out: string[] = [];
  const top = '/sys/fs/cgroup';
  const dirs = (d: string) => {
    try {
      return readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name));
    } catch {
      return [];
    }
  };
  for (const h of [top, ...dirs(top)]) {
    for (const d of dirs(h)) {
      if (!/\/ns[^/]*$/.test(d)) continue;
      out.push(d, ...dirs(d));
    }
  }
  return out.sort();
}

/** Entries of a state root (none when it does not exist). */
export function stateEntries(root: string): string[] {
  return existsSync(root) ? readdirSync(root).sort() : [];
}

/** Pids of live processes whose environment holds `marker` (e.g. `NS_TEST_MARK=...`). */
export function markedProcesses(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(marker)) out.push(Number(name));
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return out;
}

/** Pids of `pid`'s children (all its threads'), in any state. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread ended
    }
  }
  return out.sort((a, b) => a - b);
}

/** The one-letter state of a process (R, S, Z ...), or null when it is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}
