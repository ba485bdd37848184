/**
 * The plan's control steps: those that change how the plan itself runs (meeting the parent,
 * forking, detaching, waiting for start, re-executing ns-init) and the seccomp filter, which
 * ends what the set-up may do. Part of plan.ts (re-exported there).
 */
import type { StepCommon } from './plan.js';

/**
 * Stop and wait for the parent: the child reports this step over the pipe and blocks until
 * the parent has run the `onSync` callback given to spawn() (writing uid_map, joining a
 * cgroup ...) and lets it go on.
 */
export interface SyncStep extends StepCommon {
  op: 'sync';
  /** What the parent should do here; passed to `onSync`. */
  name: string;
}

/**
 * fork again with CLONE_PARENT (clone(2) without CLONE_VM: ns-init's memory is small): the
 * new process runs the rest of the plan and this one exits. Joining a pid namespace with setns(2) only
 * affects children; this makes the process that execs really inside it, as a child of the
 * caller of spawn(), which then watches and reaps it (spawn() returns its pid).
 */
export interface CloneParentStep extends StepCommon {
  op: 'cloneParent';
}

/** Where procfs is mounted at this point of the plan, for `nofollow` mounts (`/oldroot/proc`). */
export interface ProcRootStep extends StepCommon {
  op: 'procRoot';
  path: string;
}

/**
 * Open the FIFO behind descriptor `fd` (an O_PATH descriptor of the parent's, reopened
 * through `<procRoot>/self/fd/<fd>`) for writing, which blocks until a reader opens it, then
 * write one byte: the container's process waits here for `ns start` (runc's exec.fifo).
 */
export interface WaitFifoStep extends StepCommon {
  op: 'waitFifo';
  fd: number;
}

/**
 * spawn() returns now, with the child still running the rest of its plan on its own (a
 * created container waiting for start). Later failures end the child without a report.
 * Must come after the `stdio` step.
 */
export interface DetachStep extends StepCommon {
  op: 'detach';
  /**
   * Descriptors 3 .. 3+keepFds-1 stay open (the caller's extra stdio, runc `--preserve-fds`);
   * every other one above 2 is closed but the exec fifo of a later `waitFifo`. Default 0.
   */
  keepFds?: number;
}

/**
 * access(2) with X_OK of each of `paths` in turn, as execve would try them: fails (ENOENT,
 * EACCES ...) when none is executable. Lets a created container report a missing program at
 * create time, before it detaches (as runc create does).
 */
export interface ExecCheckStep extends StepCommon {
  op: 'execCheck';
  paths: string[];
  /** The path its error names, when `paths` are where the program is staged now. Not sent to the child. */
  displayPath?: string;
}

/**
 * execveat(2) ns-init again (from its sealed memfd) and go on at the next step, so that its
 * memory belongs to the user namespace it is in now: an exec records the user namespace it
 * happens in, and ns-init, never dumpable, is then reachable through /proc only by who holds
 * CAP_SYS_PTRACE there (the namespace's owner, not a container's process by default). Comes
 * after `unshare(CLONE_NEWUSER)` and `setresuid`, before `stdio` and `procRoot` steps (what
 * they set is not carried across).
 */
export interface ReexecStep extends StepCommon {
  op: 'reexec';
}

/**
 * seccomp(2) SECCOMP_SET_MODE_FILTER with `flags` (SECCOMP_FILTER_FLAG_*) and the classic-BPF
 * program `filter`: `struct sock_filter[]` as u32 words, two an instruction (`code | jt << 16 |
 * jf << 24`, then `k`), at most 4096 instructions. Compiled in TypeScript (@ns/seccomp); the
 * child only installs it. Needs no_new_privs set before, or CAP_SYS_ADMIN; every system call
 * after it (the execve first) is filtered. `rules` is the readable account `ns run --dry-run`
 * prints under the step.
 */
export interface SeccompStep extends StepCommon {
  op: 'seccomp';
  flags: number;
  filter: number[];
  rules?: string[];
}

/**
 * seccomp(2) as {@link SeccompStep}, with SECCOMP_FILTER_FLAG_NEW_LISTENER: for a profile with
 * SCMP_ACT_NOTIFY rules. The child then stops as at a `sync` step: `onSync` gets this step and,
 * as `value`, the number of the listener descriptor in the waiting process (take it with
 * pidfd_getfd(2): see `pidfdGetfd`); the child closes its own copy once let go. The calls the
 * child makes after the filter (write, read, close, then its remaining steps) are filtered.
 * @see seccomp_unotify(2)
 */
export interface SeccompNotifyStep extends StepCommon {
  op: 'seccompNotify';
  flags: number;
  filter: number[];
  rules?: string[];
  /** The sync name the parent's handler is looked up by (as {@link SyncStep.name}). */
  name: string;
}

/**
 * The container's console, as runc makes it in its init: open `ptmx` (the ptmx of the
 * container's own devpts instance, a staged path; refused with EXDEV when not on devpts),
 * unlock it and set its size, open the slave from it (TIOCGPTPEER), give the slave to
 * `uid`:`gid` (-1: left as made) with mode 0620, bind it onto `console` (/dev/console, a staged
 * path opened without following symlinks), make it 0, 1, 2 and the controlling terminal
 * (TIOCSCTTY: a `setsid` step came first), then stop as at a `sync` step: `onSync` gets this
 * step and, as `value`, the master's descriptor number in the waiting process (take it with
 * pidfd_getfd(2)); the child closes its own copy once let go. Needs a `procRoot` step before.
 * @see pty(7), ioctl_tty(2), runc's libcontainer/console_linux.go
 */
export interface OpenConsoleStep extends StepCommon {
  op: 'openConsole';
  ptmx: string;
  console: string;
  cols: number;
  rows: number;
  uid: number;
  gid: number;
  /** The sync name the parent's handler is looked up by (as {@link SyncStep.name}). */
  name: string;
}

/**
 * Stay behind as the container's init and let a forked process go on with the plan (the
 * steps after this one, normally just `execve`): tini's and catatonit's job, in ns-init (no
 * binary to ship). The init blocks every signal it can and takes them with
 * rt_sigtimedwait(2): each one but SIGCHLD is sent on to the program (kill(2) of its pid), and
 * SIGCHLD reaps every child (orphans too: they are reparented to pid 1, or to the init as a
 * child subreaper, PR_SET_CHILD_SUBREAPER, without a pid namespace of its own). Once the
 * program is reaped the init records its wait status where the parent reads it (the exit
 * then reports the program's own code or signal, not the init's) and exits with the code a
 * shell would report (128 + N for signal N). The program, no longer pid 1, gets the default
 * action of every signal (SIGPIPE, SIGTERM, SIGXFSZ end it as on the host).
 *
 * The program's process gets a process group of its own (setpgid(0, 0)) and dies with the
 * init (PR_SET_PDEATHSIG SIGKILL); with `tty` (a descriptor of its terminal, normally 0) its
 * group becomes the terminal's foreground group (TIOCSPGRP, as tini's isolate_child). The
 * init closes every descriptor it has (stdio, the pipes to the parent, the stdio sources). It runs with the credentials, rlimits and
 * seccomp filter of the steps before it: place it after them, right before `execve`.
 * @see pid_namespaces(7) "The namespace init process", signal(7), wait4(2), prctl(2)
 */
export interface InitStep extends StepCommon {
  op: 'init';
  /** The descriptor of the controlling terminal, for its foreground process group; absent or -1: none. */
  tty?: number;
}

/**
 * Run an OCI hook inside the container's namespaces (runtime-spec config.md "POSIX-platform
 * Hooks": `createContainer`, `startContainer`): fork (its own process group, SIGKILL when the
 * set-up process dies), in the child chdir(2) to `cwd`, chroot(2) to `root`, stdin a pipe,
 * stdout and stderr copies of descriptor `output`, no other descriptor, execve(2) of `path`
 * with `argv` and `envp`. The parent writes `state` to the pipe (`state[0]`, then the pid the
 * parent of spawn() saw at the last `sync` step in decimal, then `state[1]`: the JSON is split
 * where its `pid` goes; a single part is written as it is) and waits for the hook, SIGKILLing
 * its process group after `timeout` ms (0: no limit). Fails with the exec's errno, ETIMEDOUT,
 * or ECANCELED with the exit status as the failure's `value` (0x100 | signal when killed).
 */
export interface HookStep extends StepCommon {
  op: 'hook';
  path: string;
  argv: string[];
  envp: string[];
  /** The state JSON, in one or two parts (the pid goes between two). */
  state: string[];
  /** Milliseconds the hook may run; 0 for no limit. */
  timeout: number;
  /** chdir(2) here in the hook's process first (null: stay). */
  cwd: string | null;
  /** Then chroot(2) here (null: stay). */
  root: string | null;
  /** The descriptor the hook's stdout and stderr are copies of; -1 leaves them as they are. */
  output: number;
}
