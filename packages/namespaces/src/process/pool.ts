/**
 * A warm pool of pre-created containers: each member is set up off the event loop
 * (execAsync's way) up to the point just before its command (plan/pool.ts: namespaces,
 * mounts, pivot_root, user, capabilities, no_new_privs, seccomp, its stdio pipes), and waits in
 * ns-init's awaitRun step. pool.exec() only writes the per-run record (args, env, cwd, and with
 * `stdio: 'per-run'` the run's descriptors, sent with it) to one member and waits for its execve. A member is used once; after its run it is gone with its
 * namespaces, mounts and cgroup, and the pool makes a fresh one in the background.
 */
import { randomBytes } from 'node:crypto';
import type { LinuxResources } from '@ns/cgroups';
import { ErrorCode, NsError, native, RUN_REPLY, stepError, type RunRecord } from '@ns/syscalls';
import { hasCgroup, type Container } from '../config/container.js';
import type { ValidContainer } from '../config/valid.js';
import { planContainerCached } from '../plan/cache.js';
import { sessionKeyringName } from '../plan/keyring.js';
import { poolMemberPlan, runRecordOf, type PoolRun, type RunStdioEntry } from '../plan/pool.js';
import { improveExecError, launchAsync, planned, type StdioEntry } from './exec.js';
import { afterRun, attachRunStreams, checkRunDescriptors, readReplies, sendRecord, setStreamsRef, writeRecord, type RunStream } from './pool-io.js';
import { checkOptions } from './pool-options.js';
import { holdMountNamespace, releaseNamespace } from './pool-hold.js';
import { closeAll, type ContainerProcess } from './process.js';

export type { PoolRun, RunStdio } from '../plan/pool.js';

export interface PoolOptions {
  /** How many members to keep ready: an integer >= 1. */
  size: number;
  /**
   * Replace each member used (default true): once its run has ended (so that the new set-up does
   * not compete with the run's start and end), or at once when no member is ready. false: only
   * the first `size`, then one per exec() that finds none ready.
   */
  refill?: boolean;
  /**
   * Milliseconds a member waits for a run before it exits by itself (default 0: no limit). A
   * member gone idle is not replaced at once: an unused pool shrinks to nothing, and the next
   * exec() makes members again.
   */
  idleTimeoutMs?: number;
  /**
   * The stdio of every member, made when it is prepared (`'pipe'` default: streams on the
   * process exec() returns; `'ignore'`, `'inherit'`, or three entries as ExecOptions.stdio).
   * `'per-run'`: each exec() gives its own (PoolRun.stdio, default `'pipe'`), sent to the
   * member with the run's record over a SOCK_SEQPACKET socket (SCM_RIGHTS); the member then
   * reads its record with recvmsg(2), which a seccomp profile of the config must allow.
   */
  stdio?: 'pipe' | 'ignore' | 'inherit' | 'per-run' | [StdioEntry, StdioEntry, StdioEntry];
  /**
   * The config of member `n` (1, 2, ...): default `config` itself, with the id `<id>-<n>` when it
   * has a cgroup (`resources`), so that each member gets its own (`/ns/<id>-<n>`). A config
   * with a `cgroupsPath` needs this: members may not share a cgroup.
   */
  memberConfig?: (n: number) => Container | ValidContainer;
  /**
   * Called once a member that never ran a program is gone: its idle timeout, close(), a failed
   * start, or a run whose chdir or execve failed. Awaited by close().
   */
  onDiscard?: (id: string) => void | Promise<void>;
}

/** Per-run options of {@link Pool.exec}. */
export interface PoolExecOptions {
  /**
   * OCI `linux.resources` written to the member's cgroup before the hand-over (runc update's
   * way, about 20 µs a file): a run's own memory or pids limit. The config needs a cgroup.
   */
  resources?: LinuxResources;
}

/** A pool made by {@link createPool}. */
export interface Pool {
  /**
   * Start `run.args` in a ready member: resolves once its execve has succeeded, with the same
   * process handle exec() returns (wait(), kill(), stdio streams of the pool's `stdio`).
   * @throws NsError `ERR_NS_STATE` on a closed pool; `ERR_NS_CONFIG` naming the field of a bad
   *   run (`args`, `env[1]`, `cwd`, a record past 64 KiB) before any member is taken; the errno
   *   of a failed chdir or execve as exec() reports it (`exec "nope": executable file not
   *   found in $PATH`, `chdir /nope: ENOENT`), the member then gone; a member's failed start.
   */
  exec(run: PoolRun, options?: PoolExecOptions): Promise<ContainerProcess>;
  /** Kill the idle members and those being made, and resolve once they and their cgroups are gone. Runs already handed out are the caller's. */
  close(): Promise<void>;
  /** Members ready now. */
  readonly idle: number;
  /** Their pids (in the caller's pid namespace). */
  readonly pids: number[];
  readonly closed: boolean;
}

interface Member {
  proc: ContainerProcess;
  /** Our end of the record pipe (the record socket with per-run stdio); -1 once written (closed). */
  recordFd: number;
  /**
   * Our end of the reply pipe, -1 once handed to readReplies() or closed. Read only at the
   * hand-over (what an idle member says waits in the pipe), through a libuv poll watcher.
   */
  replyFd: number;
  env: readonly string[];
  cwd: string;
  onIdleExit: () => void;
  /** Its mount namespace held open (pool-hold.ts), -1 once released or when it could not be. */
  mntFd: number;
}

let poolSeq = 0;

/**
 * Create a pool of `options.size` pre-created containers of `config` (see the module comment),
 * resolving once the first member is ready: a config that cannot start fails here, with the
 * error exec() would give, and nothing is left behind. The rest are made in the background.
 * Idle members do not keep the event loop alive; each has PR_SET_PDEATHSIG (SIGKILL), so none
 * outlives this process, and exits by itself past `idleTimeoutMs`.
 *
 * Isolation: every member has the namespaces, mounts and cgroup its config gives it, fresh
 * (a run never meets another's processes, /tmp or IPC); use a config with new pid, mount, ipc,
 * network and uts namespaces and a tmpfs for what a run writes (the default config does both).
 *
 * @throws NsError `ERR_NS_CONFIG` for bad options (`size` not an integer >= 1, ...), a terminal
 *   config, a config exec() refuses; the error of the first member's failed start.
 * @see native/init/pool.cc (the awaitRun step), exec()
 */
export async function createPool(config: Container | ValidContainer, options: PoolOptions): Promise<Pool> {
  const { size, refill, idleTimeoutMs } = checkOptions(options);
  if (config?.terminal) throw new NsError(ErrorCode.CONFIG, 'terminal: a pool member cannot have a terminal (its stdio is made in advance)', { path: 'terminal' });
  const stdio = options.stdio ?? 'pipe';
  const perRun = stdio === 'per-run';
  if (typeof stdio === 'string' && !['pipe', 'ignore', 'inherit', 'per-run'].includes(stdio)) {
    throw new NsError(ErrorCode.CONFIG, `stdio: expected 'pipe', 'ignore', 'inherit', 'per-run' or three entries, got ${JSON.stringify(stdio)}`, { path: 'stdio' });
  }
  const entries: StdioEntry[] = perRun ? ['ignore', 'ignore', 'ignore'] : typeof stdio === 'string' ? [stdio, stdio, stdio] : [...stdio];
  if (entries.length !== 3) throw new NsError(ErrorCode.CONFIG, 'stdio: expected three entries (0, 1, 2)', { path: 'stdio' });
  const seq = ++poolSeq;
  const configOf =
    options.memberConfig ??
    ((n: number) => {
      if (config?.cgroupsPath !== undefined) {
        throw new NsError(ErrorCode.CONFIG, 'cgroupsPath: members of a pool cannot share a cgroup: give memberConfig, or leave cgroupsPath out (each member gets /ns/<id>-<n>)', { path: 'cgroupsPath' });
      }
      return config && hasCgroup(config) ? { ...config, id: `${config.id}-p${process.pid}x${seq}-${n}` } : config;
    });

  const idle: Member[] = [];
  const waiters: { resolve: (m: Member) => void; reject: (e: unknown) => void }[] = [];
  const preparing = new Set<Promise<void>>();
  let count = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let stalled: unknown; // the error of a background start; no refilling until exec() asks
  const discards = new Set<Promise<void>>();
  const releases = new Set<Promise<void>>();

  /** Let a member's mount tree go (its process has exited): torn down on the thread pool. */
  const release = (m: Member) => {
    if (m.mntFd < 0) return;
    const p = releaseNamespace(m.mntFd);
    m.mntFd = -1;
    releases.add(p);
    void p.finally(() => releases.delete(p));
  };

  const discard = (m: Member) => {
    const at = idle.indexOf(m);
    if (at >= 0) idle.splice(at, 1);
    closeAll([m.recordFd].filter((fd) => fd >= 0));
    m.recordFd = -1;
    closeAll([m.replyFd].filter((fd) => fd >= 0));
    m.replyFd = -1;
    release(m);
    if (options.onDiscard) {
      const p = Promise.resolve()
        .then(() => options.onDiscard!(m.proc.id))
        .catch(() => undefined);
      discards.add(p);
      void p.finally(() => discards.delete(p));
    }
  };

  /** Make one member; it goes to a waiting exec(), else to the idle list. */
  const prepare = async (): Promise<Member> => {
    const n = ++count;
    const memberConfig = configOf(n);
    const addon = native();
    const [recR, recW] = perRun ? addon.seqpacketPair() : addon.pipe();
    const [repR, repW] = addon.pipe();
    try {
      let defaults: { env: readonly string[]; cwd: string } | undefined;
      const proc = await launchAsync(false, { stdio: [...entries, recR, repW] }, (io) => {
        const cp = planContainerCached(memberConfig, io);
        defaults = { env: cp.env, cwd: cp.container.cwd };
        const p = planned(cp);
        // A session keyring of the member's own (not found by name by the next member).
        const keyring = `${sessionKeyringName(memberConfig.id)}.${process.pid}.${n}.${randomBytes(4).toString('hex')}`;
        return { ...p, plan: poolMemberPlan(p.plan, idleTimeoutMs, keyring, perRun) };
      });
      const m: Member = { proc, recordFd: recW, replyFd: repR, env: defaults!.env, cwd: defaults!.cwd, onIdleExit: () => discard(m), mntFd: holdMountNamespace(proc.pid) };
      proc.unref();
      setStreamsRef(proc, false);
      proc.once('exit', m.onIdleExit);
      return m;
    } catch (err) {
      closeAll([recW, repR]); // ours: no member holds them
      if (options.onDiscard) await Promise.resolve(options.onDiscard(typeof memberConfig?.id === 'string' ? memberConfig.id : '')).catch(() => undefined);
      throw err;
    } finally {
      closeAll([recR, repW]); // the member holds its own copies
    }
  };

  const place = async (m: Member) => {
    if (closed) return killIdle(m); // awaited by close() (it awaits the preparations)
    const w = waiters.shift();
    if (w) w.resolve(m);
    else idle.push(m);
  };

  const startOne = () => {
    const p: Promise<void> = prepare().then(place, (err) => {
      stalled = err;
      const w = waiters.shift();
      if (w) w.reject(err);
    });
    preparing.add(p);
    void p.finally(() => preparing.delete(p));
  };

  const fill = () => {
    if (closed) return;
    const target = (refill && stalled === undefined ? size : 0) + waiters.length;
    while (idle.length + preparing.size < target) startOne();
  };

  const killIdle = async (m: Member) => {
    m.proc.ref(); // an idle member does not keep the event loop alive; its end must be seen
    m.proc.kill('SIGKILL');
    await m.proc.exited();
  };

  /** Take a ready member, or wait for the next one made. */
  const take = (): Promise<Member> => {
    const m = idle.shift();
    if (m) return Promise.resolve(m);
    return new Promise<Member>((resolve, reject) => {
      waiters.push({ resolve, reject });
      fill();
    });
  };

  /** Hand `bytes` over to `m`: its process once exec'd, or 'gone' when it died before taking it. */
  const handOver = async (
    m: Member,
    bytes: Buffer,
    record: RunRecord,
    resources: LinuxResources | undefined,
    runStdio: RunStdioEntry[] | undefined,
  ): Promise<ContainerProcess | 'gone'> => {
    m.proc.off('exit', m.onIdleExit);
    m.proc.ref();
    if (resources !== undefined) {
      try {
        m.proc.update(resources);
      } catch (err) {
        await killIdle(m);
        discard(m);
        throw err;
      }
    }
    const recordFd = m.recordFd;
    m.recordFd = -1;
    let sent: RunStream[] | false;
    try {
      sent = runStdio ? sendRecord(recordFd, bytes, runStdio) : writeRecord(recordFd, bytes) && [];
    } catch (err) {
      // Its record socket is closed: the member goes away unused.
      await killIdle(m);
      discard(m);
      throw err;
    }
    if (!sent) {
      await m.proc.exited();
      discard(m);
      return 'gone';
    }
    attachRunStreams(m.proc, sent);
    // End of file with no reply: the program runs (no acknowledgement: one wake-up less).
    const replyFd = m.replyFd;
    m.replyFd = -1;
    const [failure] = await readReplies(replyFd);
    if (failure && failure[1] === RUN_REPLY.unused) {
      // It went away before it took the run (its idle timeout): the next one.
      await m.proc.exited();
      discard(m);
      return 'gone';
    }
    if (failure) {
      for (const s of sent) s.stream.destroy();
      await m.proc.wait();
      discard(m); // it never ran a program: onDiscard
      const [step, errno, phase] = failure;
      if (phase === RUN_REPLY.chdir) throw stepError({ op: 'chdir', path: record.cwd }, step, errno);
      if (phase === RUN_REPLY.execve) throw improveExecError(stepError({ op: 'execve', paths: record.paths, argv: record.argv, envp: record.envp }, step, errno), record.argv[0]!);
      throw new NsError('EPROTO', `pool member ${m.proc.id} could not read its run record: errno ${errno}`);
    }
    setStreamsRef(m.proc, true);
    afterRun(m.proc, () => release(m));
    return m.proc;
  };

  const pool: Pool = {
    async exec(run: PoolRun, execOptions: PoolExecOptions = {}): Promise<ContainerProcess> {
      if (closed) throw new NsError(ErrorCode.STATE, 'exec on a closed pool');
      const defaults = { env: first.env, cwd: first.cwd };
      const { record, bytes, stdio: runStdio } = runRecordOf(run, defaults, perRun);
      if (runStdio) checkRunDescriptors(runStdio);
      stalled = undefined;
      let started: ContainerProcess | undefined;
      try {
        for (let tries = 0; tries < size + 3; tries++) {
          const m = idle.shift() ?? (await take()); // no await when one is ready: the record goes out in this call
          if (closed) {
            await killIdle(m);
            throw new NsError(ErrorCode.STATE, 'exec on a closed pool');
          }
          const out = await handOver(m, bytes, record, execOptions.resources, runStdio);
          if (out !== 'gone') return (started = out);
        }
      } finally {
        // A refill's planning and clone(2) block the event loop for a while (about half an
        // exec(), ~1 ms): never before the hand-over, and not before this run's wait() has
        // resolved either ('close': exited and its output delivered; the caller's code after
        // `await wait()` runs first, as a microtask), unless no member is ready: then at once.
        // 'exit' alone was too early: its setImmediate ran before the streams' close callbacks
        // of the same loop turn, and wait() resolved only after the refill.
        if (started && idle.length > 0) afterRun(started, fill);
        else setImmediate(fill);
      }
      throw new NsError(ErrorCode.DIED, `pool members kept dying before their run (${size + 3} tried)`);
    },
    close(): Promise<void> {
      if (closing) return closing;
      closed = true;
      closing = (async () => {
        for (const w of waiters.splice(0)) w.reject(new NsError(ErrorCode.STATE, 'the pool was closed'));
        await Promise.allSettled([...preparing]);
        await Promise.all(idle.splice(0).map(killIdle));
        await Promise.allSettled([...discards]);
        await Promise.all([...releases]);
      })();
      return closing;
    },
    get idle() {
      return idle.length;
    },
    get pids() {
      return idle.map((m) => m.proc.pid);
    },
    get closed() {
      return closed;
    },
  };

  // The first member: a config that cannot start fails here.
  const first = await prepare();
  idle.push(first);
  // The other members of the first `size`, whether or not the pool refills later.
  for (let k = 1; k < size; k++) startOne();
  return pool;
}
