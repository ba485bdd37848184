// The step of a pre-created container (a pool member): its own file, plan.ts being long.
import type { StepCommon } from './plan.js';

/**
 * The last step of a pre-created container (a pool member): everything but the command is set
 * up. Wait (poll(2), at most `idleTimeoutMs`, 0 for no limit) for one run record on descriptor
 * `recordFd`, then chdir(2) and execve(2) as the `chdir` and `execve` steps do (the record, see
 * encodeRunRecord, holds the working directory, the execvp candidates, argv and envp, all
 * decided by the caller). Replies go to `replyFd` (ns_msg: a failure with its errno, or
 * `unused` from a member idle past its timeout or whose record descriptor reached end of file,
 * which then exits with status 0); both descriptors are made close-on-exec, so end of file on
 * the reply with no message means the program runs. Comes after a `detach` step keeping both descriptors.
 */
export interface AwaitRunStep extends StepCommon {
  op: 'awaitRun';
  recordFd: number;
  replyFd: number;
  idleTimeoutMs: number;
  /**
   * The record descriptor is an AF_UNIX SOCK_SEQPACKET socket, read with one recvmsg(2) whose
   * SCM_RIGHTS descriptors (at most three) go onto 0, 1, 2 as the record's `stdio` mask says
   * (a pool with per-run stdio). Otherwise a pipe, read with read(2), and no descriptors.
   */
  receiveStdio?: boolean;
}
