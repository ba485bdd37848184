/**
 * Resource control of recorded containers, by id, as runc's `pause`, `resume`, `update` and
 * `events --stats`: through the container's cgroup (container/cgroup.ts), found again from
 * its recorded config (`linux.cgroupsPath`, or `/ns/<id>`).
 */
import type { Cgroup, CgroupStats, LinuxResources } from '@ns/cgroups';
import { ErrorCode, NsError } from '@ns/syscalls';
import { asNsError, openContainerCgroup } from './cgroup.js';
import { currentStatus, notRunningError, type StateStore } from './state.js';

/** The cgroup of a container that runs (or is paused), or an error saying why there is none. */
function cgroupOf(store: StateStore, id: string, what: string): Cgroup {
  const state = store.read(id);
  const status = currentStatus(state);
  // runc's words for a stopped one (`container not running`), which clients match on.
  if (status === 'stopped') throw notRunningError(id);
  if (status === 'creating') throw new NsError(ErrorCode.STATE, `cannot ${what} container ${id} that is ${status}`);
  const cg = openContainerCgroup(state.config);
  if (!cg) throw new NsError(ErrorCode.STATE, `cannot ${what} container ${id}: it has no cgroup of its own (its config has no linux.resources)`);
  return cg;
}

/**
 * Freeze every process of a container (`runc pause`): cgroup v1 freezer, v2 cgroup.freeze;
 * resolves once they are frozen. Its status reads `paused` until {@link resumeContainer}.
 * @throws NsError `ERR_NS_NOT_FOUND`, `ERR_NS_STATE` (not running, already paused, as runc's
 *   "container not running"; no cgroup, no freezer, not frozen in time).
 * @see runc pause, Documentation/admin-guide/cgroup-v2.rst "cgroup.freeze", cgroup-v1/freezer-subsystem.rst
 */
export async function pauseContainer(store: StateStore, id: string, timeoutMs?: number): Promise<void> {
  const cg = cgroupOf(store, id, 'pause');
  // As runc: only a running container (a created one would stay frozen, never shown paused).
  if (currentStatus(store.read(id)) === 'created') throw new NsError(ErrorCode.STATE, `cannot pause container ${id} that is created (start it first)`);
  if (currentStatus(store.read(id)) === 'paused') throw new NsError(ErrorCode.STATE, `container ${id} is already paused`);
  try {
    await cg.freeze(timeoutMs);
  } catch (err) {
    throw asNsError(err);
  }
}

/**
 * Thaw a paused container (`runc resume`).
 * @throws NsError `ERR_NS_NOT_FOUND`, `ERR_NS_STATE` (not paused, no cgroup).
 */
export function resumeContainer(store: StateStore, id: string): void {
  const cg = cgroupOf(store, id, 'resume');
  if (currentStatus(store.read(id)) !== 'paused') throw new NsError(ErrorCode.STATE, `container not paused: ${id}`); // runc's ErrNotPaused
  try {
    cg.thaw();
  } catch (err) {
    throw asNsError(err);
  }
}

/**
 * Change a running container's limits (`runc update`): `resources` as OCI `linux.resources`,
 * written over the current ones (only the fields given). The recorded config keeps the limits
 * it was started with.
 * @throws NsError `ERR_NS_CONFIG` naming a bad field, an errno naming the field and the cgroup
 *   file the kernel refused (a memory limit below the usage: `EBUSY`), `ERR_NS_STATE`.
 * @see runc update, OCI runtime-spec config-linux.md "Control groups"
 */
export function updateContainer(store: StateStore, id: string, resources: LinuxResources): void {
  const cg = cgroupOf(store, id, 'update');
  try {
    cg.update(resources);
  } catch (err) {
    throw asNsError(err);
  }
}

/**
 * A running container's cgroup statistics now (`runc events --stats`): memory, cpu, pids.
 * @throws NsError `ERR_NS_NOT_FOUND`, `ERR_NS_STATE` (not running, no cgroup).
 */
export function containerStats(store: StateStore, id: string): CgroupStats {
  const cg = cgroupOf(store, id, 'read the stats of');
  try {
    return cg.stats();
  } catch (err) {
    throw asNsError(err);
  }
}
