/**
 * The default profile: moby's (profiles/seccomp/default.json, what Docker applies and podman
 * ships), turned into an OCI `linux.seccomp` for one container the way moby does it
 * (profiles/seccomp/seccomp_linux.go): the architectures of the native one's archMap entry, and
 * the rule groups whose `includes` / `excludes` (capabilities in the bounding set, the host
 * architecture, the kernel version) say they apply. Unknown newer system calls get ENOSYS from
 * the compiler (see compile.ts), so the C library falls back to older ones.
 */
import { release } from 'node:os';
import { hostArch } from './arch.js';
import { MOBY_DEFAULT } from './moby-default.js';
import type { LinuxSeccomp, LinuxSyscall } from './profile.js';

/** A condition of a moby rule group. */
interface MobyFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

/** moby's profile format: OCI's plus `archMap` and per-group `includes` / `excludes`. */
export interface MobyProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  syscalls: (LinuxSyscall & { comment?: string; includes?: MobyFilter; excludes?: MobyFilter })[];
}

export interface DefaultProfileOptions {
  /** The container's bounding set, by name (`CAP_SYS_ADMIN` ...): groups for capabilities it has apply. */
  capabilities: Iterable<string>;
  /** Native architecture (default this process's). */
  native?: 'x86_64' | 'aarch64';
  /** Kernel version `major.minor` (default os.release()). */
  kernel?: string;
}

/** Go's names for the native architectures, as moby's `includes.arches` uses them. */
const GOARCH = { x86_64: 'amd64', aarch64: 'arm64' } as const;
const NATIVE_OCI = { x86_64: 'SCMP_ARCH_X86_64', aarch64: 'SCMP_ARCH_AARCH64' } as const;

/** a >= b for `major.minor[.patch]` versions. */
function kernelAtLeast(have: string, want: string): boolean {
  const a = have.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const b = want.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/**
 * The default seccomp profile for a container with the given bounding set, as an OCI
 * `linux.seccomp`: moby's default.json resolved as moby resolves it. With the default
 * capabilities (no CAP_SYS_ADMIN), mount, unshare, setns, keyctl, add_key, bpf ... fail with
 * EPERM, clone with namespace flags fails, and clone3 fails with ENOSYS (glibc falls back to
 * clone).
 *
 * @param options `capabilities`: the bounding set by name; `native`, `kernel`: see {@link DefaultProfileOptions}
 * @returns a fresh object each call
 * @see moby profiles/seccomp/default.json and seccomp_linux.go setupSeccomp()
 */
export function defaultProfile(options: DefaultProfileOptions): LinuxSeccomp {
  return resolveMobyProfile(MOBY_DEFAULT, options);
}

/** Whether `value` is in moby's format: an `archMap`, or a rule group with `includes` / `excludes`. */
export function isMobyProfile(value: unknown): value is MobyProfile {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { archMap?: unknown; syscalls?: unknown };
  return v.archMap !== undefined || (Array.isArray(v.syscalls) && v.syscalls.some((s) => typeof s === 'object' && s !== null && ('includes' in s || 'excludes' in s)));
}

/**
 * A profile in moby's format (Docker's `--security-opt seccomp=FILE`: an OCI profile plus
 * `archMap` and per-group `includes` / `excludes`) as an OCI `linux.seccomp` for one container,
 * as moby's setupSeccomp() makes it: `architectures` from the native architecture's archMap
 * entry (when the profile has no `architectures` of its own), the groups that apply to the
 * bounding set, host architecture and kernel. Its fields are checked later, by the compiler.
 * @see moby profiles/seccomp/seccomp_linux.go setupSeccomp()
 */
export function resolveMobyProfile(profile: MobyProfile & { architectures?: string[]; flags?: string[] }, options: DefaultProfileOptions): LinuxSeccomp {
  const caps = new Set(options.capabilities);
  const native = options.native ?? hostArch();
  const goarch = GOARCH[native];
  const kernel = options.kernel ?? release();
  const entry = (profile.archMap ?? []).find((a) => a.architecture === NATIVE_OCI[native]);
  const syscalls: LinuxSyscall[] = [];
  for (const g of profile.syscalls ?? []) {
    const ex = g.excludes ?? {};
    const inc = g.includes ?? {};
    if (ex.arches?.includes(goarch)) continue;
    if (ex.caps?.some((c) => caps.has(c))) continue;
    if (ex.minKernel !== undefined && kernelAtLeast(kernel, ex.minKernel)) continue;
    if (inc.arches?.length && !inc.arches.includes(goarch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.minKernel !== undefined && !kernelAtLeast(kernel, inc.minKernel)) continue;
    const s: LinuxSyscall = { names: [...g.names], action: g.action };
    if (g.errnoRet !== undefined) s.errnoRet = g.errnoRet;
    if (g.args?.length) s.args = g.args.map((a) => ({ ...a }));
    syscalls.push(s);
  }
  const out: LinuxSeccomp = {
    defaultAction: profile.defaultAction,
    architectures: profile.architectures?.length ? [...profile.architectures] : entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [NATIVE_OCI[native]],
    syscalls,
  };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags?.length) out.flags = [...profile.flags];
  return out;
}
