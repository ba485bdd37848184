import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Imported, not required by path: a bundle (the `ns` CLI) then carries it too.
import nodeGypBuild from 'node-gyp-build';
import { ErrorCode, NsError, errnoName } from './errors.js';

/** The raw functions of the addon (src/native/addon.cc). */
export interface NativeAddon {
  spawn(
    plan: Buffer,
    onSync: ((step: number, pid: number, value: number, intoCgroup: boolean) => void) | undefined,
    onExit: (exitCode: number | null, signal: number | null, maxRssKiB?: number) => void,
    timeoutMs?: number,
    earlySync?: number,
    cgroupFd?: number,
    via?: number,
    earlyAnswered?: boolean,
  ): NativeSpawnResult;
  spawnAsync(
    plan: Buffer,
    onSync: ((step: number, pid: number, value: number, intoCgroup: boolean) => void) | undefined,
    onReady: (error: Error | null, result: NativeSpawnResult | undefined) => void,
    onExit: (exitCode: number | null, signal: number | null, maxRssKiB?: number) => void,
    timeoutMs?: number,
    cgroupFd?: number,
  ): number;
  kill(pidfd: number, signal: number): void;
  ref(pidfd: number, ref: boolean): void;
  /** Stop watching the child of `pidfd` and close the pidfd, never reaping it (its exit callback never runs). */
  release(pidfd: number): void;
  pidfdOpen(pid: number): number;
  pidfdSignal(pidfd: number, signal: number): void;
  pipe(): [number, number];
  /** socketpair(2) AF_UNIX SOCK_SEQPACKET, both ends close-on-exec. */
  seqpacketPair(): [number, number];
  dup(fd: number): number;
  mkfifo(path: string, mode: number): void;
  /** eventfd(2) with EFD_CLOEXEC (blocking), counter starting at `initval` (default 0): its descriptor. */
  eventfd(initval?: number): number;
  openPath(path: string): number;
  readAvailable(fd: number, max?: number): Buffer | null;
  /** write(2) all of `bytes` to a blocking descriptor: true, or false on EPIPE. */
  writeAll(fd: number, bytes: Buffer): boolean;
  openPty(cols: number, rows: number, root?: string): { master: number; slave: number; path: string };
  /** A new descriptor of the slave of pty master `master` (ioctl TIOCGPTPEER), close-on-exec. */
  ptyPeer(master: number): number;
  /** Set or clear OPOST in terminal `fd`'s termios; whether it was set before. */
  ttyOpost(fd: number, on: boolean): boolean;
  setWinsize(fd: number, cols: number, rows: number): void;
  attachDeviceFilter(dir: string, program: Buffer, license: string): void;
  deviceFilterCount(dir: string): number;
  /** The CLONE_NEW* flag of the namespace descriptor `fd` refers to (ioctl NS_GET_NSTYPE); throws ENOTTY for another file. */
  nsType(fd: number): number;
  /** One netlink(7) request/answer exchange (native/netlink.cc); see netlinkRequest() in netlink.ts. */
  netlinkRequest(protocol: number, request: Buffer, netnsFd: number): Buffer;
  /** A connected AF_UNIX SOCK_STREAM socket to `path` (close-on-exec). See unix.ts. */
  unixConnect(path: string): number;
  /** A listening AF_UNIX SOCK_STREAM socket bound at `path` (close-on-exec). */
  unixListen(path: string, backlog?: number): number;
  /** accept4(2) after waiting at most `timeoutMs` (-1: for ever); null when nobody came. */
  unixAccept(fd: number, timeoutMs?: number): number | null;
  /** One sendmsg(2): `payload` as data, `fd` as SCM_RIGHTS. */
  sendFd(socket: number, fd: number, payload: Buffer): void;
  /** One sendmsg(2): `payload` as data, every descriptor of `fds` (at most 16) as SCM_RIGHTS. */
  sendFds(socket: number, fds: number[], payload: Buffer): void;
  /** One recvmsg(2): the data and the first descriptor (-1: none); null at end of file. */
  recvFd(socket: number, maxBytes?: number): { fd: number; data: Buffer; truncated?: true } | null;
  /** One recvmsg(2) with MSG_DONTWAIT: data and up to `maxFds` descriptors; null when nothing is there yet. */
  recvFds(socket: number, maxBytes: number, maxFds: number): { data: Buffer; fds: number[]; truncated?: true } | null;
  /** SO_PEERCRED of a connected unix socket. */
  peerCred(socket: number): { pid: number; uid: number; gid: number };
  /** Call `onReadable` each time `fd` can be read, until unwatchFd(fd) (which closes it). See fdwatch.cc. */
  watchReadable(fd: number, onReadable: () => void): void;
  /** The same, reading `fd` itself: onReadable(data), onReadable(null) at end of file (then stopped, `fd` closed). */
  watchReadable(fd: number, onReadable: (data: Buffer | null) => void, readMax: number): void;
  /** Whether the watcher of `fd` keeps the event loop alive; false when `fd` is not watched. */
  refFd(fd: number, on: boolean): boolean;
  /** Stop watching `fd` and close it; false when it was not watched. */
  unwatchFd(fd: number): boolean;
  /** pidfd_getfd(2) of descriptor `fd` of process `pid` (close-on-exec copy). */
  pidfdGetfd(pid: number, fd: number): number;
  /** SECCOMP_IOCTL_NOTIF_RECV after waiting at most `timeoutMs`; null when none came. */
  seccompNotifRecv(listener: number, timeoutMs?: number): { id: bigint; pid: number; nr: number; arch: number; args: bigint[] } | null;
  /** SECCOMP_IOCTL_NOTIF_SEND. */
  seccompNotifSend(listener: number, id: bigint, val: number, error: number, flags: number): void;
  stepBytes: number;
}

export type NativeSpawnResult =
  | { pid: number; pidfd: number; detached?: true }
  | { pid: number; failedStep: number; errno: number; value?: number }
  | { pid: number; failedStep: -1; errno: 0; diedBeforeExec: true; exitCode: number | null; signal: number | null };

/** Platforms prebuilt or buildable for this addon. */
export const SUPPORTED_PLATFORMS = ['linux-x64', 'linux-arm64'];

/** What the published package ships prebuilt, for error messages (see docs/publishing.md). */
const PREBUILT = 'linux-x64 and linux-arm64 with glibc >= 2.28';

let addon: NativeAddon | undefined;

/** `glibc 2.36`, `musl` (no glibc version in the process report), or '' off Linux. */
function libcName(): string {
  if (process.platform !== 'linux') return '';
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'musl';
}

/**
 * The folder of the installed `@ns/syscalls` package (it holds build/ and prebuilds/). This
 * file is `<root>/dist/native.js`, unless a bundler copied it into another package's file
 * (the `ns` CLI is one bundle): then the package is looked up as a dependency of that file,
 * in the `node_modules` folders above it (require.resolve is the fallback; it costs a few ms
 * of a short CLI's start).
 */
function packageRoot(): string {
  const own = fileURLToPath(new URL('..', import.meta.url));
  if (packageName(own) === '@ns/syscalls') return own;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '@ns', 'syscalls');
    if (packageName(candidate) === '@ns/syscalls') return candidate;
    if (dirname(dir) === dir) break;
  }
  return dirname(createRequire(import.meta.url).resolve('@ns/syscalls/package.json'));
}

/** The `name` in `dir`/package.json, or undefined when there is none. */
function packageName(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

/**
 * The addon with every function's system-call errors as NsError: the addon throws an Error
 * with `errno` (negative) and `syscall`, and the errno's name (`code`) is given here, from
 * os.constants.errno, as `<syscall>: <CODE> (<strerror text>)[: <detail>]` (the detail being
 * the kernel's own words where there are some, such as a BPF verifier log).
 */
function namingErrors(raw: NativeAddon): NativeAddon {
  const named: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'function') {
      named[key] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    named[key] = (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (err) {
        throw errnoError(err);
      }
    };
  }
  return named as unknown as NativeAddon;
}

/** An NsError for an addon Error carrying `errno` and `syscall`; anything else as it is. */
function errnoError(err: unknown): unknown {
  const e = err as { errno?: unknown; syscall?: unknown; message?: string; code?: unknown; detail?: unknown };
  if (!(err instanceof Error) || typeof e.errno !== 'number' || typeof e.syscall !== 'string' || e.code !== undefined) return err;
  const code = errnoName(e.errno);
  const detail = typeof e.detail === 'string' ? `: ${e.detail}` : '';
  return new NsError(code, `${e.syscall}: ${code} (${e.message})${detail}`, { errno: e.errno, syscall: e.syscall });
}

/**
 * Load the addon with node-gyp-build: build/Release first, then prebuilds/<platform>-<arch>/
 * (`@ns+syscalls.glibc.node`; a `musl` one is picked on Alpine when present).
 *
 * @throws NsError `ERR_NS_NATIVE` when none loads: off Linux, or on a platform without a
 *   prebuild (the message names this platform and libc, and what is prebuilt), or when the
 *   binary does not load (its dlopen message is kept as `cause`).
 */
export function native(): NativeAddon {
  if (addon) return addon;
  const here = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') {
    throw new NsError(
      ErrorCode.NATIVE,
      `@ns/syscalls needs Linux (containers are made of Linux namespaces); this is ${here}. ` +
        `Prebuilt for ${PREBUILT}.`,
    );
  }
  if (!SUPPORTED_PLATFORMS.includes(here)) {
    throw new NsError(
      ErrorCode.NATIVE,
      `@ns/syscalls has no native addon for ${here} (${libcName()}): prebuilt for ${PREBUILT}.`,
    );
  }
  try {
    addon = namingErrors(nodeGypBuild(packageRoot()) as NativeAddon);
  } catch (cause) {
    const message = (cause as Error).message;
    const libc = libcName();
    const why = /No native build was found/.test(message)
      ? `no prebuilt binary matches ${here} with ${libc}`
      : /GLIBC_[0-9.]+' not found/.test(message)
        ? `the prebuilt binary needs a newer glibc than this ${libc}`
        : `the native addon does not load on ${here} (${libc})`;
    throw new NsError(
      ErrorCode.NATIVE,
      `@ns/syscalls: ${why}; prebuilt for ${PREBUILT}. (${message.split('\n')[0]})`,
      { cause },
    );
  }
  return addon;
}
