import { native } from './native.js';

/**
 * The kind of namespace the open descriptor `fd` refers to, as its CLONE_NEW* flag
 * (CLONE.NEWNET, CLONE.NEWPID ...): ioctl(fd, NS_GET_NSTYPE). `fd` is a descriptor of a
 * namespace file (`/proc/PID/ns/net`, or a bind mount of one such as `ip netns add` makes),
 * opened with O_RDONLY (fs.openSync(path, 'r')).
 *
 * @throws NsError `ENOTTY` (or `EINVAL`) when `fd` is not a namespace file, `EBADF` for a
 *   descriptor that is not open.
 * @see ioctl_ns(2), namespaces(7)
 */
export function namespaceTypeOf(fd: number): number {
  return native().nsType(fd);
}
