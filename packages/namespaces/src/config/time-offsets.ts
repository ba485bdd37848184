/**
 * A time namespace of the container's own and its clock offsets (OCI config-linux.md
 * `linux.timeOffsets`; time_namespaces(7)): the checks a config gets, and the text written to
 * /proc/self/timens_offsets between the unshare(CLONE_NEWTIME) and the fork that puts the
 * container's process in it (plan/namespaces.ts).
 */
import { existsSync } from 'node:fs';
import { configError } from '@ns/syscalls';

/** OCI `linux.timeOffsets`: clock name (`monotonic`, `boottime`) -> offset. */
export type TimeOffsets = Record<string, { secs?: number; nanosecs?: number }>;

/** The clocks a time namespace offsets (time_namespaces(7)). */
export const TIME_CLOCKS = ['monotonic', 'boottime'] as const;

/**
 * The largest offset taken, in seconds: KTIME_SEC_MAX / 2, the most a clock may read with its
 * offset (proc_timens_set_offset answers ERANGE past it).
 */
const MAX_OFFSET_SECS = Math.floor(Number((2n ** 63n - 1n) / 1_000_000_000n) / 2);

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)));

/**
 * Check a container's time namespace and `timeOffsets`, as runc's validator: offsets only with a
 * new time namespace (not one joined by path: its offsets are set already), and a new one only on
 * a kernel that has them (/proc/self/timens_offsets). Each clock `monotonic` or `boottime`,
 * `secs` an integer within +-KTIME_SEC_MAX/2, `nanosecs` 0..999999999 (what the kernel takes;
 * an offset that would make the clock negative is the kernel's ERANGE when the plan writes it:
 * `write /proc/self/timens_offsets: ERANGE`).
 * @param c `namespaces` already checked (validate-namespaces.ts)
 * @throws NsError `ERR_NS_CONFIG` naming `namespaces[i]` or `timeOffsets.<clock>[.secs|.nanosecs]`.
 * @see time_namespaces(7), runtime-spec config-linux.md "Offset for Time Namespace"
 */
export function checkTimeNamespace(c: { namespaces: readonly { type: string; path?: string }[]; timeOffsets?: unknown }): void {
  const at = c.namespaces.findIndex((ns) => ns.type === 'time');
  const own = at >= 0 && c.namespaces[at]!.path === undefined;
  if (own && !existsSync('/proc/self/timens_offsets')) {
    throw configError(`namespaces[${at}]: this kernel has no time namespaces (CONFIG_TIME_NS: no /proc/self/timens_offsets)`, `namespaces[${at}]`);
  }
  const offsets = c.timeOffsets;
  if (offsets === undefined) return;
  if (typeof offsets !== 'object' || offsets === null || Array.isArray(offsets)) {
    throw configError(`timeOffsets: expected { monotonic?, boottime? } of { secs, nanosecs }, got ${show(offsets)}`, 'timeOffsets');
  }
  if (Object.keys(offsets).length === 0) return;
  if (!own) {
    const why = at >= 0 ? `the time namespace joined by path (namespaces[${at}]) has its offsets already` : 'offsets need a new time namespace: add { "type": "time" } to linux.namespaces';
    throw configError(`timeOffsets: ${why}`, 'timeOffsets');
  }
  for (const [clock, o] of Object.entries(offsets as Record<string, unknown>)) {
    const field = `timeOffsets.${clock}`;
    if (!(TIME_CLOCKS as readonly string[]).includes(clock)) throw configError(`${field}: unknown clock (expected ${TIME_CLOCKS.join(' or ')})`, field);
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw configError(`${field}: expected { secs, nanosecs }, got ${show(o)}`, field);
    const { secs = 0, nanosecs = 0 } = o as { secs?: unknown; nanosecs?: unknown };
    if (typeof secs !== 'number' || !Number.isInteger(secs) || Math.abs(secs) > MAX_OFFSET_SECS) {
      throw configError(`${field}.secs: expected an integer within +-${MAX_OFFSET_SECS}, got ${show(secs)}`, `${field}.secs`);
    }
    if (typeof nanosecs !== 'number' || !Number.isInteger(nanosecs) || nanosecs < 0 || nanosecs > 999_999_999) {
      throw configError(`${field}.nanosecs: expected an integer 0..999999999, got ${show(nanosecs)}`, `${field}.nanosecs`);
    }
  }
}

/**
 * What /proc/self/timens_offsets is given: one `<clock> <secs> <nanosecs>` line a clock, in
 * {@link TIME_CLOCKS} order (the kernel takes them in one write), or null with no offsets.
 */
export function timeOffsetsText(offsets: TimeOffsets | undefined): string | null {
  const lines = TIME_CLOCKS.filter((k) => offsets?.[k] !== undefined).map((k) => `${k} ${offsets![k]!.secs ?? 0} ${offsets![k]!.nanosecs ?? 0}\n`);
  return lines.length > 0 ? lines.join('') : null;
}
