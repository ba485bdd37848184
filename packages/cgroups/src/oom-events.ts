/**
 * OOM notifications of a cgroup v1 memory cgroup, as runc's `events` gets them
 * (Documentation/admin-guide/cgroup-v1/memory.rst, "OOM Control"): an eventfd registered
 * through `cgroup.event_control` with `memory.oom_control`. The kernel signals it each time the
 * cgroup goes under OOM, and once more when the cgroup is removed. Reading it blocks a libuv
 * threadpool thread (Node cannot poll an eventfd), so one watch per process, for a command
 * such as `ns events`, not per container of a library user.
 */
import { closeSync, constants, existsSync, openSync, read, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A running watch (watchOomV1). */
export interface OomWatch {
  /** Stop watching: wakes the pending read (an eventfd write) and closes the eventfd. */
  close(): void;
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
