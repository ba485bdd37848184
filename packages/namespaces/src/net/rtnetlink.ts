/**
 * rtnetlink(7) messages, built and read in TypeScript: links (bridge, veth pair, up, master),
 * IPv4 addresses and routes. The native side only sends the bytes and collects the replies
 * (netlinkRequest in @ns/syscalls). Layouts from <linux/netlink.h>, <linux/rtnetlink.h>,
 * <linux/if_link.h>, <linux/veth.h>; integers in host byte order (little-endian machines),
 * addresses in network order.
 */
import { NsError, errnoName } from '@ns/syscalls';

export const RTM = { NEWLINK: 16, DELLINK: 17, GETLINK: 18, NEWADDR: 20, NEWROUTE: 24 } as const;
export const NLM_F = { REQUEST: 0x1, ACK: 0x4, EXCL: 0x200, CREATE: 0x400 } as const;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const IFLA = { IFNAME: 3, MASTER: 10, LINKINFO: 18, NET_NS_FD: 28 } as const;
const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
const VETH_INFO_PEER = 1;
const IFA = { ADDRESS: 1, LOCAL: 2 } as const;
const RTA_GATEWAY = 5;
const IFF_UP = 0x1;
const AF_INET = 2;

const align4 = (n: number): number => (n + 3) & ~3;

/** One rtattr: u16 length, u16 type, the payload, padded to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(align4(4 + payload.length));
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

/** A NUL-terminated string attribute payload (IFLA_IFNAME, IFLA_INFO_KIND). */
export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** An IPv4 address as its 4 bytes, network order. @throws NsError ERR_NS_CONFIG for a bad one */
export function ipv4(address: string): Buffer {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new NsError('ERR_NS_CONFIG', `${JSON.stringify(address)}: not an IPv4 address`);
  }
  return Buffer.from(parts);
}

/** struct ifinfomsg: u8 family, u8 pad, u16 type, i32 index, u32 flags, u32 change. */
export function ifinfomsg(index = 0, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/** A netlink message: struct nlmsghdr (u32 len, u16 type, u16 flags, u32 seq, u32 pid) then `body`. */
export function nlmsg(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([h, body, Buffer.alloc(align4(body.length) - body.length)]);
}

const ASK = NLM_F.REQUEST | NLM_F.ACK;
const MAKE = ASK | NLM_F.CREATE | NLM_F.EXCL;

/** RTM_NEWLINK of a bridge named `name` (`ip link add NAME type bridge`). */
export function newBridge(seq: number, name: string): Buffer {
  return nlmsg(RTM.NEWLINK, MAKE, seq, Buffer.concat([ifinfomsg(), attr(IFLA.IFNAME, cstr(name)), attr(IFLA.LINKINFO, attr(IFLA_INFO.KIND, cstr('bridge')))]));
}

/**
 * RTM_NEWLINK of a veth pair: `host` here, `peer` made directly in the network namespace of
 * `peerNetnsFd` (IFLA_NET_NS_FD on the peer: `ip link add H type veth peer name P netns N`).
 */
export function newVeth(seq: number, host: string, peer: string, peerNetnsFd: number): Buffer {
  const peerInfo = Buffer.concat([ifinfomsg(), attr(IFLA.IFNAME, cstr(peer)), attr(IFLA.NET_NS_FD, u32(peerNetnsFd))]);
  const info = Buffer.concat([attr(IFLA_INFO.KIND, cstr('veth')), attr(IFLA_INFO.DATA, attr(VETH_INFO_PEER, peerInfo))]);
  return nlmsg(RTM.NEWLINK, MAKE, seq, Buffer.concat([ifinfomsg(), attr(IFLA.IFNAME, cstr(host)), attr(IFLA.LINKINFO, info)]));
}

/** RTM_NEWLINK on an existing link by name: up, and on `master` (an ifindex) when given (`ip link set NAME up master M`). */
export function setLinkUp(seq: number, name: string, master?: number): Buffer {
  const attrs = [attr(IFLA.IFNAME, cstr(name)), ...(master === undefined ? [] : [attr(IFLA.MASTER, u32(master))])];
  return nlmsg(RTM.NEWLINK, ASK, seq, Buffer.concat([ifinfomsg(0, IFF_UP, IFF_UP), ...attrs]));
}

/** RTM_GETLINK of one link by name (the reply's ifinfomsg has its index). */
export function getLink(seq: number, name: string): Buffer {
  return nlmsg(RTM.GETLINK, ASK, seq, Buffer.concat([ifinfomsg(), attr(IFLA.IFNAME, cstr(name))]));
}

/** RTM_DELLINK by name (`ip link del NAME`; a veth's peer goes with it). */
export function delLink(seq: number, name: string): Buffer {
  return nlmsg(RTM.DELLINK, ASK, seq, Buffer.concat([ifinfomsg(), attr(IFLA.IFNAME, cstr(name))]));
}

/** RTM_NEWADDR of `address`/`prefix` on link `index` (`ip addr add A/P dev I`). */
export function newAddr(seq: number, index: number, address: string, prefix: number): Buffer {
  const msg = Buffer.alloc(8);
  msg.writeUInt8(AF_INET, 0);
  msg.writeUInt8(prefix, 1);
  msg.writeUInt32LE(index, 4);
  const ip = ipv4(address);
  return nlmsg(RTM.NEWADDR, MAKE, seq, Buffer.concat([msg, attr(IFA.LOCAL, ip), attr(IFA.ADDRESS, ip)]));
}

/** RTM_NEWROUTE of the default route via `gateway`, main table (`ip route add default via G`). */
export function newDefaultRoute(seq: number, gateway: string): Buffer {
  const rt = Buffer.from([AF_INET, 0, 0, 0, 254 /* RT_TABLE_MAIN */, 3 /* RTPROT_BOOT */, 0 /* RT_SCOPE_UNIVERSE */, 1 /* RTN_UNICAST */, 0, 0, 0, 0]);
  return nlmsg(RTM.NEWROUTE, MAKE, seq, Buffer.concat([rt, attr(RTA_GATEWAY, ipv4(gateway))]));
}

/** One reply message: its type, sequence number and body. */
export interface NlReply {
  type: number;
  seq: number;
  body: Buffer;
}

/** The messages of a reply buffer. */
export function parseReplies(buf: Buffer): NlReply[] {
  const out: NlReply[] = [];
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 4), seq: buf.readUInt32LE(off + 8), body: buf.subarray(off + 16, off + len) });
    off += align4(len);
  }
  return out;
}

/**
 * The kernel's answer to message `seq`: 0 for an ack (or the end of a dump), else the errno
 * (positive) of its NLMSG_ERROR; undefined when there is none.
 */
export function replyErrno(replies: readonly NlReply[], seq: number): number | undefined {
  for (const r of replies) {
    if (r.seq !== seq) continue;
    if (r.type === NLMSG_ERROR) return -r.body.readInt32LE(0) || 0;
    if (r.type === NLMSG_DONE) return 0;
  }
  return undefined;
}

/** The ifindex in the RTM_NEWLINK reply to message `seq` (a getLink), if any. */
export function linkIndex(replies: readonly NlReply[], seq: number): number | undefined {
  const r = replies.find((x) => x.seq === seq && x.type === RTM.NEWLINK);
  return r ? r.body.readInt32LE(4) : undefined;
}

/** The rtattrs of `b` from `off`, as [type, payload]. */
function readAttrs(b: Buffer, off: number): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  while (off + 4 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) break;
    out.push([b.readUInt16LE(off + 2), b.subarray(off + 4, off + len)]);
    off += align4(len);
  }
  return out;
}

/** The kind (IFLA_LINKINFO / IFLA_INFO_KIND: `bridge`, `veth` ...) in the RTM_NEWLINK reply to `seq`; '' for a link without one (a physical device). */
export function linkKind(replies: readonly NlReply[], seq: number): string | undefined {
  const r = replies.find((x) => x.seq === seq && x.type === RTM.NEWLINK);
  if (!r) return undefined;
  const info = readAttrs(r.body, 16).find(([t]) => t === IFLA.LINKINFO)?.[1];
  const kind = info ? readAttrs(info, 0).find(([t]) => t === IFLA_INFO.KIND)?.[1] : undefined;
  return kind ? kind.toString('utf8').replace(/\0+$/, '') : '';
}

/**
 * Throw for a failed message: `<what>: <ERRNO>` with the errno's name as the code
 * (`ip link add ns0 type bridge: EPERM`); nothing for an ack or for an errno in `ok`.
 */
export function checkReply(replies: readonly NlReply[], seq: number, what: string, ok: readonly string[] = []): void {
  const errno = replyErrno(replies, seq);
  if (errno === undefined) throw new NsError('EPROTO', `${what}: no answer from the kernel`);
  if (errno === 0) return;
  const code = errnoName(errno);
  if (ok.includes(code)) return;
  throw new NsError(code, `${what}: ${code}`, { errno: -errno, syscall: 'netlink' });
}
