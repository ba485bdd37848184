/**
 * The process part of a plan, shared by exec() and execIn(): session and stdio, then what
 * turns the set-up child into the container's process (umask, rlimits, capabilities, user and
 * groups, no_new_privs, working directory, descriptors) and the execve(2).
 */
import { fstatSync } from 'node:fs';
import { posix } from 'node:path';
import { PR, RLIMIT, TIOCSCTTY, configError, type Step } from '@ns/syscalls';
import { capabilitySetSteps, keptCapabilitySets, resolveCapabilitySets, resolveKeptCapabilities } from '@ns/capabilities';
import { CAPABILITY_SETS, type Container } from '../config/container.js';
import { DEFAULT_PATH } from '../config/defaults.js';
import { dedupEnv } from '../config/env.js';
import { formatIdMap, mapToHost, setgroupsAllowed, type IdMapping } from '../config/idmap.js';
import { RLIMIT_BY_NAME, rlimitValue } from '../config/validate.js';
import { IOPRIO_WHO_PROCESS, PERSONA, SCHED_POLICY, ioprioValue, schedFlags } from '../config/process-attrs.js';
import { callerInheritable, callerNofileHard } from './host.js';
import type { HostReads } from './hostreads.js';
import type { PlanIo } from './index.js';
import { readUserFiles, resolveUser, type ResolvedUser } from './user.js';
import { insertSeccomp, seccompNotifies } from './seccomp.js';
import { isOwnConsole } from './console.js';

/**
 * A new session (the process never shares the caller's controlling terminal), then either
 * the pty slave as 0, 1, 2 and its controlling terminal (TIOCSCTTY), or the given descriptors.
 * @see setsid(2), ioctl_tty(2)
 */
export function stdioSteps(io: PlanIo): Step[] {
  if (io.console && !isOwnConsole(io.console)) {
    const fd = io.console.fd;
    // Past 2: the caller's own descriptors (runc --preserve-fds), as without a terminal.
    return [{ op: 'setsid' }, { op: 'stdio', fds: [fd, fd, fd, ...io.stdio.slice(3)] }, { op: 'ioctl', fd: 0, request: TIOCSCTTY, arg: 0 }];
  }
  return [{ op: 'setsid' }, { op: 'stdio', fds: io.stdio }];
}

/** Who the process's stdio is handed to, for {@link stdioOwnerSteps}. */
export interface StdioOwner {
  /** The process's uid where ns-init makes the fchown(2) (inside its user namespace, if any). */
  uid: number;
  /** The same uid on the host (mapped through the uid map), or null when unknown. */
  hostUid: number | null;
}

/**
 * For each of `fds` (the parent's descriptors that become the process's 0, 1, 2), the host
 * uid that owns it when it is a pipe (or a FIFO), else null: what {@link stdioOwnerSteps}
 * decides on (PlanIo.stdioOwners). One fstat(2) each; a bad descriptor is null (the `stdio`
 * step reports it).
 *
 * Only pipes, what a client such as containerd's shim or conmon hands over, and what a
 * process may reopen through /proc/self/fd once it owns it: never a character device (the
 * host's /dev/null keeps its owner, and so does a terminal the caller passed without `-t`),
 * a regular file (a host file given as stdout keeps its owner) or a socket (which no one can
 * reopen: open(2) of /proc/self/fd/N fails with ENXIO). There ns is stricter than runc's
 * fixStdioPermissions, which skips only /dev/null (comparing st_rdev).
 */
export function stdioOwners(fds: readonly number[]): (number | null)[] {
  return fds.slice(0, 3).map((fd) => {
    if (fd < 0) return null;
    try {
      const st = fstatSync(fd);
      return st.isFIFO() ? st.uid : null;
    } catch {
      return null;
    }
  });
}

/**
 * The fchown(2) steps that hand the process's stdio pipes to its user, as runc's
 * fixStdioPermissions: a process running as a non-root user may then reopen them
 * (`echo hi >/proc/self/fd/1`, `/dev/stdout`), which the kernel checks against the pipe's
 * owner. Only the uid changes (gid -1), as runc. Made after the `stdio` step, while the
 * process still has the privilege to; with a terminal nothing (the pty is the user's already).
 *
 * Pure: decided on `io.stdioOwners` (see {@link stdioOwners}, which launching fills in): a
 * descriptor with no owner there (not a pipe, or not known) is left alone, and so is one its
 * user owns already.
 */
export function stdioOwnerSteps(io: PlanIo, owner: StdioOwner): Step[] {
  if (io.console || io.stdioOwners === undefined) return [];
  const steps: Step[] = [];
  io.stdioOwners.slice(0, Math.min(3, io.stdio.length)).forEach((uid, fd) => {
    if (uid === null || uid === undefined || (owner.hostUid !== null && uid === owner.hostUid)) return;
    steps.push({ op: 'fchown', fd, uid: owner.uid, gid: -1 });
  });
  return steps;
}

/** What {@link processSteps} needs: the process part of a container config. */
export type ProcessConfig = Pick<
  Container,
  | 'args'
  | 'env'
  | 'cwd'
  | 'user'
  | 'additionalGids'
  | 'capabilities'
  | 'capabilitySets'
  | 'dropCapabilities'
  | 'rlimits'
  | 'scheduler'
  | 'ioPriority'
  | 'personality'
  | 'noNewPrivileges'
  | 'umask'
  | 'rootfs'
  | 'seccomp'
  | 'init'
> &
  Partial<Pick<Container, 'bundle'>>;

/**
 * The steps that turn the set-up child into the container's process, shared by exec() and
 * execIn(): umask, rlimits, scheduler, I/O priority, personality, bounding set, user and groups (keeping the permitted set across
 * the uid change), capset, no_new_privs, working directory, descriptors, the seccomp filter,
 * with `init` the init step (the program forked from it), execve.
 *
 * @param reads the planning pass's host reads (planContainer's); without, the user files are read directly
 * @param options `setgroups`: whether setgroups(2) is allowed where the process runs (default:
 *   yes, but in a new user namespace whose gid map an unprivileged caller wrote itself)
 * @throws NsError `ERR_NS_NOT_FOUND` for an unknown user or group, `ERR_NS_CONFIG` for an
 *   unknown capability.
 * @see capabilities(7) "Effect of user ID changes on capabilities", prctl(2), execve(2)
 */
export function processSteps(
  c: ProcessConfig,
  io: PlanIo,
  idMaps?: { uidMappings: readonly IdMapping[]; gidMappings: readonly IdMapping[] },
  reads?: HostReads,
  options: { setgroups?: boolean } = {},
): { steps: Step[]; user: ResolvedUser; env: string[] } {
  const steps: Step[] = [];
  steps.push({ op: 'umask', mask: c.umask ?? 0o022 });
  const rlimits = c.rlimits ?? [];
  if (!rlimits.some((r) => r.type === 'RLIMIT_NOFILE')) {
    // Node raised its own soft limit at start-up; the container gets the usual 1024.
    const nofileHard = callerNofileHard();
    steps.push({ op: 'setrlimit', resource: RLIMIT.NOFILE, soft: Math.min(1024, nofileHard), hard: nofileHard });
  }
  // A failure names the entry (`process.rlimits[0]` for a config from a bundle).
  const field = c.bundle !== undefined ? 'process.rlimits' : 'rlimits';
  rlimits.forEach((r, i) => {
    const soft = Number(BigInt.asIntN(64, rlimitValue(r.soft)));
    const hard = Number(BigInt.asIntN(64, rlimitValue(r.hard)));
    steps.push({ op: 'setrlimit', resource: RLIMIT_BY_NAME[r.type]!, soft, hard, field: `${field}[${i}]` });
  });

  steps.push(...processAttributeSteps(c));

  // Capabilities and user: bounding set first (needs CAP_SETPCAP), keep the permitted set
  // across the uid change, then set effective/permitted/inheritable.
  const user = resolveUser(c.user, reads ? reads.userFiles(c.rootfs) : readUserFiles(c.rootfs), {
    additionalGids: c.additionalGids ?? [],
  });
  if (idMaps) checkUserMapped(user, idMaps);
  const sets = capabilitySetsOf(c);
  const caps = capabilitySetSteps(sets);
  const beforeCaps = steps.length; // where a seccomp filter goes without no_new_privs
  steps.push(...caps.before);
  // With setgroups denied in the user namespace (an unprivileged caller's own mapping, or a
  // joined namespace that says "deny") the call would fail with EPERM; the process keeps the
  // (unmapped) groups it has.
  if (options.setgroups ?? (!idMaps || setgroupsAllowed(idMaps.gidMappings))) steps.push({ op: 'setgroups', gids: user.additionalGids });
  steps.push({ op: 'setresgid', rgid: user.gid, egid: user.gid, sgid: user.gid });
  steps.push({ op: 'setresuid', ruid: user.uid, euid: user.uid, suid: user.uid });
  steps.push(...caps.after);

  if (c.noNewPrivileges) steps.push({ op: 'prctl', option: PR.SET_NO_NEW_PRIVS, arg2: 1, arg3: 0, arg4: 0, arg5: 0 });
  steps.push({ op: 'chdir', path: c.cwd });
  // Each key once, the last entry of a key winning (as runc's prepareEnv).
  const env = dedupEnv(c.env);
  // No HOME, or an empty one: the user's home from passwd (runc's `os.Getenv("HOME") == ""`).
  const home = env.findIndex((e) => e.startsWith('HOME='));
  if (home < 0) env.push(`HOME=${user.home || '/'}`);
  else if (env[home] === 'HOME=') env[home] = `HOME=${user.home || '/'}`;
  const paths = commandCandidates(c.args[0]!, env);
  if (io.startFifoFd !== undefined) {
    // Reported now, while spawn() still listens: after detach a missing program would only
    // end the process silently at start (runc create checks it the same way).
    steps.push({ op: 'execCheck', paths });
    // The caller's descriptors past 2 (runc --preserve-fds) stay open; every other one goes.
    const extra = Math.max(0, io.stdio.length - 3);
    steps.push(extra > 0 ? { op: 'detach', keepFds: extra } : { op: 'detach' });
    steps.push({ op: 'waitFifo', fd: io.startFifoFd });
  }
  steps.push({ op: 'closeFrom', first: Math.max(3, io.stdio.length) });

  steps.push({ op: 'execve', paths, argv: c.args, envp: env });
  if (c.seccomp !== undefined) {
    // With a listener, a created container's filter goes in before it detaches: the parent
    // must still be there to take the listener (runc installs it before the exec.fifo wait).
    const check = steps.findIndex((s) => s.op === 'execCheck');
    const late = seccompNotifies(c.seccomp) && check >= 0 ? check : steps.length - 1;
    insertSeccomp(steps, c.seccomp, sets.bounding, c.noNewPrivileges ? late : beforeCaps);
  }
  // The init forks right before the execve: it keeps every restriction above (user,
  // capabilities, rlimits, no_new_privs, the seccomp filter), as the program does.
  if (c.init) steps.splice(steps.length - 1, 0, io.console ? { op: 'init', tty: 0 } : { op: 'init' });

  return { steps, user, env };
}

/**
 * sched_setattr(2), ioprio_set(2) and personality(2) of the process, in runc's order
 * (setupScheduler, setupIOPriority, setupPersonality), while it still has its capabilities
 * (a real-time policy needs CAP_SYS_NICE, IOPRIO_CLASS_RT CAP_SYS_ADMIN or CAP_SYS_NICE). The
 * kernel hands all three on across fork(2) and execve(2), so the init of `init` and the program
 * both have them; a SCHED_DEADLINE process may not fork (EAGAIN) unless
 * SCHED_FLAG_RESET_ON_FORK is set. Values are checked by validateContainer().
 */
export function processAttributeSteps(c: Pick<Container, 'scheduler' | 'ioPriority' | 'personality'>): Step[] {
  const steps: Step[] = [];
  const s = c.scheduler;
  if (s) {
    steps.push({
      op: 'schedSetattr',
      policy: SCHED_POLICY[s.policy]!,
      flags: schedFlags(s.flags),
      nice: s.nice ?? 0,
      priority: s.priority ?? 0,
      runtime: s.runtime ?? 0,
      deadline: s.deadline ?? 0,
      period: s.period ?? 0,
    });
  }
  if (c.ioPriority) steps.push({ op: 'ioprioSet', which: IOPRIO_WHO_PROCESS, who: 0, ioprio: ioprioValue(c.ioPriority) });
  if (c.personality) steps.push({ op: 'personality', persona: PERSONA[c.personality.domain]! });
  return steps;
}

/**
 * In a user namespace, the process's ids must be mapped.
 * @throws NsError `ERR_NS_CONFIG` naming the unmapped uid or gid.
 */
function checkUserMapped(user: ResolvedUser, idMaps: { uidMappings: readonly IdMapping[]; gidMappings: readonly IdMapping[] }): void {
  if (mapToHost(user.uid, idMaps.uidMappings) === null) {
    throw configError(`user: uid ${user.uid} is not mapped in uidMappings (${formatIdMap(idMaps.uidMappings).trim().replaceAll('\n', '; ')})`, 'user');
  }
  for (const gid of [user.gid, ...user.additionalGids]) {
    if (mapToHost(gid, idMaps.gidMappings) === null) {
      throw configError(`user: gid ${gid} is not mapped in gidMappings (${formatIdMap(idMaps.gidMappings).trim().replaceAll('\n', '; ')})`, 'user');
    }
  }
}

/**
 * The five capability sets of the process: `capabilitySets` when given (OCI
 * `process.capabilities`), else the seed's form: `capabilities` (default allow-list) kept in
 * bounding, effective and permitted, with the caller's inheritable set reduced to them.
 * `dropCapabilities` is then removed from every set.
 * @throws CapabilityError `ERR_NS_CONFIG` naming the set and the capability.
 */
export function capabilitySetsOf(c: Pick<Container, 'capabilities' | 'capabilitySets' | 'dropCapabilities'>) {
  const sets = c.capabilitySets
    ? resolveCapabilitySets(c.capabilitySets, { field: 'capabilitySets' })
    : keptCapabilitySets(resolveKeptCapabilities(c.capabilities ? { keep: c.capabilities } : {}), callerInheritable());
  if (c.dropCapabilities?.length) {
    const drop = resolveKeptCapabilities({ keep: c.dropCapabilities });
    for (const k of CAPABILITY_SETS) sets[k] &= ~drop;
  }
  return sets;
}

/**
 * The paths execve is tried with, as execvp(3): `cmd` itself when it has a slash, else each
 * directory of the container's PATH (or {@link DEFAULT_PATH}) in order.
 */
export function commandCandidates(cmd: string, env: readonly string[]): string[] {
  if (cmd.includes('/')) return [cmd];
  const pathVar = env.findLast((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  const dirs = pathVar.split(':').map((d) => d || '.');
  return [...new Set(dirs.map((d) => posix.join(d, cmd)))];
}
