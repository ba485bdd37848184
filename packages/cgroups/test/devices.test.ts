import { describe, expect, it } from 'vitest';
import { DEFAULT_DEVICE_RULES, DeviceEmulator, WILDCARD, deviceRules, formatDeviceRule, v1DeviceWrites, type DeviceRule } from '../src/devices.js';

const r = (allow: boolean, type: DeviceRule['type'], major: number, minor: number, access = 'rwm'): DeviceRule => ({ allow, type, major, minor, access });
const lines = (emu: DeviceEmulator) => emu.exceptionRules().map(formatDeviceRule);

describe('deviceRules', () => {
  it("is the config's rules in order (unset = all, rwm), then runc's default allow list", () => {
    const rules = deviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'wr' }]);
    expect(rules.slice(0, 2)).toEqual([
      { type: 'a', major: WILDCARD, minor: WILDCARD, access: 'rwm', allow: false, jsonPath: 'linux.resources.devices[0]' },
      { type: 'c', major: 10, minor: 229, access: 'rw', allow: true, jsonPath: 'linux.resources.devices[1]' },
    ]);
    expect(rules.slice(2).map(formatDeviceRule)).toEqual([
      'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm',
    ]);
    expect(deviceRules(undefined, { defaults: false })).toEqual([]);
    expect(deviceRules([], {})).toHaveLength(DEFAULT_DEVICE_RULES.length);
  });
});

describe('DeviceEmulator', () => {
  it('starts deny-all; allow rules add exceptions, merging access', () => {
    const emu = DeviceEmulator.fromRules([r(true, 'c', 1, 3, 'r'), r(true, 'c', 1, 3, 'w'), r(true, 'b', 8, WILDCARD, 'm')]);
    expect(emu.defaultAllow).toBe(false);
    expect(lines(emu)).toEqual(['c 1:3 rw', 'b 8:* m']);
  });
  it('deny rules remove access; a type a rule resets the whole cgroup', () => {
    const emu = DeviceEmulator.fromRules([r(true, 'c', 1, 3), r(false, 'c', 1, 3, 'w')]);
    expect(lines(emu)).toEqual(['c 1:3 rm']);
    emu.apply(r(true, 'a', WILDCARD, WILDCARD));
    expect(emu.defaultAllow).toBe(true);
    expect(lines(emu)).toEqual([]);
    emu.apply(r(false, 'b', 8, 0));
    expect(emu.exceptionRules()).toEqual([r(false, 'b', 8, 0)]);
  });
  it('refuses to punch a hole in a wildcard (v1 would silently ignore it), naming the rule', () => {
    expect(() =>
      DeviceEmulator.fromRules([
        { ...r(true, 'c', WILDCARD, WILDCARD), jsonPath: 'linux.resources.devices[0]' },
        { ...r(false, 'c', 1, 3, 'r'), jsonPath: 'linux.resources.devices[1]' },
      ]),
    ).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: 'linux.resources.devices[1]', message: expect.stringMatching(/cannot punch holes/) }));
    // removing an exact exception, or a disjoint access, is fine
    expect(lines(DeviceEmulator.fromRules([r(true, 'c', WILDCARD, WILDCARD, 'm'), r(false, 'c', 1, 3, 'rw')]))).toEqual(['c *:* m']);
  });
  it('reads devices.list (a, or an allow list)', () => {
    expect(DeviceEmulator.fromList('a *:* rwm\n').defaultAllow).toBe(true);
    const emu = DeviceEmulator.fromList('c 1:3 rwm\nc 136:* rwm\nb *:* m\n');
    expect(emu.defaultAllow).toBe(false);
    expect(lines(emu)).toEqual(['b *:* m', 'c 1:3 rwm', 'c 136:* rwm']);
    expect(() => DeviceEmulator.fromList('x 1:3 rwm')).toThrow(/malformed/);
  });
  it('transition: the fewest rules, disruptive only when the default changes or is allow-all', () => {
    const cur = DeviceEmulator.fromList('c 1:3 rwm\nc 1:5 rwm\n');
    const target = DeviceEmulator.fromRules([r(true, 'c', 1, 3, 'rw'), r(true, 'c', 1, 9)]);
    expect(cur.transition(target).map((x) => `${x.allow ? 'allow' : 'deny'} ${formatDeviceRule(x)}`)).toEqual(['deny c 1:3 m', 'deny c 1:5 rwm', 'allow c 1:9 rwm']);
    expect(new DeviceEmulator(true).transition(target).map(formatDeviceRule)).toEqual(['a *:* rwm', 'c 1:3 rw', 'c 1:9 rwm']);
    const allowAll = DeviceEmulator.fromRules([r(true, 'a', WILDCARD, WILDCARD), r(false, 'b', 8, 0)]);
    expect(cur.transition(allowAll).map((x) => `${x.allow ? 'allow' : 'deny'} ${formatDeviceRule(x)}`)).toEqual(['allow a *:* rwm', 'deny b 8:0 rwm']);
  });
  it('allows(): first matching exception covering the access, else the default', () => {
    const emu = DeviceEmulator.fromRules(deviceRules([{ allow: false, access: 'rwm' }]));
    expect(emu.allows('c', 1, 3, 'rw')).toBe(true);
    expect(emu.allows('c', 1, 11, 'r')).toBe(false); // /dev/kmsg
    expect(emu.allows('c', 1, 11, 'm')).toBe(true); // mknod of anything
    expect(emu.allows('b', 7, 0, 'rm')).toBe(false);
    expect(emu.allows('c', 136, 7, 'rw')).toBe(true); // /dev/pts/7
  });
});

describe('v1DeviceWrites', () => {
  it('a new cgroup: deny a, then each allow sorted by major:minor (runc)', () => {
    const ws = v1DeviceWrites(deviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }], { defaults: false }));
    expect(ws).toEqual([
      { version: 1, controller: 'devices', file: 'devices.deny', value: 'a *:* rwm', jsonPath: 'linux.resources.devices' },
      { version: 1, controller: 'devices', file: 'devices.allow', value: 'c 10:229 rw', jsonPath: 'linux.resources.devices' },
    ]);
  });
  it('allow-all with a deny list (privileged but no block device 8:0)', () => {
    const ws = v1DeviceWrites(deviceRules([{ allow: true }, { allow: false, type: 'b', major: 8, minor: 0 }], { defaults: false }));
    expect(ws.map((w) => `${w.file} ${w.value}`)).toEqual(['devices.allow a *:* rwm', 'devices.deny b 8:0 rwm']);
  });
});
