// Id-mapped mounts: which mounts are id-mapped and with which mappings, and the config errors,
// each naming its field (config/idmap-mounts.ts). No root needed but for the last case.
import { describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACES, runtimeFeatures } from '../src/index.js';
import { mountIdmap } from '../src/config/idmap-mounts.js';
import { parseMountOptions } from '../src/config/mountopts.js';

const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];
const noUserns = { namespaces: DEFAULT_NAMESPACES };
const userns = { namespaces: [...DEFAULT_NAMESPACES, { type: 'user' as const }], uidMappings: MAP, gidMappings: MAP };
const bind = (more: object = {}) => ({ destination: '/mnt', type: 'bind', source: '/tmp', options: ['bind', 'idmap'], ...more });
const isRoot = process.getuid?.() === 0;

function fieldOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return `${(err as { code?: string }).code} ${(err as { path?: string }).path}: ${(err as Error).message}`;
  }
  return undefined;
}

describe('id-mapped mounts: config errors name the field', () => {
  it('a mount that is not id-mapped is null; idmap and ridmap are no file-system data', () => {
    expect(mountIdmap(noUserns, { destination: '/mnt', type: 'bind', source: '/tmp', options: ['bind'] }, 0)).toBeNull();
    expect(parseMountOptions(['bind', 'idmap', 'ridmap', 'ro']).data).toBeNull();
  });

  it('only one of uidMappings and gidMappings', () => {
    expect(fieldOf(() => mountIdmap(noUserns, bind({ uidMappings: MAP }), 2))).toMatch(/^ERR_NS_CONFIG mounts\[2\]\.gidMappings: mounts\[2\]\.gidMappings: an id-mapped mount needs both uidMappings and gidMappings/);
    expect(fieldOf(() => mountIdmap(noUserns, bind({ gidMappings: MAP }), 0))).toMatch(/^ERR_NS_CONFIG mounts\[0\]\.uidMappings: /);
  });

  it('a bad mapping: zero size, overlapping, not a list', () => {
    expect(fieldOf(() => mountIdmap(noUserns, bind({ uidMappings: [{ containerID: 0, hostID: 1, size: 0 }], gidMappings: MAP }), 1))).toMatch(/^ERR_NS_CONFIG mounts\[1\]\.uidMappings\[0\]: mounts\[1\]\.uidMappings\[0\]: expected \{containerID, hostID, size\}/);
    const overlap = [...MAP, { containerID: 10, hostID: 5, size: 1 }];
    expect(fieldOf(() => mountIdmap(noUserns, bind({ uidMappings: MAP, gidMappings: overlap }), 1))).toMatch(/^ERR_NS_CONFIG mounts\[1\]\.gidMappings\[1\]: mounts\[1\]\.gidMappings\[1\]: overlaps mounts\[1\]\.gidMappings\[0\]/);
    expect(fieldOf(() => mountIdmap(noUserns, bind({ uidMappings: 'x', gidMappings: MAP }), 1))).toMatch(/^ERR_NS_CONFIG mounts\[1\]\.uidMappings: /);
  });

  it('idmap on a mount that is not a bind mount', () => {
    expect(fieldOf(() => mountIdmap(noUserns, { destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['idmap'], uidMappings: MAP, gidMappings: MAP }, 3))).toMatch(
      /^ERR_NS_CONFIG mounts\[3\]\.options\[0\]: mounts\[3\]\.options\[0\]: id-mapped mounts are made of bind mounts only/,
    );
  });

  it.skipIf(!isRoot)('idmap without mappings: the container\'s user namespace mappings, else an error (config.md MUST)', () => {
    expect(fieldOf(() => mountIdmap(noUserns, bind(), 4))).toMatch(/^ERR_NS_CONFIG mounts\[4\]\.options\[1\]: mounts\[4\]\.options\[1\]: idmap needs the mount's uidMappings and gidMappings, or a user namespace of the container's own/);
    expect(mountIdmap(userns, bind({ options: ['rbind', 'ridmap'] }), 0)).toEqual({ uidMappings: MAP, gidMappings: MAP, recursive: true });
    // Empty lists are as absent (config.md allows them with [r]idmap).
    expect(mountIdmap(userns, bind({ uidMappings: [], gidMappings: [] }), 0)).toEqual({ uidMappings: MAP, gidMappings: MAP, recursive: false });
    // The mount's own mappings win, and mappings without the option make it id-mapped (as runc).
    const own = [{ containerID: 0, hostID: 5000, size: 10 }];
    expect(mountIdmap(userns, bind({ options: ['bind'], uidMappings: own, gidMappings: own }), 0)).toEqual({ uidMappings: own, gidMappings: own, recursive: false });
  });

  it('features.md says idmap is supported on a kernel with mount_setattr', () => {
    const f = runtimeFeatures();
    expect(f.mountOptions).toEqual(expect.arrayContaining(['idmap', 'ridmap']));
    expect(typeof f.linux.mountExtensions.idmap.enabled).toBe('boolean');
  });
});
