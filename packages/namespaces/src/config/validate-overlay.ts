/**
 * The checks of a Container's `rootfsOverlay` and `noPivotRoot` (validateContainer). `rootfsOverlay`: an object with an optional
 * size, on a container that has a rootfs and a mount namespace of its own, whose rootfs path
 * overlayfs can take as a `lowerdir` option (no `,`, `:` or `\`, which its option syntax uses).
 */
import { configError } from '@ns/syscalls';
import { ownsNamespace, type Container } from './container.js';

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'number' ? String(v) : typeof v);

/**
 * @param c a container whose `rootfs` is resolved already (validateContainer)
 * @throws NsError `ERR_NS_CONFIG` naming `rootfsOverlay` or `rootfsOverlay.sizeBytes`
 */
export function checkRootfsOverlay(c: Pick<Container, 'rootfsOverlay' | 'rootfs' | 'namespaces'>): void {
  const o: unknown = c.rootfsOverlay;
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw configError(`rootfsOverlay: expected an object ({ sizeBytes? }), got ${show(o)}`, 'rootfsOverlay');
  const unknown = Object.keys(o).filter((k) => k !== 'sizeBytes');
  if (unknown.length > 0) throw configError(`rootfsOverlay: unknown field ${JSON.stringify(unknown[0])} (expected sizeBytes)`, `rootfsOverlay.${unknown[0]}`);
  const size = (o as { sizeBytes?: unknown }).sizeBytes;
  if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 4096)) {
    throw configError(`rootfsOverlay.sizeBytes: expected bytes, an integer of at least 4096, got ${show(size)}`, 'rootfsOverlay.sizeBytes');
  }
  if (c.rootfs === null) throw configError('rootfsOverlay: needs a rootfs (the embedded default has a fresh tmpfs root already)', 'rootfsOverlay');
  if (!ownsNamespace(c, 'mount')) throw configError("rootfsOverlay: needs a mount namespace of the container's own", 'rootfsOverlay');
  if (/[,:\\]/.test(c.rootfs)) {
    throw configError(`rootfsOverlay: the rootfs path ${JSON.stringify(c.rootfs)} has a character overlayfs options cannot hold (",", ":" or "\\")`, 'rootfsOverlay');
  }
}

/**
 * `noPivotRoot` (runc's --no-pivot): a boolean, and true only with a mount namespace of the
 * container's own (without one there is no pivot_root to leave out: the process is chroot(2)ed
 * into the rootfs, or has the joined namespace's root).
 * @throws NsError `ERR_NS_CONFIG` naming `noPivotRoot`
 */
export function checkNoPivotRoot(c: Pick<Container, 'noPivotRoot' | 'namespaces'>): void {
  const v: unknown = c.noPivotRoot;
  if (v === undefined || v === false) return;
  if (v !== true) throw configError(`noPivotRoot: expected a boolean, got ${show(v)}`, 'noPivotRoot');
  if (!ownsNamespace(c, 'mount')) throw configError("noPivotRoot: needs a mount namespace of the container's own (without one ns makes no pivot_root: it chroots into the rootfs)", 'noPivotRoot');
}
