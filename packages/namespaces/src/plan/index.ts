/**
 * Planning: a validated container config turned into the plan of system calls the native
 * child runs, stage by stage: namespaces (namespaces.ts), session and stdio, the mount tree
 * (rootfs.ts, devices.ts), masked and read-only paths, hostname, and the process (process.ts).
 * Plans of configs started again are kept (cache.ts); what planning reads of the host is in
 * host.ts and hostreads.ts.
 */
import { MS, type Plan, type Step } from '@ns/syscalls';
import { hasCgroup, ownsNamespace, type Container, type NamespaceType } from '../config/container.js';
import { DEFAULT_MOUNTS } from '../config/defaults.js';
import type { IdMapping } from '../config/idmap.js';
import { parsePropagation } from '../config/mountopts.js';
import { validatedContainer, type ValidContainer } from '../config/valid.js';
import { consoleSteps, deviceSteps, ownDevTmpfs } from './devices.js';
import { HostReads } from './hostreads.js';
import { CGROUP_SYNC, joinSteps, namespacePlan } from './namespaces.js';
import { processSteps, stdioSteps } from './process.js';
import { RootfsPlanner, STAGE, maskSteps } from './rootfs.js';
import type { ResolvedUser } from './user.js';

export { STAGE } from './rootfs.js';
export { capabilitySetsOf, commandCandidates, processSteps, stdioSteps, type ProcessConfig } from './process.js';

/** Descriptors the parent hands to the child. */
export interface PlanIo {
  /** Parent descriptors that become the child's 0, 1, 2 (and more), in order. */
  stdio: number[];
  /** Terminal mode: the pty slave (descriptor and path) that becomes 0/1/2 and /dev/console. */
  console?: { fd: number; path: string };
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
  /** The environment the process gets: each key once, the last entry of a key winning (see dedupEnv); HOME added from passwd when missing. */
  env: string[];
  /** Index of the plan's first stdio step: the steps before it do not depend on `io`. */
  stdioAt: number;
}

/**
 * Turn a container config into the plan the native child runs, step for step as the
 * seed's Exec: stdio and session, network namespace join, private mount tree, root and
 * mounts staged under a tmpfs, pivot_root, masked and read-only paths, read-only root,
 * hostname, capabilities and user, working directory, execve. Only reads the host (the
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
 * planContainer's work on a validated container, asking the host through `reads`.
 * @internal planContainer() and planContainerCached()
 */
export function planValidated(container: ValidContainer, io: PlanIo, reads: HostReads): ContainerPlan {
  const uidMappings = container.uidMappings ?? [];
  const gidMappings = container.gidMappings ?? [];
  const own = (type: NamespaceType) => ownsNamespace(container, type);
  const userns = own('user');
  const namespaces = namespacePlan(container, { uidMappings, gidMappings });
  const steps: Step[] = [];
  if (hasCgroup(container)) steps.push({ op: 'sync', name: CGROUP_SYNC });
  steps.push(...namespaces.head);

  const stdioAt = steps.length;
  steps.push(...stdioSteps(io));
  steps.push({ op: 'umask', mask: 0 });
  if (namespaces.unshareFlags) steps.push({ op: 'unshare', flags: namespaces.unshareFlags });
  steps.push(...joinSteps(container));

  if (container.oomScoreAdj !== undefined) {
    // Before capabilities are dropped: lowering it needs CAP_SYS_RESOURCE.
    steps.push({ op: 'writeFile', path: '/proc/self/oom_score_adj', data: String(container.oomScoreAdj) });
  }

  // A private mount tree, then the staging tmpfs holding the new root and the old one.
  const propagation = parsePropagation(container.rootfsPropagation ?? 'rprivate', 'rootfsPropagation');
  steps.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE, data: null });
  steps.push({ op: 'mount', source: 'tmpfs', target: STAGE.base, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=0700' });
  steps.push({ op: 'mkdir', path: `${STAGE.base}${STAGE.newRoot}`, mode: 0o755, existOk: false });
  steps.push({ op: 'mkdir', path: `${STAGE.base}${STAGE.oldRoot}`, mode: 0o755, existOk: false });
  steps.push({ op: 'pivotRootKeep', newRoot: STAGE.base, putOld: `${STAGE.base}${STAGE.oldRoot}` });
  steps.push({ op: 'chdir', path: '/' });

  // The new root, built under /newroot: every step there follows no symlink (rootfs.ts).
  // A cgroup of its own (and no user namespace) puts a devices cgroup in force (cgroup.ts).
  const devicesCgroup = hasCgroup(container) && !userns;
  const planner = new RootfsPlanner(container.rootfs, reads, { userns, ownNet: own('network'), ownCgroup: own('cgroup'), gidMappings, devicesCgroup });
  const rootFlags = planner.root(container.rootfs);
  if (container.rootfs === null) planner.hostSandbox();
  const mounts = container.mounts ?? DEFAULT_MOUNTS;
  mounts.forEach((m, i) => planner.mount(m, i));
  // Devices and the console only on a /dev of our own: never into a host directory bound there.
  const devTmpfs = ownDevTmpfs(mounts);
  if (devTmpfs) deviceSteps(planner, devicesCgroup);
  if (io.console && devTmpfs) consoleSteps(planner, io.console.path);
  // The working directory is created when missing, as runc does.
  planner.ensureDir(planner.resolve(container.cwd));
  if (propagation !== (MS.REC | MS.PRIVATE)) planner.mountAt(STAGE.newRoot, null, null, propagation, null);
  steps.push({ op: 'procRoot', path: `${STAGE.oldRoot}/proc` });
  steps.push(...planner.steps);
  steps.push({ op: 'pivotRoot', newRoot: STAGE.newRoot });
  steps.push({ op: 'procRoot', path: '/proc' });

  // Inside the new root: sysctls (before /proc/sys turns read-only), masked paths,
  // read-only paths, then the root itself.
  for (const [key, value] of Object.entries(container.sysctl ?? {})) {
    steps.push({ op: 'writeFile', path: `/proc/sys/${key.replaceAll('.', '/')}`, data: value });
  }
  steps.push(...maskSteps(container, planner));
  if (container.readonly) {
    steps.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | rootFlags, data: null, preserveFlags: true });
  }

  if (container.hostname) steps.push({ op: 'sethostname', hostname: container.hostname });
  const proc = processSteps(container, io, userns ? { uidMappings, gidMappings } : undefined, reads);
  steps.push(...proc.steps);

  const plan: Plan = { cloneFlags: namespaces.cloneFlags, steps };
  if (io.parentDeathSignal !== undefined) plan.parentDeathSignal = io.parentDeathSignal;
  const out: ContainerPlan = { container, plan, user: proc.user, env: proc.env, stdioAt };
  if (userns) out.idMaps = { uidMappings, gidMappings };
  return out;
}
