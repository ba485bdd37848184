// The edge of a start (src/config/valid.ts): a config is validated once and handed inward as a
// frozen, branded ValidContainer that nothing validates again.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkJoinedNetworks } from '../src/config/network.js';
import { clearPlanCache, planContainerCached } from '../src/plan/cache.js';
import { UNKNOWN_CAPABILITY_WARNING, isValidContainer, planContainer, rootfsContainer, validatedContainer } from '../src/index.js';

let rootfs: string;
beforeAll(() => {
  rootfs = mkdtempSync(join(tmpdir(), 'ns-valid-'));
  for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(rootfs, d));
});
afterAll(() => rmSync(rootfs, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('validatedContainer', () => {
  it('returns a deeply frozen, validated copy, and leaves the input alone', () => {
    const input = rootfsContainer(`${rootfs}/./`, { id: 'v1', args: ['/bin/true'] });
    const v = validatedContainer(input);
    expect(v.rootfs).toBe(rootfs);
    expect(Object.isFrozen(v) && Object.isFrozen(v.args) && Object.isFrozen(v.mounts) && Object.isFrozen(v.mounts![0]!.options)).toBe(true);
    expect(Object.isFrozen(input) || Object.isFrozen(input.args) || Object.isFrozen(input.mounts)).toBe(false);
    expect(v.mounts).not.toBe(input.mounts);
  });

  it('is branded: a ValidContainer is returned as it is, a copy of one is validated again', () => {
    const v = validatedContainer(rootfsContainer(rootfs, { id: 'v2' }));
    expect(isValidContainer(v)).toBe(true);
    expect(validatedContainer(v)).toBe(v);
    const copy = { ...v };
    expect(isValidContainer(copy)).toBe(false);
    expect(validatedContainer(copy)).not.toBe(copy);
    expect(isValidContainer(rootfsContainer(rootfs, { id: 'v3' }))).toBe(false);
  });

  it('warns about an unknown capability once per start, however many stages the config passes', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    clearPlanCache();
    const v = validatedContainer(rootfsContainer(rootfs, { id: 'v4', capabilities: ['CAP_KILL', 'CAP_FOO'] }));
    planContainer(v);
    planContainerCached(v);
    planContainerCached(v);
    expect(warn.mock.calls).toEqual([['capabilities[1]: unknown capability "CAP_FOO", ignored', { code: UNKNOWN_CAPABILITY_WARNING }]]);
    expect(v.capabilities).toEqual(['CAP_KILL']);
  });

  it('adds the rootless user namespace when not root', () => {
    vi.spyOn(process, 'geteuid').mockReturnValue(1000);
    vi.spyOn(process, 'getegid').mockReturnValue(1000);
    const v = validatedContainer(rootfsContainer(rootfs, { id: 'v5' }));
    expect(v.namespaces[0]).toEqual({ type: 'user' });
    expect(v.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(planContainer(v).idMaps).toEqual({ uidMappings: v.uidMappings, gidMappings: v.gidMappings });
  });
});

describe('checkJoinedNetworks (exec() before spawning)', () => {
  const joining = (path: string) => ({ namespaces: [{ type: 'mount' as const }, { type: 'network' as const, path }] });

  it('takes a network namespace file', () => {
    expect(() => checkJoinedNetworks(joining('/proc/self/ns/net'))).not.toThrow();
    expect(() => checkJoinedNetworks({ namespaces: [{ type: 'network' }] })).not.toThrow();
  });

  it('names the field of a file that is missing or not a network namespace', () => {
    expect(() => checkJoinedNetworks(joining('/etc/passwd'))).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'namespaces[1].path', message: 'namespaces[1].path: not a network namespace' }));
    expect(() => checkJoinedNetworks(joining('/proc/self/ns/pid'))).toThrow('namespaces[1].path: not a network namespace (a pid namespace)');
    expect(() => checkJoinedNetworks(joining('/var/run/netns/no-such-ns'))).toThrow(
      expect.objectContaining({ code: 'ERR_NS_NOT_FOUND', message: 'namespaces[1].path: /var/run/netns/no-such-ns: no such network namespace file' }),
    );
  });

  it('is not needed to plan: planContainer shows the plan of a config joining a file that is not there', () => {
    const { plan } = planContainer(rootfsContainer(rootfs, { id: 'v6', hostname: '', ...joining('/var/run/netns/no-such-ns') }));
    expect(plan.steps).toContainEqual({ op: 'setns', path: '/var/run/netns/no-such-ns', nstype: 0x40000000 });
  });
});
