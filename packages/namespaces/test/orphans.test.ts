import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cgroup } from '@ns/cgroups';
import { claimCgroup, claimsDir, sweepOrphanCgroups } from '../src/container/orphans.js';
import { processStartTime } from '../src/container/state.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A state root with a claims directory, and a sweep `open` that records the paths it removes. */
function setup() {
  const root = mkdtempSync(join(tmpdir(), 'ns-orphans-'));
  roots.push(root);
  mkdirSync(claimsDir(root), { recursive: true });
  const removed: string[] = [];
  const open = (path: string) => ({ removeEmpty: () => void removed.push(path) }) as unknown as Cgroup;
  const record = (pid: number, startTime: string, body: object) => writeFileSync(join(claimsDir(root), `${pid}-${startTime}.${encodeURIComponent((body as { path: string }).path)}`), JSON.stringify(body));
  return { root, removed, open, record };
}

describe('sweepOrphanCgroups', () => {
  it("removes a dead maker's cgroup and record, keeps this process's own", () => {
    const { root, removed, open, record } = setup();
    const dead = spawnSync('true').pid!;
    record(dead, '999', { path: '/ns/dead', pid: dead, startTime: '999' });
    const release = claimCgroup('/ns/own', root);
    sweepOrphanCgroups(open, root);
    expect(removed).toEqual(['/ns/dead']);
    expect(readdirSync(claimsDir(root))).toEqual([`${process.pid}-${processStartTime(process.pid)}.${encodeURIComponent('/ns/own')}`]);
    release();
    expect(readdirSync(claimsDir(root))).toEqual([]);
  });

  it('a record named for a live maker is kept without being read (its name carries the maker)', () => {
    const { root, removed, open, record } = setup();
    const live = process.ppid;
    const start = processStartTime(live)!;
    // The body says a dead maker: only a sweep that read it would remove the cgroup.
    record(live, start, { path: '/ns/live', pid: 2 ** 22 + 1, startTime: '1' });
    sweepOrphanCgroups(open, root);
    expect(removed).toEqual([]);
    expect(existsSync(join(claimsDir(root), `${live}-${start}.${encodeURIComponent('/ns/live')}`))).toBe(true);
  });

  it('a reused pid (another start time) is a dead maker', () => {
    const { root, removed, open, record } = setup();
    record(process.ppid, '1', { path: '/ns/reused', pid: process.ppid, startTime: '1' });
    sweepOrphanCgroups(open, root);
    expect(removed).toEqual(['/ns/reused']);
  });
});
