/**
 * The container's console (terminal mode) made in the container, as runc makes it: a pty of
 * the container's own devpts instance (a devpts mount at /dev/pts on a /dev of its own), its
 * slave on 0, 1, 2, as the controlling terminal and bound onto /dev/console, its master taken
 * by the parent at the `openConsole` step's sync (process/exec.ts). Its name inside is then
 * one the container has (`tty` prints /dev/pts/0), and nothing of the host's devpts is in the
 * container. A config without such a /dev/pts gets a pty of the host's, bound onto
 * /dev/console (devices.ts consoleSteps), as before.
 */
import { posix } from 'node:path';
import type { OpenConsoleStep, Step } from '@ns/syscalls';
import type { MountConfig } from '../config/container.js';
import type { RootfsPlanner } from './rootfs.js';

/** The sync name of the openConsole step: the parent takes the master (process/exec.ts). */
export const CONSOLE_SYNC = 'console';

/** A pty the parent opened (the host's devpts, or a joined container's for execIn()). */
export interface HostConsole {
  fd: number;
  path: string;
}

/** A console to make in the container, of `cols` x `rows`, when it has a devpts of its own. */
export interface OwnConsole {
  own: true;
  cols: number;
  rows: number;
}

/** PlanIo.console: a pty of the parent's, or one for the container to make. */
export type PlanConsole = HostConsole | OwnConsole;

/** True for a console the container makes itself. */
export function isOwnConsole(c: PlanConsole | undefined): c is OwnConsole {
  return c !== undefined && 'own' in c;
}

/** Whether `mounts` (on a /dev of the container's own) give it a devpts instance at /dev/pts. */
export function ownsDevpts(mounts: readonly MountConfig[]): boolean {
  const pts = mounts.findLast((m) => posix.resolve('/', m.destination) === '/dev/pts');
  return pts !== undefined && (pts.type ?? pts.source) === 'devpts';
}

/**
 * The openConsole step, after the container's /dev/pts is mounted in the staged new root: its
 * ptmx opened there, the slave bound onto /dev/console (created as a file to mount onto). The
 * owner is set by {@link setConsoleOwner} once the user is resolved.
 */
export function ownConsoleSteps(planner: RootfsPlanner, console: OwnConsole): void {
  const target = planner.resolve('/dev/console');
  planner.ensureTarget(target, true);
  planner.steps.push({
    op: 'openConsole',
    ptmx: planner.staged(planner.resolve('/dev/pts/ptmx')),
    console: planner.staged(target),
    cols: console.cols,
    rows: console.rows,
    uid: -1,
    gid: -1,
    name: CONSOLE_SYNC,
  });
}

/**
 * Give the console to the process's user (`uid`:`gid` as the container sees them), as a pty
 * of the host's is given (runc and Docker leave it to the user). Changes the openConsole step
 * of `steps` in place (steps of a plan being made).
 */
export function setConsoleOwner(steps: Step[], uid: number, gid: number): void {
  const step = steps.find((s): s is OpenConsoleStep => s.op === 'openConsole');
  if (step) {
    step.uid = uid;
    step.gid = gid;
  }
}
