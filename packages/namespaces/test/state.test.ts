import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore, currentStatus, ociState, processStartTime, rootfsContainer, type ContainerState } from '../src/index.js';

let root: string;
let store: StateStore;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ns-state-'));
  store = new StateStore(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function state(over: Partial<ContainerState> = {}): ContainerState {
  return {
    ociVersion: '1.2.0',
    id: 'c1',
    status: 'running',
    pid: process.pid,
    bundle: '/b',
    annotations: {},
    created: '2026-01-01T00:00:00.000Z',
    startTime: processStartTime(process.pid)!,
    config: rootfsContainer('/r', { id: 'c1' }),
    detached: true,
    ...over,
  };
}

describe('StateStore', () => {
  it('creates, reads, lists and removes a container state', () => {
    store.create(state());
    expect(store.read('c1').pid).toBe(process.pid);
    expect(store.list()).toEqual(['c1']);
    expect(JSON.parse(readFileSync(join(root, 'c1', 'state.json'), 'utf8')).id).toBe('c1');
    store.remove('c1');
    expect(store.list()).toEqual([]);
    expect(readdirSync(root)).toEqual([]);
  });

  it('removes the lock folder and links in a container folder, never what a link points to', () => {
    store.create(state());
    const outside = mkdtempSync(join(tmpdir(), 'ns-state-outside-'));
    try {
      writeFileSync(join(outside, 'keep'), 'x');
      mkdirSync(join(root, 'c1', '.lock'));
      writeFileSync(join(root, 'c1', '.lock', 'x'), '');
      symlinkSync(outside, join(root, 'c1', 'link'));
      store.remove('c1');
      expect(readdirSync(root)).toEqual([]);
      expect(existsSync(join(outside, 'keep'))).toBe(true);
      store.remove('c1'); // already gone: nothing to do
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('refuses a second container with the same id', () => {
    store.create(state());
    expect(() => store.create(state())).toThrow(expect.objectContaining({ code: 'ERR_NS_STATE', message: expect.stringMatching(/^container with given ID already exists: c1 /) }));
  });

  it('refuses ids that are invalid or would escape the root', () => {
    for (const id of ['../x', 'a/b', '.hidden', '', 'x'.repeat(129), '-a']) {
      expect(() => store.dir(id), id).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
      expect(() => store.create(state({ id }))).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG' }));
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it('reports an unknown container as ERR_NS_NOT_FOUND', () => {
    expect(() => store.read('nope')).toThrow(expect.objectContaining({ code: 'ERR_NS_NOT_FOUND', message: 'container nope does not exist' }));
  });

  it('writes atomically: no temporary file is left', () => {
    store.create(state());
    for (let i = 0; i < 10; i++) store.write(state({ annotations: { n: String(i) } }));
    expect(readdirSync(join(root, 'c1'))).toEqual(['state.front', 'state.json']); // and the native front's record
    expect(store.read('c1').annotations).toEqual({ n: '9' });
  });

  it('keeps locks apart from ids: a container named a.lock does not clash with the lock of a (regression)', async () => {
    store.create(state({ id: 'a' }));
    store.create(state({ id: 'a.lock' }));
    await store.withLock('a', () => {
      expect(store.list()).toEqual(['a', 'a.lock']);
    });
    expect(store.read('a.lock').id).toBe('a.lock');
  });

  it('serializes work under the per-container lock', async () => {
    store.create(state());
    const order: string[] = [];
    const slow = (name: string) =>
      store.withLock('c1', async () => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${name}-`);
      });
    await Promise.all([slow('a'), slow('b')]);
    expect(order.join(' ')).toMatch(/^(a\+ a- b\+ b-|b\+ b- a\+ a-)$/);
    expect(readdirSync(join(root, 'c1'))).toEqual(['state.front', 'state.json']); // the lock is gone
  });
});

describe('status', () => {
  it('is running while the recorded pid has the recorded start time', () => {
    expect(currentStatus(state())).toBe('running');
  });
  it('is stopped when the pid was reused (start time differs) or is gone', () => {
    expect(currentStatus(state({ startTime: '1' }))).toBe('stopped');
    expect(currentStatus(state({ pid: 2 ** 22 + 1 }))).toBe('stopped');
  });
  it('a creating state whose creator died reads as stopped (regression: stale states)', () => {
    expect(currentStatus(state({ status: 'creating', pid: 0, creator: { pid: process.pid, startTime: processStartTime(process.pid)! } }))).toBe('creating');
    expect(currentStatus(state({ status: 'creating', pid: 0, creator: { pid: process.pid, startTime: '1' } }))).toBe('stopped');
  });

  it('the OCI state omits the pid once stopped', () => {
    expect(ociState(state())).toMatchObject({ status: 'running', pid: process.pid, id: 'c1', bundle: '/b' });
    expect(ociState(state({ startTime: '1' }))).not.toHaveProperty('pid');
  });
  it('reads field 22 of /proc/PID/stat even when the command name has spaces and parentheses', () => {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(processStartTime(process.pid)).toBe(fields[19]);
    expect(processStartTime(-1)).toBeNull();
  });
});
