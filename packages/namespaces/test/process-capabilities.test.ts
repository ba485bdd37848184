// addProcessCapabilities: runc exec's --cap on a container's sets (pure: no bounding limit).
import { describe, expect, it } from 'vitest';
import { addProcessCapabilities, rootfsContainer, type Container } from '../src/index.js';

const base = (o: Partial<Container> = {}): Container => rootfsContainer('/srv/box', { capabilitySets: { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'] }, ...o });
const opts = { bounding: null, lastCap: 40 };

describe('addProcessCapabilities (runc exec --cap)', () => {
  it('adds to bounding, effective and permitted; ambient only where inheritable has it', () => {
    const c = addProcessCapabilities(base(), ['net_admin', 'CAP_SYS_ADMIN'], opts);
    expect(c.capabilitySets).toEqual({
      bounding: ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'],
      effective: ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'],
      permitted: ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'],
      inheritable: [],
      ambient: [],
    });
    const withInh = addProcessCapabilities(base({ capabilitySets: { bounding: ['CAP_CHOWN'], inheritable: ['CAP_NET_ADMIN'] } }), ['NET_ADMIN', 'SYS_ADMIN'], opts);
    expect(withInh.capabilitySets?.ambient).toEqual(['CAP_NET_ADMIN']);
  });

  it('keeps the default seccomp profile as the container\'s capabilities made it', () => {
    const c = addProcessCapabilities(base({ seccomp: 'default' }), ['SYS_ADMIN'], opts);
    expect(typeof c.seccomp).toBe('object');
    const names = (c.seccomp as { syscalls?: { names: string[]; action: string }[] }).syscalls!.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
    expect(names).not.toContain('mount'); // allowed by moby's profile only with CAP_SYS_ADMIN
  });

  it('refuses ALL, unknown names and one outside the bounding limit; warns for one the kernel lacks', () => {
    expect(() => addProcessCapabilities(base(), ['ALL'], opts)).toThrow(/^--cap ALL: /);
    expect(() => addProcessCapabilities(base(), ['NOPE'], opts)).toThrow(/^--cap: unknown capability "NOPE"/);
    expect(() => addProcessCapabilities(base(), ['SYS_ADMIN'], { bounding: 1n, lastCap: 40 })).toThrow(/^--cap CAP_SYS_ADMIN: not in the bounding set/);
    const warnings: string[] = [];
    const c = addProcessCapabilities(base(), ['CAP_BPF'], { bounding: null, lastCap: 37, warnings });
    expect(warnings).toEqual([expect.stringMatching(/^--cap: CAP_BPF is not known to the running kernel/)]);
    expect(c.capabilitySets?.bounding).toEqual(['CAP_CHOWN']);
  });
});
