/**
 * The Linux capability table: every capability the kernel headers know, by the name and
 * number of <linux/capability.h>. Numbers are bit positions in the 64-bit sets of
 * capget(2)/capset(2) and of /proc/PID/status. See capabilities(7).
 */
export const CAPABILITIES = Object.freeze([
  { name: 'CAP_CHOWN', value: 0 },
  { name: 'CAP_DAC_OVERRIDE', value: 1 },
  { name: 'CAP_DAC_READ_SEARCH', value: 2 },
  { name: 'CAP_FOWNER', value: 3 },
  { name: 'CAP_FSETID', value: 4 },
  { name: 'CAP_KILL', value: 5 },
  { name: 'CAP_SETGID', value: 6 },
  { name: 'CAP_SETUID', value: 7 },
  { name: 'CAP_SETPCAP', value: 8 },
  { name: 'CAP_LINUX_IMMUTABLE', value: 9 },
  { name: 'CAP_NET_BIND_SERVICE', value: 10 },
  { name: 'CAP_NET_BROADCAST', value: 11 },
  { name: 'CAP_NET_ADMIN', value: 12 },
  { name: 'CAP_NET_RAW', value: 13 },
  { name: 'CAP_IPC_LOCK', value: 14 },
  { name: 'CAP_IPC_OWNER', value: 15 },
  { name: 'CAP_SYS_MODULE', value: 16 },
  { name: 'CAP_SYS_RAWIO', value: 17 },
  { name: 'CAP_SYS_CHROOT', value: 18 },
  { name: 'CAP_SYS_PTRACE', value: 19 },
  { name: 'CAP_SYS_PACCT', value: 20 },
  { name: 'CAP_SYS_ADMIN', value: 21 },
  { name: 'CAP_SYS_BOOT', value: 22 },
  { name: 'CAP_SYS_NICE', value: 23 },
  { name: 'CAP_SYS_RESOURCE', value: 24 },
  { name: 'CAP_SYS_TIME', value: 25 },
  { name: 'CAP_SYS_TTY_CONFIG', value: 26 },
  { name: 'CAP_MKNOD', value: 27 },
  { name: 'CAP_LEASE', value: 28 },
  { name: 'CAP_AUDIT_WRITE', value: 29 },
  { name: 'CAP_AUDIT_CONTROL', value: 30 },
  { name: 'CAP_SETFCAP', value: 31 },
  { name: 'CAP_MAC_OVERRIDE', value: 32 },
  { name: 'CAP_MAC_ADMIN', value: 33 },
  { name: 'CAP_SYSLOG', value: 34 },
  { name: 'CAP_WAKE_ALARM', value: 35 },
  { name: 'CAP_BLOCK_SUSPEND', value: 36 },
  { name: 'CAP_AUDIT_READ', value: 37 },
  { name: 'CAP_PERFMON', value: 38 },
  { name: 'CAP_BPF', value: 39 },
  { name: 'CAP_CHECKPOINT_RESTORE', value: 40 },
] as const);

/** One row of {@link CAPABILITIES}. */
export type Capability = (typeof CAPABILITIES)[number];

/** A kernel capability name, `'CAP_CHOWN'` ... `'CAP_CHECKPOINT_RESTORE'`. */
export type CapabilityName = Capability['name'];

/**
 * The highest capability number in {@link CAPABILITIES} (CAP_CHECKPOINT_RESTORE, Linux 5.9).
 * The running kernel's own value is in /proc/sys/kernel/cap_last_cap (see `readLastCap`).
 */
export const CAP_LAST_KNOWN = 40;

/** Capability sets are 64 bits wide (two 32-bit words of _LINUX_CAPABILITY_VERSION_3). */
export const CAP_SET_BITS = 64;
