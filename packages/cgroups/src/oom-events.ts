/**
 * OOM notifications of a cgroup v1 memory cgroup, as runc's `events` gets them
 * (Documentation/admin-guide/cgroup-v1/memory.rst, "OOM Control"): an eventfd registered
 * through `cgroup.event_control` with `memory.oom_control`. The kernel signals it each time the
 * cgroup goes under OOM (its own limit or an ancestor's), and once more when the cgroup is
 * removed. A watch (watchOomV1) blocks a libuv threadpool thread in its read (Node cannot poll
 * an eventfd), so one per process, for a command such as `ns events`; a probe (oomProbeV1) is
 * only read without blocking, once, at a container's exit.
 */
import { closeSync, constants, existsSync, openSync, read, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A running watch (watchOomV1). */
export interface OomWatch {
  /** Stop watching: wakes the pending read (an eventfd write) and closes the eventfd. */
  close(): void;
}

/**
 * An eventfd from `eventfd` registered for the OOM notifications of the v1 memory cgroup `dir`
 * (cgroup.event_control with memory.oom_control); closed again if the registration fails.
 * @throws Node fs errors naming the file (ENOENT, EACCES ...)
 */
function registerOomEventfd(dir: string, eventfd: () => number): number {
  const efd = eventfd();
  try {
    const ofd = openSync(join(dir, 'memory.oom_control'), constants.O_RDONLY);
    try {
      const cfd = openSync(join(dir, 'cgroup.event_control'), constants.O_WRONLY);
      try {
        // "<event_fd> <fd of the control file>": the kernel keeps the eventfd, not the file.
        writeSync(cfd, `${efd} ${ofd}`);
      } finally {
        closeSync(cfd);
      }
    } finally {
      closeSync(ofd);
    }
  } catch (err) {
    closeSync(efd);
    throw err;
  }
  return efd;
}

/** Whether a v1 memory cgroup went under OOM since it was made (oomProbeV1). */
export interface OomProbe {
  /**
   * False when the cgroup has certainly not been under OOM since the probe was made (its
   * eventfd was never signalled), so nothing was OOM-killed; true when it may have been (a
   * notification came, or the probe is closed): then read the kill count (readOomKills).
   */
  mayHaveKilled(): boolean;
  /** Close the eventfd (idempotent); mayHaveKilled() then answers true. */
  close(): void;
}

/**
 * A probe that tells, at a container's exit, without reading memory.oom_control, that the
 * OOM killer cannot have struck in the v1 memory cgroup `dir`: an eventfd registered as
 * watchOomV1's, read without blocking. The kernel notifies each time the cgroup goes under
 * OOM, before it picks a victim, so no notification means no kill; a notification means a
 * read of the kill count. Costs a descriptor until close().
 *
 * @param eventfd makes an eventfd(2) with close-on-exec (`native().eventfd` of @ns/syscalls)
 * @param readAvailable reads what `fd` has without blocking, null when nothing
 *   (`native().readAvailable`)
 * @throws Node fs errors naming the file, as watchOomV1
 */
export function oomProbeV1(dir: string, eventfd: () => number, readAvailable: (fd: number) => Buffer | null): OomProbe {
  let efd = registerOomEventfd(dir, eventfd);
  return {
    mayHaveKilled() {
      return efd < 0 || readAvailable(efd) !== null;
    },
    close() {
      if (efd < 0) return;
      closeSync(efd);
      efd = -1;
    },
  };
}

/**
 * Watch the v1 memory cgroup directory `dir` for OOM: `onOom` after each notification (the
 * kernel notifies when the cgroup is under OOM, before it picks a victim), `onGone` once when
 * the cgroup has been removed or the eventfd cannot be read. Neither is called after close().
 *
 * @param eventfd makes a blocking eventfd(2) with close-on-exec (`native().eventfd` of @ns/syscalls)
 * @throws Node fs errors naming the file: ENOENT without memory.oom_control or
 *   cgroup.event_control (a cgroup v2 directory, a missing cgroup), EACCES ...
 */
export function watchOomV1(dir: string, eventfd: () => number, onOom: () => void, onGone: () => void): OomWatch {
  const efd = registerOomEventfd(dir, eventfd);
  let closed = false;
  let reading = false;
  const buf = Buffer.alloc(8);
  const finish = (): void => {
    reading = false;
    if (closed) closeSync(efd);
  };
  const next = (): void => {
    reading = true;
    read(efd, buf, 0, 8, null, (err, n) => {
      finish();
      if (closed) return;
      if (err || n !== 8 || !existsSync(dir)) {
        closed = true;
        closeSync(efd);
        onGone();
        return;
      }
      onOom();
      if (!closed) next();
    });
  };
  next();
  return {
    close() {
      if (closed) return;
      closed = true;
      if (!reading) return closeSync(efd);
      // Wake the pending read (its callback closes the eventfd).
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(1n);
      writeSync(efd, one);
    },
  };
}
