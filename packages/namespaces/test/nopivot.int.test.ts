// noPivotRoot on real containers (as root), in a user namespace: the host's procfs and sysfs
// mounts are locked there, so they are covered with a tmpfs instead of detached (runc's
// msMoveRoot), and the container still runs with its rootfs as / (the CLI's test covers the
// rest: packages/cli/test/nopivot.int.test.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACES, rootfsContainer } from '../src/index.js';
import { ROOTFS, hostMounts, isRoot, run } from './helpers.js';

describe.skipIf(!isRoot || !ROOTFS)('noPivotRoot (as root)', () => {
  it('in a user namespace: runs, its rootfs as /, the host untouched', async () => {
    const before = hostMounts();
    const map = [{ containerID: 0, hostID: 400000, size: 65536 }];
    const c = rootfsContainer(ROOTFS, {
      args: ['/bin/sh', '-c', 'id -u; ls -d /bin /etc; readlink /proc/1/root; cd -P /../..; ls -d /work 2>&1 | grep -c "No such"'],
      noPivotRoot: true,
      namespaces: [...DEFAULT_NAMESPACES, { type: 'user' }],
      uidMappings: map,
      gidMappings: map,
    });
    const r = await run(c);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\n/bin\n/etc\n/\n1\n');
    expect(hostMounts()).toEqual(before);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toMatch(/ \/proc /);
  });
});
