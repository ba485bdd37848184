import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { layoutFromMountInfo } from '../src/layout.js';
import { allDirs, cgroupDirs, resolveCgroupPath } from '../src/path.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const config = (jsonPath: string) => expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath });

describe('resolveCgroupPath', () => {
  it('unset or empty: <parent>/ns/<id>', () => {
    expect(resolveCgroupPath(undefined, { id: 'web1' })).toBe('/ns/web1');
    expect(resolveCgroupPath('', { id: 'web1', parent: '/runtime' })).toBe('/runtime/ns/web1');
  });
  it('relative: under the parent, . and .. folded', () => {
    expect(resolveCgroupPath('a/b', { parent: '/rt' })).toBe('/rt/a/b');
    expect(resolveCgroupPath('a/../b/./c', { parent: '/rt/' })).toBe('/rt/b/c');
    expect(resolveCgroupPath('a//b')).toBe('/a/b');
  });
  it('absolute: from the top of each mount, ignoring the parent', () => {
    expect(resolveCgroupPath('/myRuntime/myContainer', { parent: '/rt' })).toBe('/myRuntime/myContainer');
    expect(resolveCgroupPath('/a/../b')).toBe('/b');
  });
  it('refuses .. that leaves the parent, or climbs above the root', () => {
    expect(() => resolveCgroupPath('../escape', { parent: '/rt' })).toThrow(config('linux.cgroupsPath'));
    expect(() => resolveCgroupPath('a/../../x', { parent: '/rt' })).toThrow(/leaves the runtime's parent cgroup \/rt/);
    expect(() => resolveCgroupPath('/../x')).toThrow(/climbs above the cgroup root/);
  });
  it('refuses a newline in a cgroup name (the kernel would: EINVAL), naming the field', () => {
    expect(() => resolveCgroupPath('/a\nb')).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', jsonPath: 'linux.cgroupsPath', message: expect.stringMatching(/cannot hold a newline/) }));
    expect(() => resolveCgroupPath(undefined, { id: 'a\nb' })).toThrow(config('id'));
  });
  it('refuses the parent itself and the root cgroup', () => {
    expect(() => resolveCgroupPath('.', { parent: '/rt' })).toThrow(/names the runtime's parent cgroup \/rt itself/);
    expect(() => resolveCgroupPath('a/..', { parent: '/rt' })).toThrow(config('linux.cgroupsPath'));
    expect(() => resolveCgroupPath('/')).toThrow(/root cgroup/);
    expect(() => resolveCgroupPath('/a/..')).toThrow(/root cgroup/);
  });
  it('needs a one-segment id for the default, and an absolute parent', () => {
    expect(() => resolveCgroupPath(undefined)).toThrow(config('id'));
    expect(() => resolveCgroupPath(undefined, { id: 'a/b' })).toThrow(config('id'));
    expect(() => resolveCgroupPath(undefined, { id: '..' })).toThrow(config('id'));
    expect(() => resolveCgroupPath('x', { parent: 'rel' })).toThrow(config('parent'));
    expect(() => resolveCgroupPath('x', { parent: '/../x' })).toThrow(config('parent'));
  });
});

describe('cgroupDirs', () => {
  it('v1: one directory per controller, co-mounted ones shared; no named hierarchies', () => {
    const dirs = cgroupDirs(layoutFromMountInfo(fixture('mountinfo-v1.txt')), '/ns/a');
    expect(dirs.v1.memory).toBe('/sys/fs/cgroup/memory/ns/a');
    expect(dirs.v1.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct/ns/a');
    expect(dirs.v1.cpuacct).toBe('/sys/fs/cgroup/cpu,cpuacct/ns/a');
    expect(dirs.unified).toBeUndefined();
    expect(allDirs(dirs)).not.toContain('/sys/fs/cgroup/systemd/ns/a');
    expect(allDirs(dirs).filter((d) => d.includes('cpu,cpuacct'))).toHaveLength(1);
  });
  it('hybrid: the v1 directories and the cgroup2 one', () => {
    const dirs = cgroupDirs(layoutFromMountInfo(fixture('mountinfo-hybrid.txt'), ['hugetlb']), '/ns/a');
    expect(dirs.unified).toBe('/sys/fs/cgroup/unified/ns/a');
    expect(dirs.v1.cpu).toBe('/sys/fs/cgroup/cpu/ns/a');
    expect(dirs.v1.cpuacct).toBe('/sys/fs/cgroup/cpuacct/ns/a');
    expect(allDirs(dirs).at(-1)).toBe('/sys/fs/cgroup/unified/ns/a');
  });
  it('v2: one directory', () => {
    const dirs = cgroupDirs(layoutFromMountInfo(fixture('mountinfo-v2.txt'), ['memory']), '/ns/a');
    expect(allDirs(dirs)).toEqual(['/sys/fs/cgroup/ns/a']);
  });
});
