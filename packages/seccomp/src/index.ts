/**
 * @ns/seccomp: OCI `linux.seccomp` compiled to a seccomp classic-BPF filter in TypeScript, the
 * default profile (moby's, as Docker and podman apply it), and a BPF interpreter to check a
 * program without installing it. No native code: @ns/syscalls' plan carries the program and
 * the container's set-up process installs it with seccomp(2).
 */
export { SeccompError, ERR_NS_CONFIG } from './errors.js';
export { AUDIT_ARCH, KERNEL_ARCHES, OCI_ARCHES, X32_SYSCALL_BIT, hostArch, syscallNumber, syscallTable, type Arch } from './arch.js';
export { ACTIONS, FLAGS, OPS, SECCOMP_RET, actionValue, checkProfile, usesNotify, type CheckedProfile, type LinuxSeccomp, type LinuxSeccompArg, type LinuxSyscall } from './profile.js';
export { compileSeccomp, type CompileOptions, type CompiledSeccomp } from './compile.js';
export { BPF_MAXINSNS, decodeProgram, encodeProgram, filterWords, runFilter, type Instruction, type SeccompData } from './bpf.js';
export { defaultProfile, isMobyProfile, resolveMobyProfile, type DefaultProfileOptions, type MobyProfile } from './default.js';
export { describeCondition } from './describe.js';
export { filterVerdict, type Verdict } from './verdict.js';
