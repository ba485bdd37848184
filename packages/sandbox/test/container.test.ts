import { describe, expect, it } from 'vitest';
import { DEFAULT_MOUNTS, rootfsContainer } from '@ns/namespaces';
import { CappedCapture, sandboxContainer, validateLimits } from '../src/index.js';

describe('sandboxContainer', () => {
  const base = rootfsContainer('/srv/rootfs', {
    id: 'x',
    args: ['prog'],
    terminal: true,
    resources: { cpu: { shares: 512 } },
    rlimits: [
      { type: 'RLIMIT_NOFILE', soft: 4096, hard: 4096 },
      { type: 'RLIMIT_NPROC', soft: 10, hard: 10 },
    ],
  });

  it('turns limits into resources and rlimits, replacing the rlimits of the same type', () => {
    const c = sandboxContainer(base, validateLimits({ memoryBytes: 64 << 20, processes: 8, openFiles: 32, fileSizeBytes: 1000, stackBytes: 1 << 20 }), { id: 'run1', cgroupsPath: '/p/run1/box' });
    expect(c).toMatchObject({ id: 'run1', terminal: false, init: true, cgroupsPath: '/p/run1/box', readonly: true, args: ['prog'] });
    // The init (on by default) takes one pid of its own: the program gets all 8.
    expect(c.resources).toMatchObject({ cpu: { shares: 512 }, memory: { limit: 64 << 20 }, pids: { limit: 9 } });
    expect(c.rlimits).toEqual([
      { type: 'RLIMIT_NPROC', soft: 10, hard: 10 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
      { type: 'RLIMIT_NOFILE', soft: 32, hard: 32 },
      { type: 'RLIMIT_FSIZE', soft: 1000, hard: 1000 },
      { type: 'RLIMIT_STACK', soft: 1 << 20, hard: 1 << 20 },
    ]);
    expect(base.rlimits).toHaveLength(2); // the caller's config is not changed
  });

  it('the init: on unless the run or the config says no; without it pids.max is the processes limit', () => {
    const limits = validateLimits({ processes: 8 });
    const off = sandboxContainer(base, limits, { id: 'r', cgroupsPath: '/p/r/box', init: false });
    expect(off).toMatchObject({ init: false, resources: { pids: { limit: 8 } } });
    expect(sandboxContainer({ ...base, init: false }, limits, { id: 'r', cgroupsPath: '/p/r/box' })).toMatchObject({ init: false, resources: { pids: { limit: 8 } } });
    expect(sandboxContainer({ ...base, init: false }, limits, { id: 'r', cgroupsPath: '/p/r/box', init: true })).toMatchObject({ init: true, resources: { pids: { limit: 9 } } });
  });

  it('a fresh tmpfs on each writable path, sized by the memory limit or the option', () => {
    const c = sandboxContainer(base, validateLimits({ memoryBytes: 32 << 20 }), { id: 'r', cgroupsPath: '/p/r/box' });
    expect(c.mounts!.slice(0, DEFAULT_MOUNTS.length)).toEqual(base.mounts);
    expect(c.mounts!.slice(DEFAULT_MOUNTS.length)).toEqual([{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${32 << 20}`] }]);
    const d = sandboxContainer(base, validateLimits({}), { id: 'r', cgroupsPath: '/p/r/box', layer: { writable: ['/box', '/tmp'], writableBytes: 4096 } });
    expect(d.mounts!.slice(DEFAULT_MOUNTS.length).map((m) => [m.destination, m.options!.at(-1)])).toEqual([
      ['/box', 'size=4096'],
      ['/tmp', 'size=4096'],
    ]);
    const overlay = sandboxContainer(base, validateLimits({ memoryBytes: 32 << 20 }), { id: 'r', cgroupsPath: '/p/r/box', layer: { overlay: true } });
    expect(overlay).toMatchObject({ readonly: false, rootfsOverlay: { sizeBytes: 32 << 20 } });
    expect(overlay.mounts).toEqual(base.mounts); // no tmpfs: the whole root is the layer
    expect(sandboxContainer(base, validateLimits({}), { id: 'r', cgroupsPath: '/p/r/box', layer: { overlay: true, writableBytes: 8192 } }).rootfsOverlay).toEqual({ sizeBytes: 8192 });
    expect(sandboxContainer(base, validateLimits({}), { id: 'r', cgroupsPath: '/p/r/box', layer: { overlay: true } }).rootfsOverlay).toEqual({});
    const keep = sandboxContainer(base, validateLimits({}), { id: 'r', cgroupsPath: '/p/r/box', layer: { keepRootfs: true } });
    expect(keep.readonly).toBe(base.readonly);
    expect(keep.mounts).toEqual(base.mounts);
  });
});

describe('CappedCapture', () => {
  it('keeps up to the cap, flags and calls back once', () => {
    let overflows = 0;
    const cap = new CappedCapture(5, () => overflows++);
    cap.push(Buffer.from('abc'));
    expect(cap.truncated).toBe(false);
    cap.push(Buffer.from('defg'));
    cap.push(Buffer.from('hij'));
    expect(cap.data().toString()).toBe('abcde');
    expect(cap.truncated).toBe(true);
    expect(overflows).toBe(1);
  });

  it('exactly the cap is not truncated; a cap of 0 keeps nothing', () => {
    const exact = new CappedCapture(3, () => {});
    exact.push(Buffer.from('abc'));
    expect(exact.truncated).toBe(false);
    const none = new CappedCapture(0, () => {});
    none.push(Buffer.from('a'));
    expect(none.truncated).toBe(true);
    expect(none.data().length).toBe(0);
  });
});
