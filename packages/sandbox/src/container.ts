/**
 * The container config of one run: the caller's config with the limits turned into cgroup
 * resources (memory, pids) and rlimits (open files, file size, stack, no core dumps), a cgroup
 * of its own below the run's accounting cgroup, and a fresh writable layer: the rootfs
 * read-only with new tmpfs mounts on the writable paths (isolate's box: everything read-only
 * but the box and /tmp), or an overlay over the whole rootfs (`layer.overlay`), discarded with
 * the container's mount namespace.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_MOUNTS, type Container, type LinuxResources, type MountConfig } from '@ns/namespaces';
import type { CheckedLimits } from './limits.js';

export interface LayerOptions {
  /**
   * Container paths that get a fresh, empty tmpfs for each run (default `['/tmp']`); the
   * rest of the rootfs is read-only. A path that is missing in the rootfs is created there
   * (as any mount point), so prefer paths the rootfs has.
   */
  writable?: string[];
  /**
   * Size of each tmpfs in bytes (default: the memory limit, else the kernel's default of half
   * the RAM). Its pages count against the memory limit anyway.
   */
  writableBytes?: number;
  /**
   * The whole root writable, discarded after the run: an overlayfs over the rootfs (only read)
   * with its upper layer on a tmpfs of `writableBytes` (default: the memory limit), as
   * @ns/namespaces `rootfsOverlay`, instead of tmpfs mounts on `writable` paths (which are then
   * not made). Needs a config with a rootfs. Default false.
   */
  overlay?: boolean;
  /** Leave the rootfs as the config has it (writable or not) and add no tmpfs nor overlay. Default false. */
  keepRootfs?: boolean;
}

/** rlimit names and the limit that sets each (soft = hard). */
function rlimits(limits: CheckedLimits): { type: string; soft: number; hard: number }[] {
  const out: { type: string; soft: number; hard: number }[] = [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }];
  if (limits.openFiles !== undefined) out.push({ type: 'RLIMIT_NOFILE', soft: limits.openFiles, hard: limits.openFiles });
  if (limits.fileSizeBytes !== undefined) out.push({ type: 'RLIMIT_FSIZE', soft: limits.fileSizeBytes, hard: limits.fileSizeBytes });
  if (limits.stackBytes !== undefined) out.push({ type: 'RLIMIT_STACK', soft: limits.stackBytes, hard: limits.stackBytes });
  return out;
}

let swapCache: boolean | undefined;

/** Whether the host has swap in use (/proc/swaps lists a device): then the memory limit caps swap too. */
function hostHasSwap(): boolean {
  if (swapCache === undefined) {
    try {
      swapCache = readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
    } catch {
      swapCache = false;
    }
  }
  return swapCache;
}

/**
 * The cgroup resources of the limits: memory (and no swap beyond it), pids; over the config's
 * own. With `init` (the run's container has ns's init as pid 1) pids.max is one more than
 * `processes`, so that the program and what it starts get `processes` of their own (isolate's
 * `--processes` counts the program's processes, not the sandbox's).
 */
export function limitResources(limits: CheckedLimits, base: LinuxResources = {}, options: { init?: boolean } = {}): LinuxResources {
  const out: LinuxResources = { ...base };
  if (limits.memoryBytes !== undefined) {
    out.memory = { ...base.memory, limit: limits.memoryBytes, ...(hostHasSwap() ? { swap: limits.memoryBytes } : {}) };
  }
  if (limits.processes !== undefined) out.pids = { ...base.pids, limit: limits.processes + (options.init ? 1 : 0) };
  return out;
}

/** The tmpfs mounts of the writable layer. */
function layerMounts(limits: CheckedLimits, layer: LayerOptions): MountConfig[] {
  const size = layer.writableBytes ?? limits.memoryBytes;
  return (layer.writable ?? ['/tmp']).map((destination) => ({
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'nodev', 'mode=1777', ...(size !== undefined ? [`size=${size}`] : [])],
  }));
}

/**
 * The config of one run: `base` with the run's id, its cgroup (`cgroupsPath`, below the
 * accounting cgroup), the limits as resources and rlimits (replacing the config's rlimits of
 * the same type), no terminal, ns's init as pid 1 (`run.init`, else the config's `init`, else
 * on; see RunOptions.init), and the writable layer.
 */
export function sandboxContainer(base: Container, limits: CheckedLimits, run: { id: string; cgroupsPath: string; layer?: LayerOptions; init?: boolean }): Container {
  const layer = run.layer ?? {};
  const ours = rlimits(limits);
  const kept = (base.rlimits ?? []).filter((r) => !ours.some((o) => o.type === r.type));
  const init = run.init ?? base.init ?? true;
  const c: Container = {
    ...base,
    id: run.id,
    terminal: false,
    init,
    cgroupsPath: run.cgroupsPath,
    resources: limitResources(limits, base.resources, { init }),
    rlimits: [...kept, ...ours],
  };
  if (layer.keepRootfs) return c;
  if (layer.overlay) {
    const size = layer.writableBytes ?? limits.memoryBytes;
    c.readonly = false;
    c.rootfsOverlay = size !== undefined ? { sizeBytes: size } : {};
  } else {
    c.readonly = true;
    c.mounts = [...(base.mounts ?? DEFAULT_MOUNTS), ...layerMounts(limits, layer)];
  }
  return c;
}
