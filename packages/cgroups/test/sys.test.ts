import { describe, expect, it } from 'vitest';
import { Cgroup } from '../src/manager.js';
import { FileWriter } from '../src/sys.js';
import { FakeSys } from './helpers/fake-sys.js';
import { fakeV1 } from './helpers/fake-tree.js';

/** A FakeSys with openWriter: logs each open and close, writes through writeFile (its fail hook). */
function withWriter(sys: FakeSys): { opens: string[]; closes: string[] } {
  const opens: string[] = [];
  const closes: string[] = [];
  Object.assign(sys, {
    openWriter(path: string) {
      if (!sys.files.has(path)) throw Object.assign(new Error(`ENOENT: open '${path}'`), { code: 'ENOENT' });
      opens.push(path);
      return { write: (value: string) => sys.writeFile(path, value), close: () => void closes.push(path) };
    },
  });
  return { opens, closes };
}

describe('FileWriter', () => {
  it('writes a run of values into one file through one descriptor, one write each', () => {
    const { sys, layout } = fakeV1();
    const { opens, closes } = withWriter(sys);
    Cgroup.create('/t/a', { memory: { limit: 1 << 25 } }, { layout, sys, hierarchies: 'needed' });
    const allows = sys.writes().filter(([p]) => p.endsWith('/devices.allow'));
    expect(allows.length).toBeGreaterThan(5); // runc's default allow list, one rule per write
    expect(opens.filter((p) => p.endsWith('/devices.allow'))).toEqual(['/fake/devices/t/a/devices.allow']);
    expect([...closes].sort()).toEqual([...opens].sort());
  });

  it('a refused rule fails naming it, closes the descriptor, and the cgroup is removed', () => {
    const { sys, layout } = fakeV1();
    const { opens, closes } = withWriter(sys);
    sys.fail = (path, value) => (path.endsWith('devices.allow') && value.startsWith('c 1:5 ') ? 'EINVAL' : undefined);
    expect(() => Cgroup.create('/t/b', {}, { layout, sys, hierarchies: 'needed' })).toThrow(/c 1:5 /);
    expect([...closes].sort()).toEqual([...opens].sort());
    expect([...sys.dirs].filter((d) => d.endsWith('/t/b'))).toEqual([]);
  });

  it('without openWriter, writeFile each value', () => {
    const sys = new FakeSys({ '/x/f': '', '/x/g': '' });
    const w = new FileWriter(sys);
    w.write('/x/f', '1');
    w.write('/x/f', '2');
    w.write('/x/g', '3');
    w.close();
    expect(sys.writes()).toEqual([
      ['/x/f', '1'],
      ['/x/f', '2'],
      ['/x/g', '3'],
    ]);
  });
});

describe('destroy() of a cgroup a pause never froze (v1, hierarchies: needed)', () => {
  it('asks whether a freezer cgroup exists instead of an rmdir that fails ENOENT (an exception per start in Node)', async () => {
    const { sys, layout } = fakeV1();
    const cg = Cgroup.create('/t/c', { pids: { limit: 8 } }, { layout, sys, hierarchies: 'needed' });
    expect(cg.dirs.v1.freezer).toBeUndefined();
    const rmdirs: string[] = []; // every attempt, failed ones too
    const rmdir = sys.rmdir.bind(sys);
    sys.rmdir = (path: string) => {
      rmdirs.push(path);
      rmdir(path);
    };
    await cg.destroy();
    expect(rmdirs.some((d) => d.includes('/freezer/'))).toBe(false);
    expect(rmdirs.length).toBeGreaterThan(0);
    // A freezer cgroup that a pause elsewhere made is still removed.
    const again = Cgroup.create('/t/d', { pids: { limit: 8 } }, { layout, sys, hierarchies: 'needed' });
    sys.addDir('/fake/freezer/t/d');
    await again.destroy();
    expect(sys.dirs.has('/fake/freezer/t/d')).toBe(false);
  });
});
