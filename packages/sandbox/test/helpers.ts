// What the sandbox integration tests share: the busybox rootfs, a cgroup parent of the test
// file's own (never the host's cgroups), and checks that a run left nothing behind.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroup, allDirs, cgroupDirs } from '@ns/cgroups';
import { hostCgroupLayout, rootfsContainer, type Container } from '@ns/namespaces';
import { hostMountPoints } from '../../../scripts/testing/host-mounts.mjs';

export const isRoot = process.getuid?.() === 0;
/** The busybox rootfs built by scripts/build-test-rootfs.sh (vitest global setup). */
export const ROOTFS = process.env.NS_TEST_ROOTFS ?? '';

/** A busybox container running `script` with /bin/sh -c. */
export function sh(script: string, o: Partial<Container> = {}): Container {
  return rootfsContainer(ROOTFS, { args: ['/bin/sh', '-c', script], ...o });
}

/** Every directory of cgroup `path`, in each hierarchy of the host. */
export function cgroupDirsOf(path: string): string[] {
  return allDirs(cgroupDirs(hostCgroupLayout(), path));
}

/** Child cgroups left below `parent`, in any hierarchy (each a run's or a container's). */
export function leftoverCgroups(parent: string): string[] {
  return cgroupDirsOf(parent).flatMap((dir) => {
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  });
}

/** Remove a test file's cgroup parent from every hierarchy (killing anything left in it). */
export async function removeParent(parent: string): Promise<void> {
  await Cgroup.open(parent, { layout: hostCgroupLayout() })
    .destroy()
    .catch(() => undefined);
}

/** The host's mount points, to check nothing is left mounted. */
export function hostMounts(): string[] {
  return hostMountPoints();
}

/** Host pids whose command line contains `marker` (a process a test planted, still alive). */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(marker)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Sample the highest `pids.current` of any cgroup below `parent` (the pids hierarchy) every
 * few ms while `work` runs.
 */
export async function maxPidsDuring<T>(parent: string, work: Promise<T>): Promise<{ result: T; maxPids: number }> {
  const layout = hostCgroupLayout();
  const base = join(layout.controllers.pids!.mountPoint, parent);
  let maxPids = 0;
  const sample = () => {
    const walk = (dir: string) => {
      try {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          if (!e.isDirectory()) continue;
          const sub = join(dir, e.name);
          try {
            maxPids = Math.max(maxPids, Number(readFileSync(join(sub, 'pids.current'), 'utf8')));
          } catch {
            // removed meanwhile
          }
          walk(sub);
        }
      } catch {
        // removed meanwhile
      }
    };
    walk(base);
  };
  const timer = setInterval(sample, 5);
  try {
    return { result: await work, maxPids };
  } finally {
    clearInterval(timer);
  }
}
