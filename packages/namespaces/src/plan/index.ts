/**
 * Planning: a validated container config turned into the plan of system calls the native
 * child runs, stage by stage: namespaces (namespaces.ts), session and stdio, the mount tree
 * (rootfs.ts, devices.ts), masked and read-only paths, hostname, and the process (process.ts).
 * Plans of configs started again are kept (cache.ts); what planning reads of the host is in
 * host.ts and hostreads.ts.
 */
import { CLONE, type Plan, type Step } from '@ns/syscalls';
import { hasCgroup, joinedNamespace, ownsNamespace, type Container, type NamespaceType } from '../config/container.js';
import { mapToHost, type IdMapping } from '../config/idmap.js';
import { validatedContainer, type ValidContainer } from '../config/valid.js';
import { checkCreateContainerPaths, startContainerSteps } from './hooks.js';
import { HostReads } from './hostreads.js';
import { networkSyncSteps } from '../net/network.js';
import { ownMountTreeSteps, sharedMountTreeSteps } from './mounttree.js';
import { setConsoleOwner, type PlanConsole } from './console.js';
import { cgroupFsView, cgroupJoinSteps } from './cgroupfs.js';
import { CGROUP_SYNC, namespacePlan, type NamespacePlan } from './namespaces.js';
import { containerKeyringSteps } from './keyring.js';
import { processSteps, stdioOwnerSteps, stdioSteps, type StdioOwner } from './process.js';
import type { ResolvedUser } from './user.js';

export { STAGE } from './rootfs.js';
export { capabilitySetsOf, commandCandidates, processSteps, stdioOwners, stdioOwnerSteps, stdioSteps, type ProcessConfig, type StdioOwner } from './process.js';

/** Descriptors the parent hands to the child. */
export interface PlanIo {
  /** Parent descriptors that become the child's 0, 1, 2 (and more), in order. */
  stdio: number[];
  /**
   * For stdio[0..2]: the host uid owning it when it is a pipe, null otherwise
   * (stdioOwners() reads them). Those not owned by the process's user are handed to it with
   * fchown(2) (stdioOwnerSteps(), runc's fixStdioPermissions). Absent: none is.
   */
  stdioOwners?: (number | null)[];
  /**
   * Terminal mode: the pty slave of the parent's (descriptor and path) that becomes 0/1/2 and
   * /dev/console, or `{ own, cols, rows }`: a console the container makes of its own devpts
   * (plan/console.ts), when it has one (the plan then has an openConsole step; without one,
   * nothing of a console is planned and the caller plans again with a pty of its own).
   */
  console?: PlanConsole;
  /** PR_SET_PDEATHSIG signal; default SIGKILL, 0 for a detached container. */
  parentDeathSignal?: number;
  /**
   * Create only: an O_PATH descriptor of the container's exec.fifo. The process detaches from
   * spawn() when set up and waits on the FIFO before execve until `start` reads it.
   */
  startFifoFd?: number;
}

/** The uid and gid maps of a new user namespace. */
export interface IdMaps {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

export interface ContainerPlan {
  /**
   * The validated container (rootfs resolved; with a user namespace added in rootless mode),
   * deeply frozen: see validatedContainer().
   */
  container: ValidContainer;
  plan: Plan;
  /** With a new user namespace: the maps the parent writes at the `idmap` sync step. */
  idMaps?: IdMaps;
  user: ResolvedUser;
  /** The environment the process gets: each key once, the last entry of a key winning (see dedupEnv); HOME added from passwd when missing or empty. */
  env: string[];
  /** Index of the plan's first stdio step: the steps before it do not depend on `io`. */
  stdioAt: number;
  /**
   * Index of the first step after the stdio ones (session, `stdio`, the fchown(2) of
   * {@link stdioOwnerSteps}): the steps from here on do not depend on `io` either.
   */
  stdioEnd: number;
  /** Whom the stdio pipes are handed to (see stdioOwnerSteps()). */
  stdioOwner: StdioOwner;
}

/**
 * Turn a container config into the plan the native child runs, step for step as the
 * seed's Exec: namespaces joined by path (user first, a fork into a joined pid namespace),
 * stdio and session, private mount tree, root and mounts staged under a tmpfs, pivot_root,
 * masked and read-only paths, read-only root (or, without a mount namespace of its own, a
 * chroot into the rootfs), hostname, capabilities and user, working directory, execve. Only reads the host (the
 * rootfs, /etc/passwd and /etc/group of the container, /proc/self); creates nothing.
 *
 * @param input a config, validated here (validatedContainer()), or a ValidContainer as it is.
 * @param io the descriptors the child gets; defaults to the caller's 0, 1, 2 (for dry runs).
 * @throws NsError `ERR_NS_CONFIG` / `ERR_NS_NOT_FOUND` for a bad config, an unknown user or
 *   group, an unknown capability, a missing bind source.
 * @see OCI runtime-spec config.md and runtime.md; pivot_root(2); mount_namespaces(7)
 */
export function planContainer(input: Container | ValidContainer, io: PlanIo = { stdio: [0, 1, 2] }): ContainerPlan {
  return planValidated(validatedContainer(input), io, new HostReads());
}

/**
 * Whether setgroups(2) is allowed in the user namespace a config joins by path: for a
 * /proc/PID/ns/user, what /proc/PID/setgroups says (`unshare -r` and rootless runtimes write
 * "deny"); else it is taken to be allowed. Undefined without a joined user namespace.
 */
function joinedUserSetgroups(container: ValidContainer, reads: HostReads): boolean | undefined {
  const path = joinedNamespace(container, 'user');
  if (path === undefined) return undefined;
  const pid = /^\/proc\/(\d+)\/ns\/user$/.exec(path)?.[1];
  return pid === undefined || reads.text(`/proc/${pid}/setgroups`).trim() !== 'deny';
}

/**
 * The `cgroup` sync step and the join steps after it, and whether they come first in the plan.
 * First, before anything else the child does, on a host with cgroup v2 alone (the child is born
 * in its cgroup: clone3 CLONE_INTO_CGROUP), with a user namespace or a namespace joined (the
 * process joins while it is the host's root, before any fork). Otherwise (v1 controllers, the
 * process joins itself: cgroupJoinSteps) right after the unshare of its new namespaces, as
 * crun's child joins after the clone that made them: the parent makes the cgroup meanwhile
 * (spawn()'s earlySync), and the child, which would wait for it at a first step, unshares
 * instead (0.5 ms of a start here). The mounts, the container's program and everything it
 * starts are in the cgroup; the namespaces' own kernel memory is charged to the runtime's.
 */
function cgroupSteps(container: ValidContainer, namespaces: NamespacePlan): { steps: Step[]; first: boolean } {
  const join = cgroupJoinSteps(container);
  return { steps: [{ op: 'sync', name: CGROUP_SYNC }, ...join], first: join.length === 0 || namespaces.head.length > 0 };
}

function setgroupsOption(setgroups: boolean | undefined): { setgroups?: boolean } {
  return setgroups === undefined ? {} : { setgroups };
}

/**
 * planContainer's work on a validated container, asking the host through `reads`.
 * @internal planContainer() and planContainerCached()
 */
export function planValidated(container: ValidContainer, io: PlanIo, reads: HostReads): ContainerPlan {
  const uidMappings = container.uidMappings ?? [];
  const gidMappings = container.gidMappings ?? [];
  const own = (type: NamespaceType) => ownsNamespace(container, type);
  const userns = own('user');
  checkCreateContainerPaths(container);
  const namespaces = namespacePlan(container, { uidMappings, gidMappings });
  const steps: Step[] = [];
  const cgroup = hasCgroup(container) ? cgroupSteps(container, namespaces) : null;
  if (cgroup?.first) steps.push(...cgroup.steps);
  steps.push(...namespaces.head);

  let stdioAt = steps.length;
  const session = stdioSteps(io);
  steps.push(...session);
  steps.push({ op: 'umask', mask: 0 });
  if (cgroup && !cgroup.first) {
    // The namespaces are made outside the cgroup (crun's order), the cgroup namespace after the
    // join: its root is the cgroup its maker is in.
    const outside = namespaces.unshareFlags & ~CLONE.NEWCGROUP;
    if (outside) steps.push({ op: 'unshare', flags: outside });
    steps.push(...cgroup.steps);
    if (namespaces.unshareFlags & CLONE.NEWCGROUP) steps.push({ op: 'unshare', flags: CLONE.NEWCGROUP });
  } else if (namespaces.unshareFlags) steps.push({ op: 'unshare', flags: namespaces.unshareFlags });
  // A session keyring of its own, in its user namespace and before it changes user (runc).
  steps.push(...containerKeyringSteps(container, userns || joinedNamespace(container, 'user') !== undefined));
  // The new network namespace exists now: the parent puts it on its bridge (net/network.ts).
  steps.push(...networkSyncSteps(container));

  if (container.oomScoreAdj !== undefined) {
    // Before capabilities are dropped: lowering it needs CAP_SYS_RESOURCE.
    // Named in its error: lowering it without CAP_SYS_RESOURCE is EACCES (containerd's
    // restrict_oom_score_adj exists for that; docs/kubernetes.md).
    steps.push({ op: 'writeFile', path: '/proc/self/oom_score_adj', data: String(container.oomScoreAdj), field: container.bundle !== undefined ? 'process.oomScoreAdj' : 'oomScoreAdj' });
  }

  let idmapOpens: Step[] = [];
  if (own('mount')) {
    // In a user namespace (made or joined) mknod(2) is refused and sysfs, cgroupfs and devpts
    // mount with conditions. A cgroup of its own (and no user namespace) puts a devices cgroup
    // in force (container/cgroup.ts).
    const inUserns = userns || joinedNamespace(container, 'user') !== undefined;
    const devicesCgroup = hasCgroup(container) && !inUserns;
    const cgroupFs = (container.mounts ?? []).some((m) => (m.type ?? m.source) === 'cgroup') ? cgroupFsView(container) : null;
    const tree = ownMountTreeSteps(container, io, reads, { userns: inUserns, ownNet: own('network'), ownCgroup: own('cgroup'), gidMappings, devicesCgroup, cgroupFs });
    // Id-mapped mounts are opened and mapped first, while the child is in the host's user and
    // mount namespaces with their privileges (mount_setattr MOUNT_ATTR_IDMAP needs
    // CAP_SYS_ADMIN over the source's file system), and moved into place with the others.
    idmapOpens = tree.filter((s) => s.op === 'idmapOpen');
    steps.push(...tree.filter((s) => s.op !== 'idmapOpen'));
  } else {
    steps.push(...sharedMountTreeSteps(container));
  }

  if (container.hostname) steps.push({ op: 'sethostname', hostname: container.hostname });
  if (container.domainname) steps.push({ op: 'setdomainname', domainname: container.domainname });
  // A new network namespace starts with `lo` down: up, as runc does (before capabilities go).
  if (own('network')) steps.push({ op: 'linkUp', name: 'lo' });
  const proc = processSteps(container, io, userns ? { uidMappings, gidMappings } : undefined, reads, setgroupsOption(joinedUserSetgroups(container, reads)));
  setConsoleOwner(steps, proc.user.uid, proc.user.gid);
  // startContainer hooks right before the program: after the exec FIFO, before the descriptors
  // are closed and the execve (and a seccomp filter that noNewPrivileges puts last), as runc.
  const hooks = startContainerSteps(container, proc.env);
  if (hooks.length > 0) proc.steps.splice(proc.steps.findIndex((s) => s.op === 'closeFrom'), 0, ...hooks);
  steps.push(...proc.steps);
  // The stdio pipes go to the process's user right after the stdio step, while the set-up
  // process may still chown them (as runc's fixStdioPermissions, in the user namespace).
  const joinedUser = joinedNamespace(container, 'user') !== undefined;
  const owner: StdioOwner = {
    uid: proc.user.uid,
    hostUid: userns ? mapToHost(proc.user.uid, uidMappings) : joinedUser ? null : proc.user.uid,
  };
  const chowns = stdioOwnerSteps(io, owner);
  steps.splice(stdioAt + session.length, 0, ...chowns);

  if (idmapOpens.length > 0) {
    steps.splice(steps.indexOf(namespaces.head[0] ?? steps[stdioAt]!), 0, ...idmapOpens);
    stdioAt += idmapOpens.length;
  }
  const plan: Plan = { cloneFlags: namespaces.cloneFlags, steps };
  if (io.parentDeathSignal !== undefined) plan.parentDeathSignal = io.parentDeathSignal;
  const stdioEnd = stdioAt + session.length + chowns.length;
  const out: ContainerPlan = { container, plan, user: proc.user, env: proc.env, stdioAt, stdioEnd, stdioOwner: owner };
  if (userns) out.idMaps = { uidMappings, gidMappings };
  return out;
}
