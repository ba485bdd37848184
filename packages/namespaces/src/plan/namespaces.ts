/**
 * The namespace part of a plan: which namespaces clone(2) makes, which the child unshares or
 * joins, and the user namespace's set-up (the `idmap` sync step, where the parent writes the
 * id maps; see process/sync.ts).
 */
import { CLONE, PR, type Step } from '@ns/syscalls';
import { ownsNamespace, type Container, type NamespaceType } from '../config/container.js';
import { mapToHost, type IdMapping } from '../config/idmap.js';

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
 * waiting process in it: the plan's first step, so that everything the container does,
 * set-up included, is accounted and limited there (and CLONE_NEWCGROUP comes after it).
 */
export const CGROUP_SYNC = 'cgroup';

/** The name of the sync step at which a process started in a running container joins its cgroup. */
export const CGROUP_JOIN_SYNC = 'cgroup-join';

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
 * clone(2) creates only the pid namespace (unshare would only move children into it); the
 * child makes the others with unshare(2) on its own time: creating a network namespace is
 * most of clone's cost, and clone runs in Node's thread. The child is ns-init (see spawn()).
 *
 * With a new user namespace, ns-init makes it itself first, waits at the `idmap` sync step
 * for the parent to write its maps, becomes root in it, re-executes itself, and (with a new
 * pid namespace) unshares the rest and forks into the pid namespace.
 * @see user_namespaces(7), pid_namespaces(7), runc's nsexec
 */
export function namespacePlan(
  container: Pick<Container, 'namespaces'>,
  maps: { uidMappings: readonly IdMapping[]; gidMappings: readonly IdMapping[] },
): NamespacePlan {
  const head: Step[] = [];
  let cloneFlags = 0;
  let unshareFlags = 0;
  for (const ns of container.namespaces) {
    if (ns.path !== undefined || ns.type === 'user') continue;
    if (ns.type === 'pid') cloneFlags |= NAMESPACE_FLAGS[ns.type];
    else unshareFlags |= NAMESPACE_FLAGS[ns.type];
  }
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
    if (cloneFlags & CLONE.NEWPID) {
      head.push({ op: 'unshare', flags: CLONE.NEWPID | unshareFlags });
      // Before the stdio steps: the session (and a console) belongs to the process that execs.
      head.push({ op: 'cloneParent' });
      cloneFlags = 0;
      unshareFlags = 0;
    }
  }
  return { cloneFlags, head, unshareFlags };
}

/** setns(2) into each namespace the config joins by path, after the stdio steps. */
export function joinSteps(container: Pick<Container, 'namespaces'>): Step[] {
  return container.namespaces.filter((ns) => ns.path !== undefined).map((ns) => ({ op: 'setns', path: ns.path!, nstype: NAMESPACE_FLAGS[ns.type] }));
}
