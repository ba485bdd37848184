// noPivotRoot (runc's --no-pivot): its check, and the host mounts it takes away (pure parts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pseudoMountsToDetach } from '../src/plan/nopivot.js';
import { rootfsContainer, validateContainer } from '../src/index.js';

const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw',
  '24 22 0:22 / /sys rw,nosuid shared:2 - sysfs sysfs rw',
  '25 23 0:23 / /proc/sys/fs/binfmt_misc rw shared:13 - autofs systemd-1 rw',
  '26 22 0:21 /sys /mnt/procsys rw - proc proc rw',
  '27 22 0:24 / /srv/box/proc rw - proc proc rw',
  '28 22 0:25 / /tmp/x rw - sysfs sysfs rw',
  '29 22 0:26 / /with\\040space rw - proc proc rw',
].join('\n');

describe('noPivotRoot', () => {
  const rootfs = mkdtempSync(join(tmpdir(), 'ns-nopivot-'));
  afterAll(() => rmSync(rootfs, { recursive: true, force: true }));
  it('detaches the full procfs and sysfs mounts outside the rootfs and the staging, in mountinfo order', () => {
    expect(pseudoMountsToDetach(MOUNTINFO, '/srv/box')).toEqual(['/proc', '/sys', '/with space']);
    expect(pseudoMountsToDetach(MOUNTINFO, null)).toEqual(['/proc', '/sys', '/srv/box/proc', '/with space']);
  });

  it('is refused without a mount namespace of the container\'s own, and when not a boolean', () => {
    const c = rootfsContainer(rootfs, { noPivotRoot: true, namespaces: [{ type: 'pid' }], mounts: [], maskedPaths: [], readonlyPaths: [], hostname: '' });
    expect(() => validateContainer(c)).toThrow(/^noPivotRoot: needs a mount namespace of the container's own/);
    expect(() => validateContainer(rootfsContainer(rootfs, { noPivotRoot: 1 as unknown as boolean }))).toThrow(/^noPivotRoot: expected a boolean, got 1/);
    expect(() => validateContainer(rootfsContainer(rootfs, { noPivotRoot: true }))).not.toThrow();
  });
});
