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
import { poolMemberPlan, runDefaults, runRecordOf, type PoolRun, type RunDefaults, type RunStdioEntry } from '../plan/pool.js';
import { improveExecError, launchAsync, planned, type StdioEntry } from './exec.js';
import { attachRunStreams, checkRunDescriptors, MemberEnd, MemberReplies, sendRecord, setStreamsRef, writeRecord, type RunStream } from './pool-io.js';
import { checkExecOptions, checkOptions, type Pool, type PoolExecOptions, type PoolOptions } from './pool-options.js';
import { holdMountNamespace, releaseNamespace } from './pool-hold.js';
import { closeAll, type ContainerProcess } from './process.js';

export type { PoolRun, RunStdio } from '../plan/pool.js';
export type { Pool, PoolExecOptions, PoolOptions } from './pool-options.js';

/** A run checked and encoded (exec()), handed to one member after another until one takes it. */
interface PreparedRun {
  record: RunRecord;
  bytes: Buffer;
  stdio: RunStdioEntry[] | undefined;
  resources: LinuxResources | undefined;
}

interface Member {
  proc: ContainerProcess;
  /** Our end of the record pipe (the record socket with per-run stdio); -1 once closed: a pipe at the run's end (release()), a socket once sent. */
  recordFd: number;
  /** Its replies (our end of the reply pipe, watched from the start; pool-io.ts). */
  replies: MemberReplies;
  env: readonly string[];
  cwd: string;
  /** Its process's end: an idle exit, or its run's (pool-io.ts). */
  end: MemberEnd;
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

  /** After a member's run (its process has exited): our end of its record pipe closed, its mount tree let go (torn down on the thread pool). */
  const release = (m: Member) => {
    if (m.recordFd >= 0) closeAll([m.recordFd]);
    m.recordFd = -1;
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
    m.replies.close();
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
    let replies: MemberReplies | undefined;
    try {
      replies = new MemberReplies(repR);
      let defaults: { env: readonly string[]; cwd: string } | undefined;
      const proc = await launchAsync(false, { stdio: [...entries, recR, repW] }, (io) => {
        const cp = planContainerCached(memberConfig, io);
        defaults = { env: cp.env, cwd: cp.container.cwd };
        const p = planned(cp);
        // A session keyring of the member's own (not found by name by the next member).
        const keyring = `${sessionKeyringName(memberConfig.id)}.${process.pid}.${n}.${randomBytes(4).toString('hex')}`;
        return { ...p, plan: poolMemberPlan(p.plan, idleTimeoutMs, keyring, perRun) };
      });
      const m: Member = { proc, recordFd: recW, replies, env: defaults!.env, cwd: defaults!.cwd, end: undefined!, mntFd: holdMountNamespace(proc.pid) };
      m.end = new MemberEnd(proc, () => discard(m));
      proc.unref();
      setStreamsRef(proc, false);
      return m;
    } catch (err) {
      closeAll([recW]); // ours: no member holds them
      if (replies) replies.close();
      else closeAll([repR]);
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

  /**
   * The run's member `m` has exec'd its program: its streams keep the event loop alive now, and
   * the refill and the release of its mount namespace wait for the end of the run. A refill's
   * planning and clone(2) block the event loop for a while (about half an exec(), ~1 ms): never
   * before the hand-over, and not before this run's wait() has resolved either ('close':
   * exited and its output delivered; the caller's code after `await wait()` runs first, as a
   * microtask), unless no member is ready: then at once. 'exit' alone was too early: its
   * setImmediate ran before the streams' close callbacks of the same loop turn, and wait()
   * resolved only after the refill.
   */
  const started = (m: Member): ContainerProcess => {
    setStreamsRef(m.proc, true);
    if (idle.length > 0) {
      m.end.afterRun(() => {
        release(m);
        fill();
      });
    } else {
      m.end.afterRun(() => release(m));
      setImmediate(fill);
    }
    return m.proc;
  };

  /** An exec() that ends without a run: the pool is refilled at the next turn. */
  const failing = (err: unknown): Promise<never> => {
    setImmediate(fill);
    return Promise.reject(err);
  };

  /** exec() with its `tries`-th member and on: one ready now gets the run in this very call. */
  const execFrom = (run: PreparedRun, tries: number): Promise<ContainerProcess> => {
    if (tries >= size + 3) return failing(new NsError(ErrorCode.DIED, `pool members kept dying before their run (${size + 3} tried)`));
    const m = idle.shift();
    if (m) return handOver(m, run, tries);
    return take().then(async (m) => {
      if (!closed) return handOver(m, run, tries);
      await killIdle(m);
      return failing(new NsError(ErrorCode.STATE, 'exec on a closed pool'));
    }, failing);
  };

  /**
   * Hand `run` over to `m`: resolves with its process once exec'd, in the reply's own callback
   * (one promise between the member's execve and the caller). A member gone before it took the
   * run: the next one (execFrom).
   */
  const handOver = (m: Member, run: PreparedRun, tries: number): Promise<ContainerProcess> =>
    new Promise<ContainerProcess>((resolve) => {
      m.end.take();
      m.proc.ref();
      const dropped = (err: unknown) => resolve(killIdle(m).then(() => (discard(m), failing(err))));
      if (run.resources !== undefined) {
        try {
          m.proc.update(run.resources);
        } catch (err) {
          return dropped(err);
        }
      }
      let sent: RunStream[] | false;
      try {
        if (run.stdio) {
          const socket = m.recordFd;
          m.recordFd = -1; // sendRecord closes it
          sent = sendRecord(socket, run.bytes, run.stdio);
        } else {
          sent = writeRecord(m.recordFd, run.bytes) && []; // closed by release() or discard()
        }
      } catch (err) {
        // Its record socket is closed: the member goes away unused.
        return dropped(err);
      }
      if (!sent) return resolve(gone(m, run, tries));
      const streams = sent;
      attachRunStreams(m.proc, streams);
      // End of file with no reply: the program runs (no acknowledgement: one wake-up less).
      m.replies.claim((replies) => {
        const failure = replies[0]; // no destructuring: no array iterator on the way to the caller
        if (!failure) resolve(started(m));
        else if (failure[1] === RUN_REPLY.unused) resolve(gone(m, run, tries)); // its idle timeout came first
        else resolve(failed(m, failure, run.record, streams).catch(failing));
      });
    });

  /** `m` went away before it took the run: the next member. */
  const gone = async (m: Member, run: PreparedRun, tries: number): Promise<ContainerProcess> => {
    await m.proc.exited();
    discard(m);
    return execFrom(run, tries + 1);
  };

  /** `m` replied a failure (its chdir, execve, or reading the record): the error, `m` gone. */
  const failed = async (m: Member, [step, errno, phase]: number[], record: RunRecord, sent: RunStream[]): Promise<never> => {
    for (const s of sent) s.stream.destroy();
    await m.proc.wait();
    discard(m); // it never ran a program: onDiscard
    if (phase === RUN_REPLY.chdir) throw stepError({ op: 'chdir', path: record.cwd }, step!, errno!);
    if (phase === RUN_REPLY.execve) throw improveExecError(stepError({ op: 'execve', paths: record.paths, argv: record.argv, envp: record.envp }, step!, errno!), record.argv[0]!);
    throw new NsError('EPROTO', `pool member ${m.proc.id} could not read its run record: errno ${errno}`);
  };

  let defaults: RunDefaults;
  let withCgroup = false;

  const pool: Pool = {
    exec(run: PoolRun, execOptions?: PoolExecOptions): Promise<ContainerProcess> {
      if (closed) return Promise.reject(new NsError(ErrorCode.STATE, 'exec on a closed pool'));
      let prepared: PreparedRun;
      try {
        const { resources } = checkExecOptions(execOptions, withCgroup);
        const { record, bytes, stdio } = runRecordOf(run, defaults, perRun);
        if (stdio) checkRunDescriptors(stdio);
        prepared = { record, bytes, stdio, resources };
      } catch (err) {
        return Promise.reject(err);
      }
      stalled = undefined;
      return execFrom(prepared, 0);
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
    get refillError() {
      return stalled;
    },
  };

  // The first member: a config that cannot start fails here.
  const first = await prepare();
  idle.push(first);
  defaults = runDefaults(first.env, first.cwd);
  withCgroup = first.proc.cgroup !== null;
  // The other members of the first `size`, whether or not the pool refills later.
  for (let k = 1; k < size; k++) startOne();
  return pool;
}
