/**
 * Device access rules (config-linux.md "Allowed Device list", cgroup-v1/devices.rst): runc's
 * default rules, and an emulator of the v1 devices cgroup (after runc's devices_emulator.go)
 * that turns an ordered rule list into the state the kernel would reach. From that state come
 * both the v1 devices.allow/devices.deny writes (the fewest that get there) and the clean rule
 * list the v2 BPF device filter is compiled from (bpf.ts), so both versions behave alike.
 */
import { configError } from './errors.js';
import type { CgroupWrite, LinuxDeviceCgroup } from './types.js';

/** Wildcard major or minor (`*`). */
export const WILDCARD = -1;

/** One device rule; `major`/`minor` -1 is `*`, `access` a canonical subset of `rwm`. */
export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  major: number;
  minor: number;
  access: string;
  allow: boolean;
}

/** A rule and the config field it came from, for error messages. */
export interface SourcedDeviceRule extends DeviceRule {
  jsonPath: string;
}

const rule = (type: 'b' | 'c', major: number, minor: number, access: string): DeviceRule => ({ type, major, minor, access, allow: true });

/**
 * runc's default allow list (libcontainer/specconv AllowedDevices), applied after the config's
 * rules: mknod of any char or block device, /dev/null, random, full, tty, zero, urandom,
 * /dev/pts/* (136:*), /dev/ptmx (5:2) and /dev/net/tun (10:200).
 */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  rule('c', WILDCARD, WILDCARD, 'm'),
  rule('b', WILDCARD, WILDCARD, 'm'),
  rule('c', 1, 3, 'rwm'),
  rule('c', 1, 8, 'rwm'),
  rule('c', 1, 7, 'rwm'),
  rule('c', 5, 0, 'rwm'),
  rule('c', 1, 5, 'rwm'),
  rule('c', 1, 9, 'rwm'),
  rule('c', 136, WILDCARD, 'rwm'),
  rule('c', 5, 2, 'rwm'),
  rule('c', 10, 200, 'rwm'),
];

const BITS: Record<string, number> = { r: 1, w: 2, m: 4 };

/** `rwm` letters to a bit set (r=1, w=2, m=4). */
export function accessBits(access: string): number {
  let bits = 0;
  for (const ch of access) bits |= BITS[ch] ?? 0;
  return bits;
}

/** A bit set back to canonical letters (`rwm` order). */
export function accessString(bits: number): string {
  return `${bits & 1 ? 'r' : ''}${bits & 2 ? 'w' : ''}${bits & 4 ? 'm' : ''}`;
}

/**
 * The rule list a container's devices cgroup gets: the config's `linux.resources.devices` in
 * order, then runc's DEFAULT_DEVICE_RULES (unless `defaults: false`), on top of an implicit
 * deny-all start. The defaults come after the config's rules as in runc, so the usual first
 * rule `{allow: false, access: "rwm"}` cannot take /dev/null away.
 *
 * @param devices `linux.resources.devices` (validated: validateResources)
 */
export function deviceRules(devices: readonly LinuxDeviceCgroup[] = [], options: { defaults?: boolean; path?: string } = {}): SourcedDeviceRule[] {
  const path = options.path ?? 'linux.resources.devices';
  const out: SourcedDeviceRule[] = devices.map((d, i) => ({
    type: (d.type ?? 'a') as DeviceRule['type'],
    major: d.major ?? WILDCARD,
    minor: d.minor ?? WILDCARD,
    access: accessString(accessBits(d.access ?? 'rwm')),
    allow: d.allow,
    jsonPath: `${path}[${i}]`,
  }));
  if (options.defaults ?? true) for (const r of DEFAULT_DEVICE_RULES) out.push({ ...r, jsonPath: `${path} (runc's default allow list)` });
  return out;
}

/** `c 1:3 rwm`, `a *:* rwm`: the devices.allow / devices.list text of a rule. */
export function formatDeviceRule(r: DeviceRule): string {
  const n = (x: number): string => (x === WILDCARD ? '*' : String(x));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access}`;
}

const key = (type: string, major: number, minor: number): string => `${type} ${major} ${minor}`;

/** The sort order runc writes rules in: major, minor, type. */
function byDevice(a: [string, number], b: [string, number]): number {
  const [ta, ma, na] = a[0].split(' ');
  const [tb, mb, nb] = b[0].split(' ');
  return Number(ma) - Number(mb) || Number(na) - Number(nb) || (ta! < tb! ? -1 : ta! > tb! ? 1 : 0);
}

/**
 * The state of a v1 devices cgroup: a default (allow or deny) and the exceptions to it, each
 * `type major minor` with its access bits. Applying a rule changes it as the kernel does,
 * except that removing part of a wildcard exception is refused (the kernel ignores it
 * silently, which would let a deny rule do nothing): runc's emulator.
 */
export class DeviceEmulator {
  defaultAllow: boolean;
  readonly exceptions = new Map<string, number>();

  /** @param defaultAllow true for a v1 cgroup's initial allow-all state; false (default) for deny-all */
  constructor(defaultAllow = false) {
    this.defaultAllow = defaultAllow;
  }

  /**
   * Apply one rule in order. A type `a` rule resets the cgroup to allow-all or deny-all.
   * @throws Error when a deny would punch a hole in a wildcard allow (or the reverse)
   */
  apply(r: DeviceRule): void {
    if (r.type === 'a') {
      this.defaultAllow = r.allow;
      this.exceptions.clear();
      return;
    }
    const bits = accessBits(r.access);
    const k = key(r.type, r.major, r.minor);
    if (r.allow !== this.defaultAllow) {
      this.exceptions.set(k, (this.exceptions.get(k) ?? 0) | bits);
      return;
    }
    // Removing access: refuse when a broader wildcard exception still grants (or denies) it.
    for (const [major, minor] of [
      [WILDCARD, r.minor],
      [r.major, WILDCARD],
      [WILDCARD, WILDCARD],
    ] as const) {
      const partial = key(r.type, major, minor);
      if (partial === k) continue;
      const held = this.exceptions.get(partial) ?? 0;
      if (held & bits) {
        throw new Error(`rule "${formatDeviceRule(r)}" cannot take access away from the wildcard rule "${formatDeviceRule({ type: r.type, major, minor, access: accessString(held), allow: !r.allow })}" (the devices cgroup cannot punch holes in wildcards)`);
      }
    }
    const left = (this.exceptions.get(k) ?? 0) & ~bits;
    if (left) this.exceptions.set(k, left);
    else this.exceptions.delete(k);
  }

  /**
   * The state a list of rules reaches from deny-all.
   * @throws CgroupError `ERR_NS_CONFIG` naming the rule's field when a rule cannot be applied
   */
  static fromRules(rules: readonly SourcedDeviceRule[] | readonly DeviceRule[]): DeviceEmulator {
    const emu = new DeviceEmulator(false);
    for (const r of rules) {
      try {
        emu.apply(r);
      } catch (err) {
        throw configError('jsonPath' in r ? r.jsonPath : 'linux.resources.devices', (err as Error).message);
      }
    }
    return emu;
  }

  /**
   * The state a v1 cgroup's devices.list shows. devices.list only lists allowed devices: a line
   * `a *:* rwm` means allow-all, whose deny exceptions cannot be seen (runc's emulatorFromList).
   * @throws Error on a malformed line
   */
  static fromList(list: string): DeviceEmulator {
    const emu = new DeviceEmulator(false);
    for (const line of list.split('\n')) {
      if (line.trim() === '') continue;
      const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
      if (!m) throw new Error(`malformed devices.list line ${JSON.stringify(line)}`);
      const n = (s: string): number => (s === '*' ? WILDCARD : Number(s));
      emu.apply({ type: m[1] as DeviceRule['type'], major: n(m[2]!), minor: n(m[3]!), access: m[4]!, allow: true });
    }
    return emu;
  }

  /** The exceptions as rules (action = the opposite of the default), sorted by major, minor, type. */
  exceptionRules(): DeviceRule[] {
    return [...this.exceptions].sort(byDevice).map(([k, bits]) => {
      const [type, major, minor] = k.split(' ');
      return { type: type as DeviceRule['type'], major: Number(major), minor: Number(minor), access: accessString(bits), allow: !this.defaultAllow };
    });
  }

  /**
   * The fewest rules that turn a cgroup in state `this` into `target` (runc's Transition): a
   * disruptive `a` rule first when the defaults differ or `this` is allow-all (whose deny list
   * cannot be read back), then removals of lost access, then additions.
   */
  transition(target: DeviceEmulator): DeviceRule[] {
    const out: DeviceRule[] = [];
    let old = this.exceptions;
    if (this.defaultAllow || this.defaultAllow !== target.defaultAllow) {
      out.push({ type: 'a', major: WILDCARD, minor: WILDCARD, access: 'rwm', allow: target.defaultAllow });
      old = new Map();
    }
    const split = (k: string): [DeviceRule['type'], number, number] => {
      const [t, ma, mi] = k.split(' ');
      return [t as DeviceRule['type'], Number(ma), Number(mi)];
    };
    for (const [k, bits] of [...old].sort(byDevice)) {
      const dropped = bits & ~(target.exceptions.get(k) ?? 0);
      if (dropped) {
        const [type, major, minor] = split(k);
        out.push({ type, major, minor, access: accessString(dropped), allow: target.defaultAllow });
      }
    }
    for (const [k, bits] of [...target.exceptions].sort(byDevice)) {
      const gained = bits & ~(old.get(k) ?? 0);
      if (gained) {
        const [type, major, minor] = split(k);
        out.push({ type, major, minor, access: accessString(gained), allow: !target.defaultAllow });
      }
    }
    return out;
  }

  /**
   * Whether an access to a device is allowed, with the semantics of the compiled BPF filter
   * (runc's devicefilter): the first exception of the device's type whose major and minor
   * match (or are wildcards) and whose access covers every requested bit decides; else the
   * default. In deny-all mode this is exactly the v1 kernel's decision.
   *
   * @param access requested bits (r=1, w=2, m=4) or letters
   */
  allows(type: 'b' | 'c', major: number, minor: number, access: number | string): boolean {
    const want = typeof access === 'string' ? accessBits(access) : access;
    for (const r of this.exceptionRules()) {
      if (r.type !== type) continue;
      if (r.major !== WILDCARD && r.major !== major) continue;
      if (r.minor !== WILDCARD && r.minor !== minor) continue;
      if ((want & accessBits(r.access)) !== want) continue;
      return r.allow;
    }
    return this.defaultAllow;
  }
}

/**
 * The devices.deny / devices.allow writes that bring a v1 devices cgroup to the state `rules`
 * describe (cgroup-v1/devices.rst), the fewest runc would write: from an unknown or allow-all
 * cgroup (`currentList` unset: a new cgroup inherits its parent's allow-all) a deny-all `a`
 * first, then each allowed device sorted by major:minor.
 *
 * @param currentList the cgroup's devices.list text, to update a live cgroup without a deny-all window
 * @throws CgroupError `ERR_NS_CONFIG` naming the offending rule
 */
export function v1DeviceWrites(rules: readonly SourcedDeviceRule[], currentList?: string): CgroupWrite[] {
  const target = DeviceEmulator.fromRules(rules);
  const source = currentList === undefined ? new DeviceEmulator(true) : DeviceEmulator.fromList(currentList);
  return source.transition(target).map((r) => ({
    version: 1,
    controller: 'devices',
    file: r.allow ? 'devices.allow' : 'devices.deny',
    value: formatDeviceRule(r),
    jsonPath: 'linux.resources.devices',
  }));
}
