// rtnetlink(7) messages built in TypeScript (net/rtnetlink.ts) and the bridge network's pure
// parts (net/bridge.ts: subnet, names, address allocation): no root needed.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allocateAddress, checkSubnetFree, hostRoutes, hostVethName, recordOwner, releaseAddress, subnetOf, validateContainer, rtnetlink, type Container } from '../src/index.js';

const { attr, checkReply, cstr, delLink, getLink, ifinfomsg, linkIndex, newAddr, newBridge, newDefaultRoute, newVeth, nlmsg, parseReplies, replyErrno, setLinkUp, NLM_F, RTM } = rtnetlink;

/** The rtattrs of `b` from `off`: [type, payload]. */
function attrs(b: Buffer, off = 0): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  while (off + 4 <= b.length) {
    const len = b.readUInt16LE(off);
    out.push([b.readUInt16LE(off + 2), b.subarray(off + 4, off + len)]);
    off += (len + 3) & ~3;
  }
  return out;
}

describe('rtnetlink messages', () => {
  it('nlmsghdr and rtattr: lengths, padding to 4 bytes, type, flags, seq', () => {
    expect(attr(3, cstr('eth0'))).toEqual(Buffer.from([9, 0, 3, 0, 0x65, 0x74, 0x68, 0x30, 0, 0, 0, 0]));
    const m = nlmsg(RTM.GETLINK, NLM_F.REQUEST | NLM_F.ACK, 7, Buffer.alloc(3, 1));
    expect(m.length).toBe(20);
    expect([m.readUInt32LE(0), m.readUInt16LE(4), m.readUInt16LE(6), m.readUInt32LE(8), m.readUInt32LE(12)]).toEqual([19, 18, 5, 7, 0]);
    expect(ifinfomsg(4, 1, 1)).toEqual(Buffer.from([0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]));
  });

  it('a bridge: RTM_NEWLINK create|excl with IFLA_IFNAME and IFLA_LINKINFO { kind "bridge" }', () => {
    const m = newBridge(1, 'ns0');
    expect(m.readUInt16LE(4)).toBe(RTM.NEWLINK);
    expect(m.readUInt16LE(6)).toBe(NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL);
    const [name, info] = attrs(m, 32);
    expect(name).toEqual([3, cstr('ns0')]);
    expect(info![0]).toBe(18);
    expect(attrs(info![1])).toEqual([[1, cstr('bridge')]]);
  });

  it('a veth pair: the peer in IFLA_INFO_DATA { VETH_INFO_PEER: ifinfomsg, its name, IFLA_NET_NS_FD }', () => {
    const m = newVeth(2, 'nsv12345678', 'eth0', 42);
    const [name, info] = attrs(m, 32);
    expect(name).toEqual([3, cstr('nsv12345678')]);
    const [kind, data] = attrs(info![1]);
    expect(kind).toEqual([1, cstr('veth')]);
    expect(data![0]).toBe(2);
    const [peer] = attrs(data![1]);
    expect(peer![0]).toBe(1);
    expect(peer![1].subarray(0, 16)).toEqual(ifinfomsg());
    const peerAttrs = attrs(peer![1], 16);
    expect(peerAttrs[0]).toEqual([3, cstr('eth0')]);
    expect(peerAttrs[1]![0]).toBe(28);
    expect(peerAttrs[1]![1].readUInt32LE(0)).toBe(42);
  });

  it('up and master, get and delete by name, an address and a default route', () => {
    const up = setLinkUp(3, 'nsv1', 9);
    expect(up.subarray(16, 32)).toEqual(ifinfomsg(0, 1, 1));
    expect(attrs(up, 32)).toEqual([[3, cstr('nsv1')], [10, Buffer.from([9, 0, 0, 0])]]);
    expect(getLink(4, 'x').readUInt16LE(4)).toBe(RTM.GETLINK);
    expect(delLink(5, 'x').readUInt16LE(4)).toBe(RTM.DELLINK);
    const addr = newAddr(6, 7, '10.89.0.2', 24);
    expect(addr.subarray(16, 24)).toEqual(Buffer.from([2, 24, 0, 0, 7, 0, 0, 0]));
    expect(attrs(addr, 24)).toEqual([[2, Buffer.from([10, 89, 0, 2])], [1, Buffer.from([10, 89, 0, 2])]]);
    const route = newDefaultRoute(8, '10.89.0.1');
    expect(route.subarray(16, 28)).toEqual(Buffer.from([2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]));
    expect(attrs(route, 28)).toEqual([[5, Buffer.from([10, 89, 0, 1])]]);
    expect(() => newAddr(1, 1, '10.89.0.256', 24)).toThrow(/not an IPv4 address/);
  });

  it('reads replies: acks, errors by errno name, a link index', () => {
    const err = (seq: number, errno: number) => {
      const b = Buffer.alloc(20);
      b.writeInt32LE(-errno, 0);
      return nlmsg(2, 0, seq, b);
    };
    const link = nlmsg(RTM.NEWLINK, 0, 3, ifinfomsg(17));
    const replies = parseReplies(Buffer.concat([link, err(3, 0), err(4, 17), err(5, 19)]));
    expect(replies.map((r) => [r.type, r.seq])).toEqual([[16, 3], [2, 3], [2, 4], [2, 5]]);
    expect(linkIndex(replies, 3)).toBe(17);
    expect(rtnetlink.linkKind(replies, 3)).toBe(''); // no IFLA_LINKINFO: a device
    const bridge = nlmsg(RTM.NEWLINK, 0, 6, Buffer.concat([ifinfomsg(5), attr(3, cstr('br')), attr(18, attr(1, cstr('bridge')))]));
    expect(rtnetlink.linkKind(parseReplies(bridge), 6)).toBe('bridge');
    expect([replyErrno(replies, 3), replyErrno(replies, 4), replyErrno(replies, 9)]).toEqual([0, 17, undefined]);
    expect(() => checkReply(replies, 4, 'ip link add x')).toThrow(expect.objectContaining({ code: 'EEXIST', message: 'ip link add x: EEXIST' }));
    expect(() => checkReply(replies, 4, 'ip link add x', ['EEXIST'])).not.toThrow();
    expect(() => checkReply(replies, 5, 'ip link del x')).toThrow(/ENODEV/);
    expect(() => checkReply(replies, 9, 'x')).toThrow(/no answer/);
  });
});

describe('bridge network: subnet, names, addresses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-ipam-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('subnets, gateways and host veth names', () => {
    expect(subnetOf({ name: 'b', subnet: '10.89.0.0/24' })).toEqual({ base: 0x0a590000, prefix: 24, gateway: '10.89.0.1', last: 0x0a5900fe });
    expect(subnetOf({ name: 'b', subnet: '10.89.3.77/30' }).gateway).toBe('10.89.3.77');
    for (const subnet of ['10.89.0.0', '10.89.0.0/8', '10.300.0.0/24', '::1/64']) expect(() => subnetOf({ name: 'b', subnet })).toThrow(expect.objectContaining({ path: 'bridge.subnet' }));
    expect(hostVethName('a')).toMatch(/^nsv[0-9a-f]{8}$/);
    expect(hostVethName('a')).not.toBe(hostVethName('b'));
  });

  it("a subnet another link routes is refused (bridge names that hash to one /24, a LAN around it); default routes and the bridge's own do not count", () => {
    const routes = hostRoutes(
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
        'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
        'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' +
        'nsa\t000E590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
    );
    expect(routes).toEqual([
      { iface: 'eth0', base: 0xc0000200, prefix: 24 },
      { iface: 'nsa', base: 0x0a590e00, prefix: 24 },
    ]);
    expect(() => checkSubnetFree({ name: 'nsb', subnet: '10.89.14.0/24' }, routes)).toThrow(
      expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'bridge.subnet', message: 'bridge nsb: subnet 10.89.14.0/24 overlaps 10.89.14.0/24, routed through nsa (name another bridge, or give bridge.subnet)' }),
    );
    expect(() => checkSubnetFree({ name: 'nsb', subnet: '10.89.0.0/16' }, routes)).toThrow(expect.objectContaining({ path: 'bridge.subnet' }));
    expect(() => checkSubnetFree({ name: 'nsa', subnet: '10.89.14.0/24' }, routes)).not.toThrow();
    expect(() => checkSubnetFree({ name: 'nsb', subnet: '10.89.15.0/24' }, routes)).not.toThrow();
  });

  it('allocates each address once (O_EXCL), releases by container id, reports a full range', () => {
    const b = { name: 'tiny', subnet: '10.1.2.0/30' }; // .1 the gateway, .2 the only host
    expect(allocateAddress(b, 'one', dir)).toBe('10.1.2.2');
    expect(() => allocateAddress(b, 'two', dir)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    releaseAddress(b, 'two', dir);
    expect(readdirSync(join(dir, 'tiny'))).toEqual(['10.1.2.2']);
    releaseAddress(b, 'one', dir);
    expect(allocateAddress(b, 'two', dir)).toBe('10.1.2.2');
    // Owned by a live process: kept; by one that is gone (a start time that no longer matches): taken back.
    recordOwner(b, '10.1.2.2', 'two', process.pid, dir);
    expect(() => allocateAddress(b, 'three', dir)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    writeFileSync(join(dir, 'tiny', '10.1.2.2'), `two\n${process.pid}\n1`);
    expect(allocateAddress(b, 'three', dir)).toBe('10.1.2.2');
  });

  it('Container.bridge is checked: name, subnet, a network namespace of its own', () => {
    const base: Container = { id: 'b', rootfs: null, args: ['/bin/true'], namespaces: [{ type: 'mount' }, { type: 'network' }] };
    const fails = (c: Container, path: string) => expect(() => validateContainer(c)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path }));
    fails({ ...base, bridge: { name: 'a/b', subnet: '10.0.0.0/24' } }, 'bridge.name');
    fails({ ...base, bridge: { name: 'x'.repeat(16), subnet: '10.0.0.0/24' } }, 'bridge.name');
    fails({ ...base, bridge: { name: 'br', subnet: 'nope' } }, 'bridge.subnet');
    fails({ ...base, namespaces: [{ type: 'mount' }], bridge: { name: 'br', subnet: '10.0.0.0/24' } }, 'bridge');
    fails({ ...base, namespaces: [{ type: 'mount' }, { type: 'network', path: '/proc/1/ns/net' }], bridge: { name: 'br', subnet: '10.0.0.0/24' } }, 'bridge');
    expect(() => validateContainer({ ...base, bridge: { name: 'br0', subnet: '10.0.0.0/24' } })).not.toThrow();
  });
});
