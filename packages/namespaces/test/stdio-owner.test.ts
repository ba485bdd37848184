/**
 * The stdio pipes handed to the process's user (runc's fixStdioPermissions): which
 * descriptors get an fchown(2) step, where in the plan, and what stdioOwners() reads.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native, type Step } from '@ns/syscalls';
import { execInSteps } from '../src/process/execin.js';
import { planContainer, rootfsContainer, stdioOwnerSteps, stdioOwners } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-stdio-owner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stdioOwnerSteps', () => {
  it('hands pipes not owned by the user to it: fchown(fd, uid, -1)', () => {
    const io = { stdio: [10, 11, 12], stdioOwners: [0, 0, null] };
    expect(stdioOwnerSteps(io, { uid: 1000, hostUid: 1000 })).toEqual([
      { op: 'fchown', fd: 0, uid: 1000, gid: -1 },
      { op: 'fchown', fd: 1, uid: 1000, gid: -1 },
    ]);
  });

  it('leaves alone what the user owns already, what is not a pipe, and everything with a terminal or without owners', () => {
    expect(stdioOwnerSteps({ stdio: [10, 11, 12], stdioOwners: [0, 0, 0] }, { uid: 0, hostUid: 0 })).toEqual([]);
    expect(stdioOwnerSteps({ stdio: [10, 11, 12], stdioOwners: [null, null, null] }, { uid: 1000, hostUid: 1000 })).toEqual([]);
    expect(stdioOwnerSteps({ stdio: [10, 11, 12] }, { uid: 1000, hostUid: 1000 })).toEqual([]);
    expect(stdioOwnerSteps({ stdio: [], console: { fd: 3, path: '/dev/pts/1' }, stdioOwners: [0, 0, 0] }, { uid: 1000, hostUid: 1000 })).toEqual([]);
  });

  it('in a user namespace compares the owner with the host uid, and chowns to the uid inside', () => {
    expect(stdioOwnerSteps({ stdio: [10, 11, 12], stdioOwners: [100000, 0, 0] }, { uid: 0, hostUid: 100000 })).toEqual([
      { op: 'fchown', fd: 1, uid: 0, gid: -1 },
      { op: 'fchown', fd: 2, uid: 0, gid: -1 },
    ]);
    // A joined user namespace: the host uid is not known, every pipe gets the step.
    expect(stdioOwnerSteps({ stdio: [10, 11], stdioOwners: [5, 6] }, { uid: 7, hostUid: null })).toHaveLength(2);
  });
});

describe('stdioOwners', () => {
  it('names the owner of a pipe, null for /dev/null, a regular file and a bad descriptor', () => {
    const addon = native();
    const [r, w] = addon.pipe();
    const file = join(dir, 'out');
    writeFileSync(file, '');
    const fileFd = openSync(file, 'r');
    const nullFd = openSync('/dev/null', 'r');
    try {
      const uid = process.geteuid?.() ?? 0;
      expect(stdioOwners([r, w, nullFd])).toEqual([uid, uid, null]);
      expect(stdioOwners([fileFd, 999_999, -1])).toEqual([null, null, null]);
    } finally {
      for (const fd of [r, w, fileFd, nullFd]) closeSync(fd);
    }
  });
});

describe('the fchown steps in plans', () => {
  it('come right after the stdio step, before the user changes, in a container plan', () => {
    const root = mkdtempSync(join(dir, 'rootfs-'));
    const c = rootfsContainer(root, { id: 'own', user: '1000:1000', args: ['/bin/true'] });
    const { plan, stdioAt, stdioEnd } = planContainer(c, { stdio: [10, 11, 12], stdioOwners: [0, 0, null] });
    const ops = plan.steps.map((s) => s.op);
    const stdio = ops.indexOf('stdio');
    expect(plan.steps.slice(stdio + 1, stdio + 3)).toEqual([
      { op: 'fchown', fd: 0, uid: 1000, gid: -1 },
      { op: 'fchown', fd: 1, uid: 1000, gid: -1 },
    ]);
    expect(stdioEnd).toBe(stdio + 3);
    expect(stdioAt).toBeLessThan(stdio);
    expect(ops.indexOf('setresuid')).toBeGreaterThan(stdio + 2);
    // Without owners (a dry run, a library caller's plan): none.
    expect(planContainer(c, { stdio: [10, 11, 12] }).plan.steps.some((s) => s.op === 'fchown')).toBe(false);
  });

  it('go with the stdio step into the first ns-init of an exec, before it forks into the container', () => {
    const joins: Step[] = [{ op: 'setns', fd: 20, nstype: 0x20000 }];
    const session: Step[] = [{ op: 'setsid' }, { op: 'stdio', fds: [0, 1, 2] }, { op: 'fchown', fd: 1, uid: 1000, gid: -1 }];
    const tail: Step[] = [{ op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }, { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }];
    expect(execInSteps(joins, session, tail).map((s) => s.op)).toEqual(['setns', 'stdio', 'fchown', 'setresuid', 'cloneParent', 'setsid', 'execve']);
  });
});
