/**
 * The namespace part of a plan: which namespaces clone(2) makes, which the child unshares or
 * joins, and the user namespace's set-up (the `idmap` sync step, where the parent writes the
 * id maps; see process/sync.ts).
 */
import { CLONE, PR, type Step } from '@ns/syscalls';
import { joinedNamespace, ownsNamespace, type Container, type NamespaceType } from '../config/container.js';
import { mapToHost, type IdMapping } from '../config/idmap.js';
import { timeOffsetsText } from '../config/time-offsets.js';

/** CLONE_NEW* flag of each namespace type (clone(2), namespaces(7)). */
export const NAMESPACE_FLAGS: Readonly<Record<NamespaceType, number>> = {
  mount: CLONE.NEWNS,
  pid: CLONE.NEWPID,
  uts: CLONE.NEWUTS,
  ipc: CLONE.NEWIPC,
  network: CLONE.NEWNET,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** The name of the sync step at which the parent writes uid_map and gid_map. */
export const IDMAP_SYNC = 'idmap';

/**
 * The name of the sync step at which the parent makes the container's cgroup and puts the
 * waiting process in it: the plan's first step, or (a process joining its v1 cgroups itself)
 * right after the unshare of its namespaces (plan/index.ts cgroupSteps); before the mounts and
 * CLONE_NEWCGROUP, so that the container's set-up and everything it runs are accounted and
 * limited there.
 */
export const CGROUP_SYNC = 'cgroup';

/**
 * The name of the sync step at which a process started in a running container joins its
 * cgroup; the parent refuses a frozen (paused) one there, where the process would hang.
 */
export const CGROUP_JOIN_SYNC = 'cgroup-join';

/** As {@link CGROUP_JOIN_SYNC}, joining a frozen cgroup too (execIn's `ignorePaused`, runc exec --ignore-paused). */
export const CGROUP_JOIN_FROZEN_SYNC = 'cgroup-join-frozen';

/** prctl(PR_SET_DUMPABLE, on): whether the process's /proc files are its own user's. */
function dumpable(on: 0 | 1): Step {
  return { op: 'prctl', option: PR.SET_DUMPABLE, arg2: on, arg3: 0, arg4: 0, arg5: 0 };
}

/** The namespaces of a plan, before and after the stdio steps. */
export interface NamespacePlan {
  /** clone(2) flags. */
  cloneFlags: number;
  /** Steps before the stdio steps: the user namespace's set-up. */
  head: Step[];
  /** unshare(2) flags for the steps after stdio (0: none). */
  unshareFlags: number;
}

/**
 * The order namespaces are joined in: the user namespace first (the others are then joined
 * with its capabilities), the mount namespace last (after it, paths are that namespace's), as
 * runc's nsexec and execIn() join them. A pid (or time) namespace joined takes effect for
 * children: the plan forks after it (`cloneParent`).
 */
export const JOIN_ORDER: readonly NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

/**
 * clone(2) creates only the pid namespace (unshare would only move children into it); the
 * child makes the others with unshare(2) on its own time: creating a network namespace is
 * most of clone's cost, and clone runs in Node's thread. The child is ns-init (see spawn()).
 *
 * Namespaces joined by path come first, in {@link JOIN_ORDER}, before a new user namespace is
 * made (with the caller's privileges, as runc's nsexec joins them): their descriptors are
 * opened by the parent (exec(): config/nsfiles.ts). A joined pid namespace holds only the
 * children of who joins it: the plan forks into it (`cloneParent`) right after the joins and
 * before the stdio steps and the mounts, so that the session, the console and /proc are those
 * of the process that runs the container.
 *
 * With a new user namespace, ns-init makes it itself after the joins, waits at the `idmap` sync
 * step for the parent to write its maps, becomes root in it, re-executes itself, and (with a
 * new pid namespace) unshares the rest and forks into the pid namespace. With a joined user
 * namespace a new pid namespace is made the same way, after the join, so that it belongs to
 * that user namespace and not to the caller's. A new time namespace too (with or without a user
 * namespace): unshared with the others, its offsets written to /proc/self/timens_offsets, then
 * the fork that enters it (and the new pid namespace).
 * @see user_namespaces(7), pid_namespaces(7), time_namespaces(7), setns(2), runc's nsexec
 */
export function namespacePlan(
  container: Pick<Container, 'namespaces' | 'timeOffsets'>,
  maps: { uidMappings: readonly IdMapping[]; gidMappings: readonly IdMapping[] },
): NamespacePlan {
  const head: Step[] = joinSteps(container);
  let cloneFlags = 0;
  let unshareFlags = 0;
  for (const ns of container.namespaces) {
    if (ns.path !== undefined || ns.type === 'user') continue;
    if (ns.type === 'pid') cloneFlags |= NAMESPACE_FLAGS[ns.type];
    else unshareFlags |= NAMESPACE_FLAGS[ns.type];
  }
  const pidJoined = joinedNamespace(container, 'pid') !== undefined;
  if (ownsNamespace(container, 'user')) {
    // ns-init makes the user namespace itself: had the clone made it, ns-init would have been
    // exec'd in it before its maps existed, as an unmapped user, and lost every capability.
    // The parent writes uid_map and gid_map while the child waits; then the child becomes
    // root of its user namespace (it holds every capability there, but its ids are the
    // overflow ids until it sets them). ns-init is non-dumpable from its start, which makes
    // its /proc files root's: dumpable only meanwhile, so that an unprivileged parent (or
    // newuidmap, which checks the owner) may write the maps, in a user namespace nobody else
    // can have entered yet. Every other namespace is then owned by it; a pid namespace is
    // entered by forking (runc's nsexec does all of this the same way).
    head.push({ op: 'unshare', flags: CLONE.NEWUSER });
    head.push(dumpable(1));
    head.push({ op: 'sync', name: IDMAP_SYNC });
    head.push(dumpable(0));
    if (mapToHost(0, maps.gidMappings) !== null) head.push({ op: 'setresgid', rgid: 0, egid: 0, sgid: 0 });
    if (mapToHost(0, maps.uidMappings) !== null) head.push({ op: 'setresuid', ruid: 0, euid: 0, suid: 0 });
    // ns-init's memory then belongs to the new user namespace: its owner (an unprivileged
    // creator joining a created container) may open its /proc files, the container may not.
    head.push({ op: 'reexec' });
  }
  const userns = ownsNamespace(container, 'user') || joinedNamespace(container, 'user') !== undefined;
  // A new time namespace holds only the children of who makes it, and takes its offsets only
  // before a process enters it: unshare, write the offsets, fork (runc's nsexec does the same).
  const ownTime = ownsNamespace(container, 'time');
  if ((userns && cloneFlags & CLONE.NEWPID) || ownTime) {
    head.push({ op: 'unshare', flags: (cloneFlags & CLONE.NEWPID) | unshareFlags });
    const offsets = timeOffsetsText(container.timeOffsets);
    if (ownTime && offsets !== null) head.push({ op: 'writeFile', path: '/proc/self/timens_offsets', data: offsets });
    // Before the stdio steps: the session (and a console) belongs to the process that execs.
    head.push({ op: 'cloneParent' });
    cloneFlags = 0;
    unshareFlags = 0;
  } else if (pidJoined) {
    head.push({ op: 'cloneParent' });
  }
  return { cloneFlags, head, unshareFlags };
}

/**
 * setns(2) into each namespace the config joins by path, in {@link JOIN_ORDER}, by path (the
 * parent gives each step the descriptor it opened and checked before spawning: nsfiles.ts).
 */
export function joinSteps(container: Pick<Container, 'namespaces'>): Step[] {
  const steps: Step[] = [];
  for (const type of JOIN_ORDER) {
    const path = joinedNamespace(container, type);
    if (path !== undefined) steps.push({ op: 'setns', path, nstype: NAMESPACE_FLAGS[type] });
  }
  return steps;
}
