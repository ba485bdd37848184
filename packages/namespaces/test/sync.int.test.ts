// Parent-side sync handlers (src/process/sync.ts): a plan's `sync` step calls the handler
// registered under its name with the waiting process's pid and the container's context; a
// handler's cleanups run, newest first, when the start fails after it.
import { describe, expect, it } from 'vitest';
import type { Plan, Step } from '@ns/syscalls';
import { launch } from '../src/process/exec.js';
import { registerSyncHandler, syncHandler, type SyncContext } from '../src/process/sync.js';
import { stdioSteps, type PlanIo } from '../src/plan/index.js';
import { rootfsContainer } from '../src/index.js';
import { isRoot } from './helpers.js';

const seen: unknown[] = [];
registerSyncHandler('test-place', (c: SyncContext) => {
  seen.push({ handler: 'place', pid: c.pid, name: c.step.name, index: c.index, id: c.container.id, steps: c.plan.steps.length, uid: c.user.uid });
  c.onFailure(() => seen.push('undo place'));
});
registerSyncHandler('test-refuse', (c: SyncContext) => {
  c.onFailure(() => seen.push('undo refuse'));
  throw new Error('refused by the test handler');
});

/** A plan that meets the parent at the given sync steps, then execs /bin/true. */
function makePlan(names: string[]) {
  const container = rootfsContainer('/', { id: 'sync-test', args: ['/bin/true'] });
  return (io: PlanIo) => {
    const steps: Step[] = [...stdioSteps(io), ...names.map((name): Step => ({ op: 'sync', name })), { op: 'closeFrom', first: 3 }, { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] }];
    const plan: Plan = { cloneFlags: 0, steps };
    return { id: container.id, container, plan, user: { uid: 0, gid: 0, additionalGids: [], home: '/' }, args: container.args };
  };
}

describe('sync handlers', () => {
  it('has the idmap handler; an unknown step is refused, a name is registered once', () => {
    expect(syncHandler('idmap')).toBeTypeOf('function');
    expect(() => syncHandler('no-such-step')).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', message: 'sync step "no-such-step": no handler is registered for it' }));
    expect(() => registerSyncHandler('idmap', () => undefined)).toThrow(/has a handler already/);
  });

  it.skipIf(!isRoot)('calls the handler with the waiting pid and the container context', async () => {
    seen.length = 0;
    const proc = launch(false, { stdio: 'ignore' }, makePlan(['test-place']));
    expect((await proc.wait()).exitCode).toBe(0);
    expect(seen).toEqual([{ handler: 'place', pid: proc.pid, name: 'test-place', index: 2, id: 'sync-test', steps: 5, uid: 0 }]);
  });

  it.skipIf(!isRoot)('fails the start when a handler throws, and runs the cleanups newest first', () => {
    seen.length = 0;
    expect(() => launch(false, { stdio: 'ignore' }, makePlan(['test-place', 'test-refuse']))).toThrow('refused by the test handler');
    expect(seen.slice(1)).toEqual(['undo refuse', 'undo place']);
  });

  it.skipIf(!isRoot)('refuses a plan with a step nobody handles before the process runs', () => {
    expect(() => launch(false, { stdio: 'ignore' }, makePlan(['nobody-handles-this']))).toThrow(/no handler is registered/);
  });
});
