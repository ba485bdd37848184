// linux.timeOffsets and a new time namespace: checks naming the JSON path and the plan's
// unshare / timens_offsets / fork (no root needed). Real containers: timens.int.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLONE } from '@ns/syscalls';
import { DEFAULT_NAMESPACES, fromOciSpec, planContainer, rootfsContainer, type Container, type NsError } from '../src/index.js';

let rootfs: string;
beforeAll(() => {
  rootfs = mkdtempSync(join(tmpdir(), 'ns-time-offsets-'));
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
});
afterAll(() => rmSync(rootfs, { recursive: true, force: true }));

const rc = (o: Partial<Container>) => rootfsContainer(rootfs, { id: 'timens', args: ['/bin/true'], ...o });
const withTime = (o: Partial<Container> = {}) => rc({ namespaces: [...DEFAULT_NAMESPACES, { type: 'time' }], ...o });

describe('a time namespace of the container\'s own', () => {
  it('is unshared with the others, its offsets written, then forked into (with the new pid namespace), before stdio', () => {
    const { plan } = planContainer(withTime({ timeOffsets: { boottime: { secs: 10 }, monotonic: { secs: -3, nanosecs: 7 } } }));
    expect(plan.cloneFlags & CLONE.NEWPID).toBe(0);
    const ops = plan.steps.map((s) => s.op);
    const unshare = plan.steps[ops.indexOf('unshare')]!;
    expect(unshare).toMatchObject({ op: 'unshare' });
    const flags = (unshare as { flags: number }).flags;
    for (const f of [CLONE.NEWTIME, CLONE.NEWPID, CLONE.NEWNS, CLONE.NEWUTS]) expect(flags & f).toBe(f);
    expect(plan.steps[ops.indexOf('unshare') + 1]).toEqual({ op: 'writeFile', path: '/proc/self/timens_offsets', data: 'monotonic -3 7\nboottime 10 0\n' });
    expect(ops[ops.indexOf('unshare') + 2]).toBe('cloneParent');
    expect(ops.indexOf('cloneParent')).toBeLessThan(ops.indexOf('stdio'));
    expect(ops.filter((op) => op === 'unshare')).toHaveLength(1);
  });

  it('without offsets: no write; without a pid namespace of its own: the fork still', () => {
    const { plan } = planContainer(withTime({ hostname: '', namespaces: [{ type: 'mount' }, { type: 'time' }] }));
    const ops = plan.steps.map((s) => s.op);
    expect(ops.slice(ops.indexOf('unshare'), ops.indexOf('unshare') + 2)).toEqual(['unshare', 'cloneParent']);
    expect(plan.steps.some((s) => s.op === 'writeFile' && s.path.includes('timens'))).toBe(false);
  });

  it('without a time namespace the plan is as before: clone makes the pid namespace, no fork', () => {
    const { plan } = planContainer(rc({}));
    expect(plan.cloneFlags & CLONE.NEWPID).toBe(CLONE.NEWPID);
    expect(plan.steps.some((s) => s.op === 'cloneParent')).toBe(false);
  });

  const spec = (linux: Record<string, unknown>) => ({ ociVersion: '1.2.0', process: { args: ['true'], cwd: '/' }, root: { path: rootfs }, linux: { namespaces: [{ type: 'mount' }, { type: 'time' }], ...linux } });
  const bad: [string, () => Record<string, unknown>, RegExp][] = [
    ['linux.timeOffsets.realtime', () => ({ timeOffsets: { realtime: { secs: 1 } } }), /unknown clock \(expected monotonic or boottime\)/],
    ['linux.timeOffsets.boottime.nanosecs', () => ({ timeOffsets: { boottime: { secs: 1, nanosecs: 1_000_000_000 } } }), /0\.\.999999999/],
    ['linux.timeOffsets.monotonic.secs', () => ({ timeOffsets: { monotonic: { secs: 2 ** 53 } } }), /expected an integer within/],
    ['linux.timeOffsets', () => ({ namespaces: [{ type: 'mount' }], timeOffsets: { monotonic: { secs: 1 } } }), /offsets need a new time namespace/],
    ['linux.timeOffsets', () => ({ namespaces: [{ type: 'mount' }, { type: 'time', path: '/proc/1/ns/time' }], timeOffsets: { monotonic: { secs: 1 } } }), /joined by path \(namespaces\[1\]\)/],
  ];
  it.each(bad)('%s: refused naming the JSON path', (path, linux, message) => {
    let err: NsError | undefined;
    try {
      fromOciSpec(spec(linux()), { bundle: '/b', id: 'x' });
    } catch (e) {
      err = e as NsError;
    }
    expect(err).toMatchObject({ code: 'ERR_NS_CONFIG', path });
    expect(err!.message.startsWith(`config.json: ${path}: `)).toBe(true);
    expect(err!.message).toMatch(message);
  });
});
