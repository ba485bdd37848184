import { native } from './native.js';

/**
 * Make `program` the device filter of the cgroup v2 directory `dir`, as runc and crun do on
 * cgroup v2 (which has no devices.allow/deny files): bpf(2) BPF_PROG_LOAD of a
 * BPF_PROG_TYPE_CGROUP_DEVICE program, BPF_PROG_ATTACH with BPF_CGROUP_DEVICE and
 * BPF_F_ALLOW_MULTI, then BPF_PROG_DETACH of the programs attached there before (the new one
 * is attached first: the cgroup is never without a filter). The attachment lives as long as
 * the cgroup; nothing is left open here.
 *
 * @param dir a cgroup2 directory (`/sys/fs/cgroup/ns/web1`)
 * @param program `struct bpf_insn[]` (8 bytes each, little-endian on x86_64 and aarch64), as
 *   `compileDeviceFilter()` of @ns/cgroups makes it
 * @param license the program's license string for the kernel (default `Apache`)
 * @throws NsError `EPERM` without CAP_SYS_ADMIN (or CAP_BPF), `EINVAL`/`EACCES` with the
 *   verifier's log in the message when the kernel refuses the program, `ENOENT` for a
 *   missing directory; TypeError `ERR_NS_PLAN` for a program that is not whole instructions.
 * @see bpf(2), linux/Documentation/bpf/prog_cgroup_device (BPF_PROG_TYPE_CGROUP_DEVICE),
 *   OCI runtime-spec config-linux.md "Allowed Device Rules"
 */
export function attachDeviceFilter(dir: string, program: Buffer, license = 'Apache'): void {
  native().attachDeviceFilter(dir, program, license);
}

/**
 * How many device filters (BPF_CGROUP_DEVICE programs) are attached to the cgroup v2
 * directory `dir` itself (BPF_PROG_QUERY).
 * @throws NsError `ENOENT`, `EPERM` ...
 */
export function deviceFilterCount(dir: string): number {
  return native().deviceFilterCount(dir);
}
