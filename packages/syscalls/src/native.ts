import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ErrorCode, NsError } from './errors.js';

/** The raw functions of the addon (src/native/addon.cc). */
export interface NativeAddon {
  spawn(
    plan: Buffer,
    onSync: ((step: number, pid: number) => void) | undefined,
    onExit: (exitCode: number | null, signal: number | null) => void,
  ): NativeSpawnResult;
  kill(pidfd: number, signal: number): void;
  ref(pidfd: number, ref: boolean): void;
  pidfdOpen(pid: number): number;
  pidfdSignal(pidfd: number, signal: number): void;
  pipe(): [number, number];
  dup(fd: number): number;
  openPty(cols: number, rows: number, root?: string): { master: number; slave: number; path: string };
  setWinsize(fd: number, cols: number, rows: number): void;
  stepBytes: number;
}

export type NativeSpawnResult =
  | { pid: number; pidfd: number }
  | { pid: number; failedStep: number; errno: number; code: string; message: string }
  | { pid: number; failedStep: -1; errno: 0; diedBeforeExec: true; exitCode: number | null; signal: number | null };

/** Platforms prebuilt or buildable for this addon. */
export const SUPPORTED_PLATFORMS = ['linux-x64', 'linux-arm64'];

let addon: NativeAddon | undefined;

/**
 * Load the addon with node-gyp-build: build/Release first, then prebuilds/<platform>-<arch>/.
 *
 * @throws NsError `ERR_NS_NATIVE` naming the supported platforms when none loads.
 */
export function native(): NativeAddon {
  if (addon) return addon;
  const here = `${process.platform}-${process.arch}`;
  if (!SUPPORTED_PLATFORMS.includes(here)) {
    throw new NsError(
      ErrorCode.NATIVE,
      `@ns/syscalls needs Linux (${SUPPORTED_PLATFORMS.join(', ')}); this is ${here}`,
    );
  }
  const require = createRequire(import.meta.url);
  const root = fileURLToPath(new URL('..', import.meta.url));
  try {
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    addon = load(root);
  } catch (cause) {
    throw new NsError(
      ErrorCode.NATIVE,
      `@ns/syscalls: no native addon loads for ${here} (${(cause as Error).message}); ` +
        `supported: ${SUPPORTED_PLATFORMS.join(', ')}`,
      { cause },
    );
  }
  return addon;
}
