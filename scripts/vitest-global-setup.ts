/**
 * vitest globalSetup of the `integration` project (see vitest.config.ts).
 *
 * As root: builds (or reuses) the busybox test rootfs with scripts/build-test-rootfs.sh
 * and exposes its absolute path as `process.env.NS_TEST_ROOTFS` (inherited by the test
 * forks) and as `inject('nsTestRootfs')`. A preset NS_TEST_ROOTFS that already holds a
 * /bin/sh is used as it is (e.g. a debootstrap tree); one that does not is built into.
 *
 * Not root: sets nothing; the integration tests skip themselves.
 *
 * Its teardown removes the default cgroup parent /ns when the tests left it empty.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

declare module 'vitest' {
  export interface ProvidedContext {
    nsTestRootfs: string;
  }
}

/** The part of vitest's TestProject that this setup uses. */
interface ProvidingProject {
  provide?: (key: 'nsTestRootfs', value: string) => void;
}

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'build-test-rootfs.sh');

export default function setup(project?: ProvidingProject): (() => void) | void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;

  let rootfs: string;
  const preset = process.env.NS_TEST_ROOTFS;
  if (preset && existsSync(join(preset, 'bin/sh'))) {
    rootfs = resolve(preset);
  } else {
    const args = preset ? [script, preset] : [script];
    const out = execFileSync('bash', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = out.trim().split('\n');
    rootfs = lines[lines.length - 1] ?? '';
    if (!rootfs || !existsSync(join(rootfs, 'bin/sh'))) {
      throw new Error(`build-test-rootfs.sh printed no usable rootfs path (got ${JSON.stringify(out)})`);
    }
  }

  process.env.NS_TEST_ROOTFS = rootfs;
  project?.provide?.('nsTestRootfs', rootfs);
  // Teardown: containers started from runc-style bundles without a cgroupsPath get the
  // default /ns/<id>, removed with them; the parent /ns stays (as runc leaves parents):
  // remove it when empty, in every hierarchy.
  return () => {
    let hierarchies: string[] = [];
    try {
      hierarchies = readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h));
    } catch {
      return;
    }
    for (const dir of ['/sys/fs/cgroup', ...hierarchies]) {
      try {
        rmdirSync(join(dir, 'ns'));
      } catch {
        // not there, not empty, or not a hierarchy
      }
    }
  };
}
