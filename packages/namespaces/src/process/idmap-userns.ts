/**
 * The user namespaces of id-mapped mounts (mount_setattr(2) MOUNT_ATTR_IDMAP takes the mapping
 * as a user namespace descriptor): made as runc's userns.Handles makes them, by a short-lived
 * child that unshares a user namespace, whose uid_map and gid_map the parent writes and whose
 * /proc/PID/ns/user it opens before killing it. The descriptor keeps the namespace alive.
 */
import { closeSync, openSync } from 'node:fs';
import { CLONE, NsError, PR, native, spawn, type IdmapOpenStep, type Plan, type Step } from '@ns/syscalls';
import type { IdMapping } from '../config/idmap.js';
import { writeIdMaps } from './idmap.js';

const HOLD = 'idmap-userns';

/** Thrown from onSync once the descriptor is open: spawn() then kills and reaps the child. */
class Opened extends Error {
  constructor(readonly fd: number) {
    super('user namespace opened');
  }
}

/**
 * A descriptor (O_RDONLY, close-on-exec) of a new user namespace with these mappings, owned by
 * the caller's user namespace. Needs root (writing a uid_map of other ids than one's own).
 * @throws NsError the errno of the failed clone, unshare or write (`write /proc/PID/uid_map: EPERM`)
 * @see user_namespaces(7), runc libcontainer/internal/userns/usernsfd_linux.go
 */
export function openMappedUserns(uidMappings: readonly IdMapping[], gidMappings: readonly IdMapping[]): number {
  const plan: Plan = {
    cloneFlags: 0,
    steps: [
      { op: 'unshare', flags: CLONE.NEWUSER },
      // ns-init is non-dumpable: its /proc files are root's, the namespace's the same.
      { op: 'prctl', option: PR.SET_DUMPABLE, arg2: 1, arg3: 0, arg4: 0, arg5: 0 },
      { op: 'sync', name: HOLD },
      { op: 'execve', paths: ['/'], argv: ['/'], envp: [] },
    ],
  };
  try {
    spawn(plan, {
      onSync: (_step, _index, pid) => {
        writeIdMaps(pid, uidMappings, gidMappings);
        throw new Opened(openSync(`/proc/${pid}/ns/user`, 'r'));
      },
    });
  } catch (err) {
    if (err instanceof Opened) return err.fd;
    throw err;
  }
  throw new NsError('ERR_NS_CHILD_DIED', 'the helper for an id-mapped mount ran past its sync step');
}

/** A close-on-exec duplicate of `fd` numbered `floor` or above. */
function dupAbove(fd: number, floor: number): number {
  const low: number[] = [];
  try {
    let out = native().dup(fd);
    while (out < floor) {
      low.push(out);
      out = native().dup(fd);
    }
    return out;
  } finally {
    for (const l of low) closeSync(l);
  }
}

/** The mappings of an idmapOpen step as a key (the order of entries does not matter to the kernel). */
function mappingKey(s: IdmapOpenStep): string {
  const list = (m: readonly IdMapping[]) => m.map((x) => `${x.containerID}:${x.hostID}:${x.size}`).sort().join(',');
  return `uid=${list(s.uidMappings)};gid=${list(s.gidMappings)}`;
}

/**
 * `steps` with each `idmapOpen` step, and the `idmapMove` step of the same mount (its
 * `field`), given a descriptor of a user namespace with the mount's mappings (one namespace per
 * distinct mapping, a descriptor of its own per mount: the child replaces it with the detached
 * mount). Steps already given one are kept.
 * @returns the steps and the descriptors opened (close-on-exec; the caller closes them once the
 *   child is spawned or the start failed)
 * @throws NsError as {@link openMappedUserns}, every descriptor opened here closed again
 */
export function withIdmapDescriptors(steps: readonly Step[]): { steps: Step[]; fds: number[] } {
  if (!steps.some((s) => s.op === 'idmapOpen' && s.fd < 0)) return { steps: steps as Step[], fds: [] };
  const namespaces = new Map<string, number>();
  const fds: number[] = [];
  // The move step comes after the stdio step, which puts the process's descriptors at 0..n-1:
  // the detached mount must not be among them.
  const stdio = steps.find((s) => s.op === 'stdio');
  const floor = stdio?.op === 'stdio' ? stdio.fds.length : 3;
  const byField = new Map<string | undefined, number>();
  try {
    const out = steps.map((s): Step => {
      if (s.op !== 'idmapOpen' || s.fd >= 0) return s;
      const key = mappingKey(s);
      let ns = namespaces.get(key);
      if (ns === undefined) {
        ns = openMappedUserns(s.uidMappings, s.gidMappings);
        namespaces.set(key, ns);
      }
      const fd = dupAbove(ns, floor);
      fds.push(fd);
      byField.set(s.field, fd);
      return { ...s, fd };
    });
    return {
      steps: out.map((s) => (s.op === 'idmapMove' && s.fd < 0 && byField.has(s.field) ? { ...s, fd: byField.get(s.field)! } : s)),
      fds,
    };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  } finally {
    for (const fd of namespaces.values()) closeSync(fd);
  }
}
