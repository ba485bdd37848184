import { native } from './native.js';

/** NETLINK_ROUTE, the rtnetlink(7) protocol. */
export const NETLINK_ROUTE = 0;

/**
 * Send `request` (one or more netlink messages, built by the caller; each must ask for an
 * acknowledgement with NLM_F_ACK, or be a dump) on a fresh AF_NETLINK socket of `protocol` and
 * return every reply message, concatenated, once each request's sequence number has had its
 * NLMSG_ERROR (ack or error) or NLMSG_DONE. With `netnsFd` (a descriptor of a network
 * namespace, e.g. /proc/PID/ns/net) the socket is made in that namespace (setns(2) on the
 * calling thread around socket(2) only) and talks to it. A raw call: encoding, and reading the
 * kernel's errors out of the replies, are the caller's.
 *
 * @throws NsError with the errno's name for socket(2), setns(2), sendto(2) and recv(2) failures
 *   (`EAGAIN` after 5 s without an answer); TypeError `ERR_NS_PLAN` for a malformed request.
 * @see netlink(7), rtnetlink(7)
 */
export function netlinkRequest(request: Buffer, options: { protocol?: number; netnsFd?: number } = {}): Buffer {
  return native().netlinkRequest(options.protocol ?? NETLINK_ROUTE, request, options.netnsFd ?? -1);
}
