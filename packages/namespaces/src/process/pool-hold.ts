/**
 * A pool member's mount namespace, held open by the pool (process/pool.ts) so that its
 * teardown is not on the run's exit path.
 *
 * When the last process of a mount namespace exits, the kernel tears its mount tree down in
 * that process's exit (exit_task_namespaces → put_mnt_ns: umount_tree, an expedited RCU grace
 * period in namespace_unlock, then cleanup_mnt of every mount as task work), all before the
 * parent's pidfd says it exited: 0.25–0.6 ms of every pool run's wait() here (ftrace of
 * sched_process_exit → the parent's wake-up, loads 1–3). A descriptor of the namespace
 * (/proc/PID/ns/mnt, namespaces(7)) keeps it alive past that exit; the tree is torn down when
 * the pool closes the descriptor, on libuv's thread pool, after the run's wait() has resolved.
 * Nothing of it is reachable by then: no process is left in it, and no other run ever joins it
 * (each member has its own). The other namespaces need nothing: a net, ipc and pid namespace's
 * teardown already runs from a workqueue (cleanup_net, free_ipc, destroy_pid_namespace_work).
 */
import { close, openSync } from 'node:fs';

/**
 * Open `/proc/<pid>/ns/mnt` of a live (unreaped) child: its descriptor, or -1 when it cannot
 * be opened (no /proc, the process already exiting): the run then tears its tree down itself.
 */
export function holdMountNamespace(pid: number): number {
  try {
    return openSync(`/proc/${pid}/ns/mnt`, 'r'); // O_CLOEXEC (libuv)
  } catch {
    return -1;
  }
}

/**
 * Close a held namespace descriptor on the thread pool (the mount tree's teardown runs there);
 * resolves once closed. Never rejects.
 */
export function releaseNamespace(fd: number): Promise<void> {
  return new Promise((resolve) => close(fd, () => resolve()));
}
