import { RLIMIT } from './constants.js';
import type { Plan, Step } from './plan.js';

/** getrlimit(2)'s name of a resource number (`7` -> `RLIMIT_NOFILE`). */
const rlimitName = (resource: number): string => {
  const name = Object.entries(RLIMIT).find(([, n]) => n === resource)?.[0];
  return name === undefined ? `resource ${resource}` : `RLIMIT_${name}`;
};

const hex = (n: bigint): string => `0x${n.toString(16)}`;

/**
 * A short human description of one step, used in error messages (`mount proc on /proc`,
 * `execve /bin/sh`) and in `ns run --dry-run`.
 */
export function describeStep(step: Step): string {
  switch (step.op) {
    case 'mount': {
      if (step.flags & 32 /* MS_REMOUNT */) return `remount ${step.target}`;
      if (step.flags & 4096 /* MS_BIND */) return `bind mount ${step.source} on ${step.target}`;
      if (!step.source && !step.fstype) return `mount propagation of ${step.target}`;
      return `mount ${step.fstype ?? step.source} on ${step.target}`;
    }
    case 'umount2':
      return `umount2 ${step.target}`;
    case 'mkdir':
    case 'touch':
    case 'mknod':
    case 'chmod':
    case 'chdir':
      return `${step.op} ${step.path}`;
    case 'symlink':
      return `symlink ${step.path} -> ${step.target}`;
    case 'chown':
      return `chown ${step.path} ${step.uid}:${step.gid}`;
    case 'chroot':
      return `chroot ${step.path}`;
    case 'moveRoot':
      return `move ${step.path} onto / and chroot (no pivot_root)`;
    case 'detachMount':
      return `detach ${step.path} (or cover it with a tmpfs)`;
    case 'idmapOpen':
      return `id-map ${step.source}${step.recursive ? ' (recursive)' : ''} (open_tree, mount_setattr MOUNT_ATTR_IDMAP)`;
    case 'idmapMove':
      return `move the id-mapped mount onto ${step.target}`;
    case 'fchown':
      return `fchown fd ${step.fd} ${step.uid}:${step.gid}`;
    case 'pivotRoot':
      return `pivot_root ${step.newRoot}`;
    case 'pivotRootKeep':
      return `pivot_root ${step.newRoot} (old root at ${step.putOld})`;
    case 'sethostname':
      return `sethostname ${step.hostname}`;
    case 'setdomainname':
      return `setdomainname ${step.domainname}`;
    case 'linkUp':
      return `ip link set ${step.name} up`;
    case 'setns':
      return `setns ${step.path ?? `fd ${step.fd}`}`;
    case 'unshare':
      return `unshare ${hex(BigInt(step.flags))}`;
    case 'writeFile':
      return `write ${step.path}`;
    case 'prctl':
      return `prctl ${step.option}`;
    case 'capbsetDrop':
      return `drop bounding capabilities ${hex(step.mask)}`;
    case 'capset':
      return `capset effective=${hex(step.effective)} permitted=${hex(step.permitted)} inheritable=${hex(step.inheritable)}`;
    case 'ambientRaise':
      return `raise ambient capabilities ${hex(step.mask)}`;
    case 'setgroups':
      return `setgroups [${step.gids.join(',')}]`;
    case 'setresgid':
      return `setresgid ${step.rgid}`;
    case 'setresuid':
      return `setresuid ${step.ruid}`;
    case 'setrlimit':
      // runc: `error setting rlimit type 7: operation not permitted`; its type number kept.
      return `setrlimit ${rlimitName(step.resource)} (rlimit type ${step.resource}) ${step.soft}/${step.hard}`;
    case 'ioprioSet':
      return `ioprio_set class ${step.ioprio >> 13} level ${step.ioprio & 0x1fff}`;
    case 'schedSetattr':
      return `sched_setattr policy ${step.policy}${step.flags ? ` flags ${hex(BigInt(step.flags))}` : ''} nice ${step.nice} priority ${step.priority}${step.policy === 6 ? ` runtime ${step.runtime} deadline ${step.deadline} period ${step.period} ns` : ''}`;
    case 'personality':
      return `personality ${hex(BigInt(step.persona))}`;
    case 'joinSessionKeyring':
      return `keyctl join_session_keyring ${step.name}${step.perm ? ` setperm &${hex(BigInt(step.perm.mask))}|${hex(BigInt(step.perm.set))}` : ''}`;
    case 'umask':
      return `umask ${step.mask.toString(8).padStart(4, '0')}`;
    case 'setsid':
      return 'setsid';
    case 'ioctl':
      return `ioctl fd ${step.fd} ${hex(BigInt(step.request))}`;
    case 'stdio':
      return `stdio [${step.fds.join(',')}]`;
    case 'closeFrom':
      return `close descriptors from ${step.first}`;
    case 'execve':
      return `execve ${step.paths.length === 1 ? step.paths[0] : step.argv[0]}`;
    case 'sync':
      return `wait for parent (${step.name})`;
    case 'cloneParent':
      return 'clone(CLONE_PARENT) into the joined pid namespace';
    case 'procRoot':
      return `procfs at ${step.path}`;
    case 'waitFifo':
      return `wait for start on the exec FIFO (fd ${step.fd})`;
    case 'detach':
      return 'detach from the caller';
    case 'awaitRun':
      return `wait for a run on fd ${step.recordFd} (idle timeout ${step.idleTimeoutMs ? `${step.idleTimeoutMs} ms` : 'none'})`;
    case 'reexec':
      return 're-execute ns-init in the new user namespace';
    case 'execCheck':
      return `execve ${step.paths.length === 1 ? step.paths[0] : step.paths.join(' or ')}`;
    case 'hook':
      return `hook ${step.path}${step.root ? ` (root ${step.root})` : ''}`;
    case 'seccomp':
      return `seccomp filter: ${step.filter.length >> 1} instructions${step.flags ? ` (flags ${hex(BigInt(step.flags))})` : ''}`;
    case 'init':
      return `init: fork the program, forward signals, reap${step.tty !== undefined && step.tty >= 0 ? ` (terminal fd ${step.tty} to its group)` : ''}`;
    case 'openConsole':
      return `console: a pty of ${step.ptmx} (${step.cols}x${step.rows}, owner ${step.uid}:${step.gid}) on 0-2 and ${step.console}; the parent takes the master (${step.name})`;
    case 'seccompNotify':
      return `seccomp filter with a listener: ${step.filter.length >> 1} instructions${step.flags ? ` (flags ${hex(BigInt(step.flags))})` : ''}; the parent takes the listener (${step.name})`;
  }
}

/**
 * A plan as text, one numbered step a line, for `ns run --dry-run`; a seccomp step's rules
 * follow it, indented.
 */
export function formatPlan(plan: Plan): string {
  const lines = [`clone flags ${hex(BigInt(plan.cloneFlags))}`];
  plan.steps.forEach((step, k) => {
    lines.push(`${String(k).padStart(3)}  ${describeStep(step)}`);
    if (step.op === 'seccomp' || step.op === 'seccompNotify') for (const rule of step.rules ?? []) lines.push(`       ${rule}`);
  });
  return lines.join('\n');
}
