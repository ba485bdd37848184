import { describe, expect, it } from 'vitest';
import { Cgroup } from '../src/manager.js';
import { parseKeyValues, parseLimit } from '../src/stats.js';
import { fakeV1, fakeV2 } from './helpers/fake-tree.js';

describe('parsers', () => {
  it('flat keyed files', () => {
    expect(parseKeyValues('oom_kill_disable 0\nunder_oom 1\noom_kill 3\n')).toEqual({ oom_kill_disable: 0, under_oom: 1, oom_kill: 3 });
    expect(parseKeyValues('usage_usec 12\nbogus\nx y\n')).toEqual({ usage_usec: 12 });
  });
  it('limits: max and the v1 no-limit value are -1', () => {
    expect(parseLimit('max\n')).toBe(-1);
    expect(parseLimit('9223372036854771712\n')).toBe(-1);
    expect(parseLimit('33554432\n')).toBe(33554432);
  });
});

describe('stats()', () => {
  it('v1: memory, OOM kills from memory.oom_control, cpuacct usage, throttling, pids', () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    const set = (f: string, v: string) => sys.files.set(f, v);
    set('/fake/memory/a/memory.usage_in_bytes', '1000');
    set('/fake/memory/a/memory.max_usage_in_bytes', '33554432');
    set('/fake/memory/a/memory.limit_in_bytes', '33554432');
    set('/fake/memory/a/memory.memsw.usage_in_bytes', '1500');
    set('/fake/memory/a/memory.failcnt', '7');
    set('/fake/memory/a/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    set('/fake/cpu,cpuacct/a/cpuacct.usage', '500000000');
    set('/fake/cpu,cpuacct/a/cpuacct.stat', 'user 30\nsystem 20\n');
    set('/fake/cpu,cpuacct/a/cpu.stat', 'nr_periods 10\nnr_throttled 4\nthrottled_time 2000\n');
    set('/fake/pids/a/pids.current', '3');
    set('/fake/pids/a/pids.max', '16');
    expect(cg.stats()).toEqual({
      memory: { usage: 1000, maxUsage: 33554432, limit: 33554432, swapUsage: 500, failcnt: 7, oomKills: 1, underOom: false, stat: { cache: 0, rss: 0 } },
      cpu: { usageNs: 500000000, userNs: 300000000, systemNs: 200000000, periods: 10, throttledPeriods: 4, throttledNs: 2000 },
      pids: { current: 3, limit: 16 },
    });
  });

  it('v2: memory.events oom / oom_kill, memory.peak, cpu.stat in usec, pids.max max', () => {
    const { sys, layout } = fakeV2();
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    sys.files.set('/fake/v2/a/memory.current', '4096');
    sys.files.set('/fake/v2/a/memory.peak', '8192');
    sys.files.set('/fake/v2/a/memory.events', 'low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n');
    sys.files.set('/fake/v2/a/cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 70\n');
    expect(cg.stats()).toEqual({
      memory: { usage: 4096, maxUsage: 8192, limit: -1, swapUsage: 0, failcnt: 5, oomEvents: 2, oomKills: 1, stat: { anon: 0, file: 0 } },
      cpu: { usageNs: 1500000, userNs: 1000000, systemNs: 500000, periods: 3, throttledPeriods: 1, throttledNs: 70000 },
      pids: { current: 0, limit: -1 },
    });
  });

  it('leaves out what the cgroup does not have', () => {
    const { sys, layout } = fakeV2(['pids']);
    const cg = Cgroup.create('/a', {}, { layout, sys, devices: false });
    expect(cg.stats()).toEqual({ pids: { current: 0, limit: -1 } });
  });
});
