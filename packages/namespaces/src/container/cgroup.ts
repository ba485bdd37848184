/**
 * A container's cgroup: OCI `linux.resources` and `linux.cgroupsPath`, over @ns/cgroups.
 * The plan has a `cgroup` sync step (plan/namespaces.ts): there the parent makes the cgroup,
 * writes its limits and device rules and puts the waiting ns-init in it, before the container's
 * mounts (on a v1 host, where ns-init joins itself, after it has unshared its namespaces, the
 * parent making the cgroup meanwhile); on a host with cgroup v2 alone it is made just before
 * the clone and the process is born in it (clone3 CLONE_INTO_CGROUP: no cgroup.procs write,
 * whose migration waits for an RCU grace period in the kernel), with the step as the fallback.
 * It is removed when the container's process has exited (its handle reads whether the OOM
 * killer struck first), by `delete`, or at once when the start fails. A process started in a running container (execIn) joins its cgroup the same way.
 * Policy lives here; @ns/cgroups knows nothing of containers.
 */
import {
  Cgroup,
  CgroupError,
  oomProbeV1,
  resolveCgroupPath,
  type DeviceFilter,
  type LinuxResources,
  type OomProbe,
} from '@ns/cgroups';
import { ErrorCode, NsError, attachDeviceFilter, native } from '@ns/syscalls';
import { hasCgroup, type Container } from '../config/container.js';
import { delegatedCgroupParent, hostCgroupLayout } from '../plan/host.js';
import { CGROUP_JOIN_FROZEN_SYNC, CGROUP_JOIN_SYNC, CGROUP_SYNC } from '../plan/namespaces.js';
import { constants, openSync } from 'node:fs';
import { registerCloneHandler, registerSyncHandler, type SyncContext } from '../process/sync.js';
import { claimCgroup, sweepOrphanCgroups } from './orphans.js';

export { hostCgroupLayout };

/** Whether `resources` asks for any limit (anything besides device rules). */
export function hasLimits(resources: LinuxResources | undefined): boolean {
  if (!resources) return false;
  return Object.entries(resources).some(([key, value]) => key !== 'devices' && value !== undefined && value !== null);
}

/** A CgroupError as the project's NsError (same code; the JSON path, else the file, as `path`). */
export function asNsError(err: unknown): unknown {
  if (!(err instanceof CgroupError)) return err;
  const path = err.jsonPath ?? err.path;
  return new NsError(err.code, err.message, { cause: err, ...(path === undefined ? {} : { path }) });
}

/**
 * The cgroup path of a container config (`/ns/<id>` by default), or null when it has none.
 * @throws NsError `ERR_NS_CONFIG` for a cgroupsPath that leaves its parent.
 */
export function containerCgroupPath(c: Pick<Container, 'id' | 'resources' | 'cgroupsPath'>): string | null {
  if (!hasCgroup(c)) return null;
  try {
    return resolveCgroupPath(c.cgroupsPath, { id: c.id });
  } catch (err) {
    throw asNsError(err);
  }
}

/**
 * Make the container's cgroup and write its limits and device rules (runc's default allow
 * list after the config's rules; on cgroup v2 as a BPF device program). Nothing is placed in
 * it yet.
 *
 * Not root: on cgroup v2 with a delegated subtree (delegatedCgroupParent: validatedContainer
 * put the path there) the container gets its cgroup and limits, without device rules (a user
 * namespace binds the host's nodes). Without delegation it gets no cgroup when its config asks
 * for no limit (as runc), and is refused when it does: a runtime never runs a container with
 * less confinement than its config asks for.
 *
 * @returns the cgroup, or null when the container runs without one (rootless, no limits)
 * @throws NsError `ERR_NS_CONFIG` naming the field the host cannot honour (a missing
 *   controller, v2 keys on v1 ...) or a rootless config with limits; an errno code naming the
 *   cgroup file the kernel refused; `ERR_NS_STATE` for a cgroup that exists with processes in
 *   it. In every case nothing is left behind.
 * @see OCI runtime-spec config-linux.md "Control groups", runtime.md "create"
 */
export function createContainerCgroup(c: Pick<Container, 'id' | 'resources' | 'cgroupsPath'>): Cgroup | null {
  const path = containerCgroupPath(c);
  if (path === null) return null;
  const rootless = (process.geteuid?.() ?? 0) !== 0;
  if (rootless && delegatedCgroupParent() === null) {
    if (!hasLimits(c.resources)) return null;
    throw new NsError(
      ErrorCode.CONFIG,
      'linux.resources: limits need a cgroup this user may write, and this host delegates none to it (cgroup v2 with a writable parent of its own cgroup, as systemd gives user@UID.service): remove the limits or run as root',
      { path: 'linux.resources' },
    );
  }
  try {
    return Cgroup.create(path, c.resources ?? {}, {
      layout: hostCgroupLayout(),
      // On v1, only the hierarchies its limits, devices, pause, OOM, ps and stats need.
      hierarchies: 'needed',
      // A cgroupsPath of the config's (a Kubernetes pod's, a podman --cgroup-parent): also every
      // hierarchy its parent exists in, so the parent's limits reach the container as with runc.
      // Not for the default <parent>/ns/<id>, a parent only the runtime makes.
      followParent: c.cgroupsPath !== undefined && c.cgroupsPath !== '',
      // Rootless: no device program (loading one needs privilege), and none is needed: in a
      // user namespace the device nodes are the host's, bound in, with the host's permissions.
      ...(rootless
        ? { devices: false }
        : { attachDeviceFilter: (dir: string, filter: DeviceFilter) => attachDeviceFilter(dir, filter.program, filter.license) }),
    });
  } catch (err) {
    throw asNsError(err);
  }
}

/**
 * The cgroup of a recorded container (to pause, update, list or kill it), or null when it
 * has none or it is gone.
 */
export function openContainerCgroup(c: Pick<Container, 'id' | 'resources' | 'cgroupsPath'>): Cgroup | null {
  const path = containerCgroupPath(c);
  if (path === null) return null;
  try {
    const cg = Cgroup.open(path, { layout: hostCgroupLayout() });
    return cg.exists() ? cg : null;
  } catch (err) {
    throw asNsError(err);
  }
}

/**
 * The container is gone: read whether the OOM killer struck (one file; not when
 * `readOomKills` is false, the caller knowing none can have: oomProbe), kill what is left (a
 * container without its own pid namespace may leave processes behind) and remove the cgroup.
 * Never throws: the exit is what the caller waits for.
 */
async function finishContainerCgroup(cg: Cgroup, readOomKills: boolean): Promise<{ oomKilled: boolean }> {
  let oomKilled = false;
  try {
    if (readOomKills) oomKilled = cg.oomKills() > 0;
  } catch {
    // unreadable: not known to be OOM-killed
  }
  try {
    await cg.destroy();
  } catch {
    // still busy after destroy()'s retries: it stays, the exit is reported all the same
  }
  return { oomKilled };
}

// exec(): make the cgroup and put the waiting process in it; remove it if the start fails
// later (the child is reaped by then: the cgroup is empty), or once the process has exited.
// exec() alone claims the cgroup before making it (orphans.ts): if this process is killed
// before it removes the cgroup, the next one to make a cgroup removes it.
function makeCgroup(ctx: Omit<SyncContext, 'pid' | 'step' | 'index' | 'value' | 'intoCgroup'>): Cgroup | null {
  const layout = hostCgroupLayout();
  sweepOrphanCgroups((path) => Cgroup.open(path, { layout }));
  const path = containerCgroupPath(ctx.container);
  const release = path !== null && !ctx.lifecycle ? claimCgroup(path) : () => {};
  let cg: Cgroup | null;
  try {
    cg = createContainerCgroup(ctx.container);
  } catch (err) {
    release();
    throw err;
  }
  if (!cg) {
    release();
    return null;
  }
  const made = cg;
  const oom = oomProbe(made);
  ctx.explainFailure((err) => setupOomError(made, ctx.container, err));
  ctx.onFailure(() => {
    oom?.close();
    made.removeEmpty();
    release();
  });
  ctx.setCgroup(made);
  if (oom) ctx.onRelease(() => oom.close());
  ctx.onExit(async (exit) => {
    // A process killed by the host's OOM killer (not the cgroup's: no notification) died of SIGKILL.
    const readOomKills = oom === undefined || exit.signal === 'SIGKILL' || oom.mayHaveKilled();
    oom?.close();
    const { oomKilled } = await finishContainerCgroup(made, readOomKills);
    release();
    return { oomKilled };
  });
  return made;
}

/**
 * A start that failed because its set-up ran out of memory in the container's cgroup (the
 * kernel OOM-killed the set-up process, or refused it memory where it could not kill: a
 * clone in a vfork), as ERR_NS_CONFIG naming the limit: the limit is too small to start the
 * container, which the set-up's own error (ERR_NS_CHILD_DIED, ENOMEM) does not say.
 * @returns undefined when the cgroup saw no OOM (the error stands)
 */
function setupOomError(cg: Cgroup, c: Pick<Container, 'resources'>, err: unknown): NsError | undefined {
  const limit = c.resources?.memory?.limit;
  if (limit === undefined || limit === null || limit < 0) return undefined;
  let memory;
  try {
    memory = cg.stats().memory;
  } catch {
    return undefined;
  }
  if (!memory || (memory.oomKills === 0 && (memory.oomEvents ?? 0) === 0)) return undefined;
  const file = cg.dirs.v1.memory !== undefined ? 'memory.limit_in_bytes' : 'memory.max';
  const why = err instanceof Error ? err.message : String(err);
  return new NsError(ErrorCode.CONFIG, `linux.resources.memory.limit: ${limit} bytes (${file}) is too small to start the container: its set-up ran out of memory (${why})`, {
    path: 'linux.resources.memory.limit',
    cause: err,
  });
}

/**
 * On v1, an eventfd for the memory cgroup's OOM notifications (@ns/cgroups oomProbeV1): at the
 * exit, no notification and no SIGKILL means no OOM kill, and memory.oom_control is not read
 * (a cold open and read: 60-70 us of every limited start's end). Undefined on v2 (one file,
 * memory.events, is read) or where the registration fails (the count is read then).
 */
function oomProbe(cg: Cgroup): OomProbe | undefined {
  const dir = cg.dirs.v1.memory;
  if (dir === undefined) return undefined;
  try {
    return oomProbeV1(dir, () => native().eventfd(), (fd) => native().readAvailable(fd, 8));
  } catch {
    return undefined;
  }
}

// On cgroup v2 alone the cgroup is made before the clone, and the child is born in it (clone3
// CLONE_INTO_CGROUP, Linux >= 5.7): no write to cgroup.procs, whose migration waits for the
// kernel's cgroup_threadgroup_rwsem (an RCU grace period: tens of ms measured on Debian 12's
// 6.1). On v1 and hybrid hosts (the process joins its v1 cgroups itself: cgroupJoinSteps) the
// cgroup is made for the sync step right after the clone, while the child starts and unshares
// its namespaces (earlySync).
registerCloneHandler(CGROUP_SYNC, (ctx) => {
  if (hostCgroupLayout().mode !== 'unified') return;
  const made = makeCgroup(ctx);
  ctx.shared.set(CGROUP_SYNC, made);
  return cgroupFdOf(made);
});

/** A descriptor of the cgroup's cgroup2 directory to clone into, when that is all it has. */
function cgroupFdOf(cg: Cgroup | null): { cgroupFd: number } | undefined {
  const dir = cg?.dirs.unified;
  if (!cg || dir === undefined || Object.keys(cg.dirs.v1).length > 0) return undefined;
  try {
    return { cgroupFd: openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY) };
  } catch {
    return undefined; // the sync step moves the process there, naming the file if that fails too
  }
}

registerSyncHandler(CGROUP_SYNC, (ctx) => {
  const made = ctx.shared.has(CGROUP_SYNC) ? (ctx.shared.get(CGROUP_SYNC) as Cgroup | null) : makeCgroup(ctx);
  if (!made || ctx.intoCgroup) return;
  // The v1 directories the process joins itself (its plan's writeFile steps: cgroupJoinSteps).
  const joined = new Set<string>();
  for (const s of ctx.plan.steps) if (s.op === 'writeFile' && s.data === '0' && s.path.endsWith('/tasks')) joined.add(s.path.slice(0, -'/tasks'.length));
  try {
    made.addProcess(ctx.pid, { joined });
  } catch (err) {
    throw asNsError(err);
  }
});

/** Whether `cg` is frozen (`FROZEN` or `FREEZING`: paused); false without a cgroup or when its state cannot be read. */
export function cgroupFrozen(cg: Cgroup | null): boolean {
  try {
    const s = cg?.freezerState();
    return s === 'FROZEN' || s === 'FREEZING';
  } catch {
    return false;
  }
}

/**
 * After a SIGKILL sent into a paused container: thaw a cgroup v1 freezer, in which frozen
 * tasks act on no signal, not even SIGKILL, until thawed (on v2 a frozen task dies of it). As
 * runc and youki do; the container's other processes are thawed too (they die with its pid
 * namespace's init, or run on without one). Errors are left to the caller's wait: best effort.
 */
export function thawForKill(cg: Cgroup | null): void {
  if (!cg || hostCgroupLayout().controllers.freezer?.version !== 1 || !cgroupFrozen(cg)) return;
  try {
    cg.thaw();
  } catch {
    // gone meanwhile, or no freezer after all
  }
}

/**
 * The error of execIn() into a paused container: a process that joins a frozen cgroup is
 * frozen at once, and its set-up (and a caller waiting for it) would hang until a resume.
 */
export function pausedExecError(id: string): NsError {
  return new NsError(ErrorCode.STATE, `cannot exec in a paused container: ${id} (resume it first, or pass ignorePaused)`);
}

// execIn(): the new process joins the running container's cgroup (as runc exec); on cgroup v2
// alone it is born there (clone3 CLONE_INTO_CGROUP), as a container's first process is. Not a
// frozen one (unless asked): the process would freeze there, and could not even be killed (a
// frozen task acts on SIGKILL only once thawed) to fail the start; refused before the clone,
// and checked again right before it joins (execIn() checked first). With ignorePaused
// (CGROUP_JOIN_FROZEN_SYNC) it joins at the sync step, and waits there frozen until a resume.
registerCloneHandler(CGROUP_JOIN_SYNC, (ctx) => {
  if (hostCgroupLayout().mode !== 'unified') return;
  const cg = openContainerCgroup(ctx.container);
  if (cgroupFrozen(cg)) throw pausedExecError(ctx.container.id);
  ctx.shared.set(CGROUP_JOIN_SYNC, cg);
  return cgroupFdOf(cg);
});

function joinCgroup(ctx: SyncContext, frozenToo: boolean): void {
  const cg = ctx.shared.has(CGROUP_JOIN_SYNC) ? (ctx.shared.get(CGROUP_JOIN_SYNC) as Cgroup | null) : openContainerCgroup(ctx.container);
  if (!cg || ctx.intoCgroup) return; // rootless without limits: the container has none
  if (!frozenToo && cgroupFrozen(cg)) throw pausedExecError(ctx.container.id);
  try {
    cg.addProcess(ctx.pid);
  } catch (err) {
    throw asNsError(err);
  }
}
registerSyncHandler(CGROUP_JOIN_SYNC, (ctx) => joinCgroup(ctx, false));
registerSyncHandler(CGROUP_JOIN_FROZEN_SYNC, (ctx) => joinCgroup(ctx, true));
