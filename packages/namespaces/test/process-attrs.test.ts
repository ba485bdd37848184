// process.ioPriority, process.scheduler, linux.personality: config.json conversion, checks
// naming the JSON path, and the plan steps (no root needed). Real containers:
// process-attrs.int.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStep, encodePlan, type Step } from '@ns/syscalls';
import { fromOciSpec, planContainer, rootfsContainer, type Container, type NsError } from '../src/index.js';

let rootfs: string;
beforeAll(() => {
  rootfs = mkdtempSync(join(tmpdir(), 'ns-process-attrs-'));
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
});
afterAll(() => rmSync(rootfs, { recursive: true, force: true }));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function spec(process: Record<string, any> = {}, linux: Record<string, any> = {}) {
  return { ociVersion: '1.2.0', process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 }, ...process }, root: { path: rootfs }, linux: { namespaces: [{ type: 'mount' }], ...linux } };
}
const steps = (o: Partial<Container>): Step[] => planContainer(rootfsContainer(rootfs, { id: 'attrs', args: ['/bin/true'], ...o })).plan.steps;

function refusal(s: ReturnType<typeof spec>): NsError {
  try {
    fromOciSpec(s, { bundle: '/b', id: 'x' });
  } catch (err) {
    return err as NsError;
  }
  throw new Error('accepted');
}

describe('process attributes from config.json', () => {
  it('are taken (no longer refused) and become plan steps, before the capabilities are dropped, in runc order', () => {
    const c = fromOciSpec(
      spec({ scheduler: { policy: 'SCHED_RR', priority: 20, flags: ['SCHED_FLAG_RESET_ON_FORK'] }, ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 3 } }, { personality: { domain: 'LINUX32' } }),
      { bundle: '/b', id: 'x' },
    );
    expect(c).toMatchObject({ scheduler: { policy: 'SCHED_RR', priority: 20, flags: ['SCHED_FLAG_RESET_ON_FORK'] }, ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 3 }, personality: { domain: 'LINUX32' } });
    const plan = planContainer(c).plan.steps;
    const at = (op: string) => plan.findIndex((s) => s.op === op);
    expect(plan[at('schedSetattr')]).toEqual({ op: 'schedSetattr', policy: 2, flags: 1, nice: 0, priority: 20, runtime: 0, deadline: 0, period: 0 });
    expect(plan[at('ioprioSet')]).toEqual({ op: 'ioprioSet', which: 1, who: 0, ioprio: (2 << 13) | 3 });
    expect(plan[at('personality')]).toEqual({ op: 'personality', persona: 8 });
    expect(at('schedSetattr')).toBeLessThan(at('ioprioSet'));
    expect(at('ioprioSet')).toBeLessThan(at('personality'));
    expect(at('personality')).toBeLessThan(at('capbsetDrop') >= 0 ? at('capbsetDrop') : at('setresuid'));
    expect(at('personality')).toBeLessThan(at('setresuid'));
    expect(plan.map(describeStep)).toContain('ioprio_set class 2 level 3');
    expect(encodePlan({ cloneFlags: 0, steps: plan }).length).toBeGreaterThan(0);
  });

  it('a SCHED_DEADLINE reservation goes whole into the step (nanoseconds)', () => {
    const st = steps({ scheduler: { policy: 'SCHED_DEADLINE', runtime: 10_000_000, deadline: 30_000_000, period: 100_000_000 } }).find((s) => s.op === 'schedSetattr');
    expect(st).toMatchObject({ policy: 6, runtime: 10_000_000, deadline: 30_000_000, period: 100_000_000 });
    expect(describeStep(st!)).toBe('sched_setattr policy 6 nice 0 priority 0 runtime 10000000 deadline 30000000 period 100000000 ns');
  });

  it('without the fields, no step', () => {
    const ops = steps({}).map((s) => s.op);
    for (const op of ['schedSetattr', 'ioprioSet', 'personality']) expect(ops).not.toContain(op);
  });

  const bad: [string, ReturnType<typeof spec>, RegExp][] = [
    ['process.ioPriority.class', spec({ ioPriority: { class: 'IOPRIO_CLASS_NONE', priority: 0 } }), /expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE, got "IOPRIO_CLASS_NONE"/],
    ['process.ioPriority.priority', spec({ ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 8 } }), /expected an integer 0\.\.7, got 8/],
    ['process.ioPriority.priority', spec({ ioPriority: { class: 'IOPRIO_CLASS_BE', priority: -1 } }), /0\.\.7, got -1/],
    ['process.scheduler.policy', spec({ scheduler: { policy: 'SCHED_FOO' } }), /expected one of SCHED_OTHER/],
    ['process.scheduler.policy', spec({ scheduler: { policy: 'SCHED_ISO' } }), /not implemented by Linux/],
    ['process.scheduler.nice', spec({ scheduler: { policy: 'SCHED_OTHER', nice: 20 } }), /-20\.\.19 with SCHED_OTHER, got 20/],
    ['process.scheduler.nice', spec({ scheduler: { policy: 'SCHED_BATCH', nice: -21 } }), /-20\.\.19 with SCHED_BATCH/],
    ['process.scheduler.priority', spec({ scheduler: { policy: 'SCHED_OTHER', priority: 5 } }), /only SCHED_FIFO and SCHED_RR take a priority/],
    ['process.scheduler.priority', spec({ scheduler: { policy: 'SCHED_FIFO' } }), /1\.\.99 with SCHED_FIFO, got undefined/],
    ['process.scheduler.priority', spec({ scheduler: { policy: 'SCHED_RR', priority: 100 } }), /1\.\.99 with SCHED_RR, got 100/],
    ['process.scheduler.flags[1]', spec({ scheduler: { policy: 'SCHED_OTHER', flags: ['SCHED_FLAG_RECLAIM', 'SCHED_FLAG_FOO'] } }), /expected one of SCHED_FLAG_RESET_ON_FORK/],
    ['process.scheduler.runtime', spec({ scheduler: { policy: 'SCHED_OTHER', runtime: 1000 } }), /only SCHED_DEADLINE takes/],
    ['process.scheduler.period', spec({ scheduler: { policy: 'SCHED_FIFO', priority: 1, period: 1000 } }), /only SCHED_DEADLINE takes/],
    ['process.scheduler.runtime', spec({ scheduler: { policy: 'SCHED_DEADLINE' } }), /at least 1024 ns with SCHED_DEADLINE, got 0/],
    ['process.scheduler.deadline', spec({ scheduler: { policy: 'SCHED_DEADLINE', runtime: 2000, deadline: 1500 } }), /at least the runtime \(2000 ns\), got 1500/],
    ['process.scheduler.period', spec({ scheduler: { policy: 'SCHED_DEADLINE', runtime: 2000, deadline: 3000, period: 2500 } }), /0 or at least the deadline \(3000 ns\), got 2500/],
    ['linux.personality.domain', spec({}, { personality: { domain: 'LINUX64' } }), /expected LINUX or LINUX32, got "LINUX64"/],
    ['linux.personality.flags[0]', spec({}, { personality: { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] } }), /defines no personality flags/],
  ];
  it.each(bad)('%s: refused naming the JSON path', (path, s, message) => {
    const err = refusal({ ...s, root: { path: rootfs } }); // (the list is made before beforeAll)
    expect(err).toMatchObject({ code: 'ERR_NS_CONFIG', path });
    expect(err.message.startsWith(`config.json: ${path}: `)).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('takes the boundary values', () => {
    for (const s of [
      spec({ ioPriority: { class: 'IOPRIO_CLASS_RT', priority: 0 }, scheduler: { policy: 'SCHED_FIFO', priority: 99 } }),
      spec({ ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 7 }, scheduler: { policy: 'SCHED_OTHER', nice: -20, priority: 0 } }),
      spec({ scheduler: { policy: 'SCHED_DEADLINE', runtime: 1024, deadline: 1024 } }),
      spec({ scheduler: { policy: 'SCHED_IDLE', flags: [] } }, { personality: { domain: 'LINUX', flags: [] } }),
    ]) {
      expect(() => fromOciSpec(s, { bundle: '/b', id: 'x' })).not.toThrow();
    }
  });
});
