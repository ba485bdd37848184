/**
 * The new root without pivot_root(2) (a container's `noPivotRoot`, runc's --no-pivot): the
 * two pivot_root calls of the mount tree (mounttree.ts) made with MS_MOVE and chroot(2), as
 * runc's msMoveRoot, for a host whose root pivot_root cannot leave (an initramfs).
 */
import { MNT, MS, type Step } from '@ns/syscalls';
import type { HostReads } from './hostreads.js';
import { STAGE } from './rootfs.js';

/** A mountinfo path field: `\040` and the other octal escapes of proc_pid_mountinfo(5) undone. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Whether `path` is `dir` or under it. */
const under = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * The full procfs and sysfs mounts (their filesystem's root mounted) of the caller's mount
 * namespace that runc's msMoveRoot takes away before it moves the root: those outside the
 * rootfs, in mountinfo order. Also none under the staging directory, which covers them.
 * @param mountinfo the text of /proc/self/mountinfo
 * @see proc_pid_mountinfo(5), runc libcontainer/rootfs_linux.go msMoveRoot
 */
export function pseudoMountsToDetach(mountinfo: string, rootfs: string | null): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const root = f[3];
    const point = f[4];
    const fstype = right.split(' ')[0];
    if (root !== '/' || point === undefined || (fstype !== 'proc' && fstype !== 'sysfs')) continue;
    const path = unescape(point);
    if ((rootfs !== null && under(path, rootfs)) || under(path, STAGE.base)) continue;
    out.push(path);
  }
  return out;
}

/**
 * In place of the first pivot_root (into the staging tmpfs, the old root at /oldroot): a
 * recursive bind of `/` at the staging's oldroot, the copy of the staging tmpfs in it
 * unmounted (the host's /tmp shows there again, as after a pivot_root), the host's full procfs
 * and sysfs mounts detached, then the staging tmpfs moved onto `/` and chroot(2)ed into.
 */
export function noPivotStageSteps(reads: HostReads, rootfs: string | null): Step[] {
  const oldRoot = `${STAGE.base}${STAGE.oldRoot}`;
  return [
    { op: 'mount', source: '/', target: oldRoot, fstype: null, flags: MS.BIND | MS.REC, data: null },
    { op: 'umount2', target: `${oldRoot}${STAGE.base}`, flags: MNT.DETACH },
    ...pseudoMountsToDetach(reads.text('/proc/self/mountinfo'), rootfs).map((path): Step => ({ op: 'detachMount', path })),
    { op: 'moveRoot', path: STAGE.base },
  ];
}

/**
 * In place of the second pivot_root (into the new root): the old root's copy made a slave
 * tree and detached (as pivotRoot does with the old root), then the new root moved onto `/`
 * and chroot(2)ed into (runc's msMoveRoot).
 */
export function noPivotRootSteps(): Step[] {
  return [
    { op: 'mount', source: null, target: STAGE.oldRoot, fstype: null, flags: MS.SLAVE | MS.REC, data: null },
    { op: 'umount2', target: STAGE.oldRoot, flags: MNT.DETACH },
    { op: 'moveRoot', path: STAGE.newRoot },
  ];
}
