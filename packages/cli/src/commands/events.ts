/**
 * `ns events [--interval D] [--stats] ID`: a running container's cgroup statistics and OOM
 * kills as lines of JSON, as `runc events` (the shape: ../runc-stats.ts).
 *
 * - `--stats`: one `{"type":"stats","id":ID,"data":{...}}` line, then exit.
 * - Otherwise a stream: a stats line every `--interval` (a Go duration, default 5s; the first
 *   one after one interval, as runc), and an `{"type":"oom","id":ID}` line each time the
 *   cgroup's count of OOM kills goes up (v1 memory.oom_control `oom_kill`, v2 memory.events
 *   `oom_kill`). The kernel says when to look: on v1 an eventfd registered for
 *   memory.oom_control (cgroup.event_control, as runc), after which the count is read until
 *   it goes up (the notification comes before the kill), on v2 memory.events watched with
 *   inotify. Without either the count is polled every 250 ms (or every interval when that is
 *   shorter). The stream ends, with status 0, when the container stops (checked at that pace)
 *   or is deleted, and quietly with status 0 when the reader of ns's stdout goes away
 *   (`ns events ID | head -1`, noticed at the next line written). runc dies of SIGPIPE there
 *   (a shell reports 141); a reader that stops reading is how a stream meant to go on until
 *   stopped is stopped, so ns does not make a failure of it (a `set -o pipefail` script
 *   reading the first line succeeds), as `ns list | head -1` ends with 0.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, NsError, containerStats, currentStatus, openContainerCgroup, watchOomV1, type OomWatch, type StateStore } from '@ns/namespaces';
import { native } from '@ns/syscalls';
import { EXIT, reportError, usage } from '../errors.js';
import type { ResolvedIo } from '../io.js';
import { eventLine, runcStats } from '../runc-stats.js';
import { parseDuration } from '../units.js';

/** The options of `ns events`. */
export interface EventsOptions {
  /** `--interval D`: time between stats lines, a Go duration (`5s`, `500ms`); default 5s. */
  interval?: string;
  /** `--stats`: print the stats once and exit. */
  stats?: boolean;
}

/** How often the stream checks for OOM kills and whether the container still runs. */
export const OOM_POLL_MS = 250;

/** After a v1 OOM notification: read the kill count every OOM_SETTLE_MS, at most OOM_SETTLE_TRIES times. */
const OOM_SETTLE_MS = 20;
const OOM_SETTLE_TRIES = 50;

/** The longest delay a Node timer takes (a longer one would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ns events`. Resolves to 0 when `--stats` printed, or when the stream ends because the
 * container stopped; 125 for a bad `--interval`, an unknown container, one that is not
 * running or has no cgroup; 0 too when `signal` aborts the stream (ns's stdout went away).
 * Stats that cannot be read while it runs are reported on stderr and the stream goes on.
 */
export async function eventsCommand(id: string, options: EventsOptions, store: StateStore, io: ResolvedIo, signal?: AbortSignal): Promise<number> {
  try {
    const interval = options.interval ?? '5s';
    const intervalMs = parseDuration(interval, '--interval');
    if (intervalMs <= 0) throw usage(`--interval ${interval}: duration interval must be greater than 0`, '--interval');
    if (currentStatus(store.read(id)) === 'stopped') throw new NsError(ErrorCode.STATE, `container with id ${id} is not running`);
    const first = containerStats(store, id); // no cgroup: ERR_NS_STATE
    if (options.stats) {
      io.stdout(eventLine({ type: 'stats', id, data: runcStats(first) }));
      return 0;
    }
    return await stream(id, store, io, Math.min(intervalMs, MAX_TIMER_MS), first.memory?.oomKills ?? 0, signal);
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}

/** The stream of stats and oom lines until the container stops or `signal` aborts (both 0). */
function stream(id: string, store: StateStore, io: ResolvedIo, intervalMs: number, oomKills: number, signal?: AbortSignal): Promise<number> {
  const cg = openContainerCgroup(store.read(id).config);
  if (!cg) return Promise.resolve(0); // gone since containerStats(): it stopped
  return new Promise((resolve) => {
    let kills = oomKills;
    let done = false;
    let watcher: FSWatcher | undefined;

    const running = (): boolean => {
      try {
        return currentStatus(store.read(id)) !== 'stopped';
      } catch {
        return false; // deleted
      }
    };
    const checkOom = (): void => {
      if (done) return;
      let now: number | undefined;
      try {
        now = cg.stats().memory?.oomKills;
      } catch {
        return; // the next poll reads it again
      }
      if (now === undefined) return;
      if (now > kills) io.stdout(eventLine({ type: 'oom', id }));
      kills = Math.max(kills, now);
    };
    let oomWatch: OomWatch | undefined;
    let notified: ReturnType<typeof setInterval> | undefined;
    // v1: after a notification, read the count until the kill shows (or a second passes).
    const onNotify = (): void => {
      const before = kills;
      let tries = 0;
      clearInterval(notified);
      checkOom();
      if (kills > before) return;
      notified = setInterval(() => {
        checkOom();
        if (kills > before || ++tries >= OOM_SETTLE_TRIES) clearInterval(notified);
      }, OOM_SETTLE_MS);
    };
    const poll = (): void => {
      if (!oomWatch) checkOom();
      if (!running()) finish(0);
    };
    const emitStats = (): void => {
      try {
        io.stdout(eventLine({ type: 'stats', id, data: runcStats(containerStats(store, id)) }));
      } catch (err) {
        if (running()) reportError(io, err);
        else finish(0);
      }
    };
    const onAbort = (): void => finish(0);
    const statsTimer = setInterval(emitStats, intervalMs);
    const pollTimer = setInterval(poll, Math.min(OOM_POLL_MS, intervalMs));
    function finish(status: number): void {
      if (done) return;
      done = true;
      clearInterval(statsTimer);
      clearInterval(pollTimer);
      clearInterval(notified);
      watcher?.close();
      oomWatch?.close();
      signal?.removeEventListener('abort', onAbort);
      resolve(status);
    }

    // cgroup v2 memory controller: the kernel notifies memory.events changes (inotify).
    if (cg.dirs.v1.memory === undefined && cg.dirs.unified !== undefined) {
      try {
        watcher = watch(join(cg.dirs.unified, 'memory.events'), { persistent: false }, checkOom);
        watcher.on('error', () => watcher?.close());
      } catch {
        // no memory controller there: the poll still runs
      }
    }
    // cgroup v1 memory controller: an eventfd for memory.oom_control.
    const memoryV1 = cg.dirs.v1.memory;
    if (memoryV1 !== undefined) {
      try {
        oomWatch = watchOomV1(memoryV1, () => native().eventfd(), onNotify, () => {
          oomWatch = undefined; // removed: the poll sees the container gone
        });
      } catch {
        // no event_control (or no eventfd): the poll reads the count
      }
    }
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
