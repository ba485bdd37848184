// The host's mount table as the integration tests compare it before and after a run (shared
// by the packages' tests; not a test itself). While the suite runs, the client tests' daemons
// (podman, containerd, containerd's CRI in cri.int.test.ts) mount and unmount in their own
// folders under the temporary directory, and CNI pins pod network namespaces under
// /run/netns/cni-*: none of that is made by ns, and those tests check their folders themselves,
// so the other tests leave it out of what they compare.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const escaped = tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Mount points of the client tests' daemons (their `ns-podman-`, `ns-ctr-`, `ns-cri-` folders) and of CNI. */
export const CLIENT_MOUNTS = new RegExp(`^(${escaped}/ns-(podman|ctr|cri)-|/run/netns/cni-)`);

/**
 * The mount points of this process's mount namespace (field 5 of /proc/self/mountinfo), sorted,
 * without those of {@link CLIENT_MOUNTS}.
 * @returns {string[]}
 */
export function hostMountPoints() {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4])
    .filter((m) => !CLIENT_MOUNTS.test(m))
    .sort();
}
