import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cgroup } from '@ns/cgroups';
import { claimCgroup, claimsDir, openClaims, sweepOrphanCgroups } from '../src/container/orphans.js';
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
    const log = `${process.pid}-${processStartTime(process.pid)}.log`;
    expect(readdirSync(claimsDir(root))).toEqual([log]);
    expect(openClaims(readFileSync(join(claimsDir(root), log), 'utf8'))).toEqual(['/ns/own']);
    release();
    release(); // once only
    expect(openClaims(readFileSync(join(claimsDir(root), log), 'utf8'))).toEqual([]);
  });

  it("a dead maker's claim log: the cgroups it still claims are removed, then the log; a busy one stays claimed", () => {
    const { root, removed, open } = setup();
    const dead = spawnSync('true').pid!;
    const file = join(claimsDir(root), `${dead}-999.log`);
    const lines = ['+%2Fns%2Fa', '+%2Fns%2Fgone', '+%2Fns%2Fbusy', '-%2Fns%2Fgone', '+%2Fns%2Fa%2Fbox', '+%2Fns%2Ftorn'.slice(0, 5)];
    writeFileSync(file, `${lines.join('\n')}`);
    writeFileSync(`${file}.tmp`, '+%2Fns%2Fhalf\n'); // a rewrite its maker did not finish
    const busyOpen = (path: string) => (path === '/ns/busy' ? ({ removeEmpty: () => { throw new Error('EBUSY'); } } as unknown as Cgroup) : open(path));
    sweepOrphanCgroups(busyOpen, root);
    // Deeper first; the released one and the torn last line are not touched.
    expect(removed).toEqual(['/ns/a/box', '/ns/a']);
    expect(readdirSync(claimsDir(root))).toEqual([`${dead}-999.log`]);
    expect(openClaims(readFileSync(file, 'utf8'))).toEqual(['/ns/busy']);
    sweepOrphanCgroups(open, root);
    expect(removed).toEqual(['/ns/a/box', '/ns/a', '/ns/busy']);
    expect(readdirSync(claimsDir(root))).toEqual([]);
  });

  it('a claim log is rewritten with its open claims once it grows (a long-running maker)', () => {
    const { root } = setup();
    const keep = claimCgroup('/ns/long-running', root);
    const log = join(claimsDir(root), `${process.pid}-${processStartTime(process.pid)}.log`);
    for (let k = 0; k < 3000; k++) claimCgroup(`/ns/c${k}`, root)();
    expect(statSync(log).size).toBeLessThan(64 * 1024);
    expect(openClaims(readFileSync(log, 'utf8'))).toEqual(['/ns/long-running']);
    keep();
    expect(openClaims(readFileSync(log, 'utf8'))).toEqual([]);
  });

  it('openClaims: + claims, - releases, counted; a torn last line or foreign lines are skipped', () => {
    expect(openClaims('+%2Fa\n+%2Fb\n-%2Fa\n+%2Fb\n-%2Fb\n+%2Fc%ZZ\nxyz\n+%2Fd\n+%2Ftorn')).toEqual(['/b', '/d']);
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
