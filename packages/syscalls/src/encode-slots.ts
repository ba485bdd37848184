/**
 * Where each step's arguments go in the wire format (encode.ts): one case per op, as
 * native/init reads its slots.
 */
import type { Step } from './plan.js';

type Int = number | bigint;

/**
 * Where one step's arguments go, as native/child.cc reads them: integer slot `j` (i64),
 * string slot `j` (offset into the string table), vector slot `j` (offset into the vectors).
 */
export interface SlotWriter {
  i(j: number, n: Int): void;
  s(j: number, value: string | null): void;
  v(j: number, value: string[] | number[]): void;
}

/** The argument slots of one step, as native/child.cc reads them. */
export function writeSlots(step: Step, w: SlotWriter): void {
  switch (step.op) {
    case 'mount':
      w.i(0, step.flags);
      w.s(0, step.source);
      w.s(1, step.target);
      w.s(2, step.fstype);
      w.s(3, step.data);
      return;
    case 'umount2':
      w.i(0, step.flags);
      w.s(0, step.target);
      return;
    case 'mkdir':
      w.i(0, step.mode);
      w.i(1, step.existOk ? 1 : 0);
      w.s(0, step.path);
      return;
    case 'touch':
    case 'chmod':
      w.i(0, step.mode);
      w.s(0, step.path);
      return;
    case 'mknod':
      w.i(0, step.mode);
      w.i(1, step.major);
      w.i(2, step.minor);
      w.s(0, step.path);
      return;
    case 'symlink':
      w.i(0, step.existOk ? 1 : 0);
      w.s(0, step.target);
      w.s(1, step.path);
      return;
    case 'pivotRoot':
      w.s(0, step.newRoot);
      return;
    case 'pivotRootKeep':
      w.s(0, step.newRoot);
      w.s(1, step.putOld);
      return;
    case 'chown':
      w.i(0, step.uid);
      w.i(1, step.gid);
      w.s(0, step.path);
      return;
    case 'fchown':
      w.i(0, step.fd);
      w.i(1, step.uid);
      w.i(2, step.gid);
      return;
    case 'chdir':
    case 'chroot':
    case 'moveRoot':
    case 'detachMount':
    case 'procRoot':
      w.s(0, step.path);
      return;
    case 'idmapOpen':
      w.i(0, step.fd);
      w.i(1, (step.recursive ? 1 : 0) | (step.recursiveIdmap ? 2 : 0));
      w.s(0, step.source);
      return;
    case 'idmapMove':
      w.i(0, step.fd);
      w.s(0, step.target);
      return;
    case 'waitFifo':
      w.i(0, step.fd);
      return;
    case 'sethostname':
      w.s(0, step.hostname);
      return;
    case 'setdomainname':
      w.s(0, step.domainname);
      return;
    case 'linkUp':
      w.s(0, step.name);
      return;
    case 'setns':
      w.i(0, step.nstype);
      w.i(1, step.fd ?? -1);
      w.s(0, step.path ?? null);
      return;
    case 'unshare':
      w.i(0, step.flags);
      return;
    case 'writeFile':
      w.s(0, step.path);
      w.s(1, step.data);
      return;
    case 'prctl':
      w.i(0, step.option);
      w.i(1, step.arg2);
      w.i(2, step.arg3);
      w.i(3, step.arg4);
      w.i(4, step.arg5);
      return;
    case 'capbsetDrop':
    case 'ambientRaise':
      w.i(0, step.mask);
      return;
    case 'capset':
      w.i(0, step.effective);
      w.i(1, step.permitted);
      w.i(2, step.inheritable);
      return;
    case 'setgroups':
      w.v(0, step.gids);
      return;
    case 'setresgid':
      w.i(0, step.rgid);
      w.i(1, step.egid);
      w.i(2, step.sgid);
      return;
    case 'setresuid':
      w.i(0, step.ruid);
      w.i(1, step.euid);
      w.i(2, step.suid);
      return;
    case 'setrlimit':
      w.i(0, step.resource);
      w.i(1, step.soft);
      w.i(2, step.hard);
      return;
    case 'ioprioSet':
      w.i(0, step.which);
      w.i(1, step.who);
      w.i(2, step.ioprio);
      return;
    case 'schedSetattr':
      // Seven values in six slots: policy and priority (both u32) share the first.
      w.i(0, (BigInt(step.priority >>> 0) << 32n) | BigInt(step.policy >>> 0));
      w.i(1, step.flags);
      w.i(2, step.nice);
      w.i(3, step.runtime);
      w.i(4, step.deadline);
      w.i(5, step.period);
      return;
    case 'personality':
      w.i(0, step.persona);
      return;
    case 'joinSessionKeyring':
      w.s(0, step.name);
      w.i(0, step.perm ? 1 : 0);
      w.i(1, step.perm?.mask ?? 0);
      w.i(2, step.perm?.set ?? 0);
      return;
    case 'umask':
      w.i(0, step.mask);
      return;
    case 'ioctl':
      w.i(0, step.fd);
      w.i(1, step.request);
      w.i(2, step.arg);
      return;
    case 'stdio':
      w.v(0, step.fds);
      return;
    case 'closeFrom':
      w.i(0, step.first);
      return;
    case 'execve':
      w.v(0, step.paths);
      w.v(1, step.argv);
      w.v(2, step.envp);
      return;
    case 'sync':
      w.s(0, step.name);
      return;
    case 'execCheck':
      w.v(0, step.paths);
      return;
    case 'seccomp':
      w.i(0, step.flags);
      w.v(0, step.filter);
      return;
    case 'seccompNotify':
      w.i(0, step.flags);
      w.v(0, step.filter);
      w.s(0, step.name);
      return;
    case 'openConsole':
      w.i(0, step.cols);
      w.i(1, step.rows);
      w.i(2, step.uid);
      w.i(3, step.gid);
      w.s(0, step.ptmx);
      w.s(1, step.console);
      w.s(2, step.name);
      return;
    case 'detach':
      w.i(0, step.keepFds ?? 0);
      return;
    case 'init':
      w.i(0, step.tty ?? -1);
      return;
    case 'hook':
      w.i(0, step.timeout);
      w.i(1, step.output);
      w.s(0, step.path);
      w.s(1, step.cwd);
      w.s(2, step.root);
      w.v(0, step.argv);
      w.v(1, step.envp);
      w.v(2, step.state);
      return;
    case 'awaitRun':
      w.i(0, step.recordFd);
      w.i(1, step.replyFd);
      w.i(2, step.idleTimeoutMs);
      w.i(3, step.receiveStdio ? 1 : 0);
      return;
    case 'setsid':
    case 'cloneParent':
    case 'reexec':
      return;
  }
}

