/**
 * A container on a bridge (`ns run --net bridge[:NAME]`, Container.bridge), as CNI's bridge
 * plugin does it, over rtnetlink from TypeScript (rtnetlink.ts): the bridge made when missing
 * and given the subnet's first address, a veth pair with one end (`eth0`) made directly in the
 * container's network namespace, an address for it from a small IPAM range (one file per
 * address under /run/ns/ipam/<bridge>/, made with O_EXCL), both ends up, the host end on the
 * bridge, a default route via the bridge's address. Undone (veth, address) when the start
 * fails, when a foreground container exits, and at delete; the bridge stays, as CNI leaves it.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsError, netlinkRequest } from '@ns/syscalls';
import { processStartTime } from '../container/state.js';
import { checkReply, delLink, getLink, linkIndex, linkKind, newAddr, newBridge, newDefaultRoute, newVeth, parseReplies, setLinkUp } from './rtnetlink.js';

/** A bridge network: the bridge's name and its IPv4 subnet (`10.89.0.0/24`). */
export interface BridgeConfig {
  name: string;
  subnet: string;
}

/** The bridge `--net bridge` uses when none is named: `ns0`, 10.89.0.0/24 (gateway 10.89.0.1). */
export const DEFAULT_BRIDGE: BridgeConfig = { name: 'ns0', subnet: '10.89.0.0/24' };

/** Where address allocations are kept, one directory per bridge. */
export const IPAM_DIR = '/run/ns/ipam';

/** What setupBridge() made: the host end's name and the container's address. */
export interface BridgeAttachment {
  hostVeth: string;
  address: string;
  gateway: string;
  prefix: number;
}

/** The subnet's base as a number, its prefix, the gateway (first address) and the last host. @throws NsError ERR_NS_CONFIG */
export function subnetOf(b: BridgeConfig): { base: number; prefix: number; gateway: string; last: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(b.subnet);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || !(prefix >= 16 && prefix <= 30)) {
    throw new NsError('ERR_NS_CONFIG', `bridge.subnet: expected an IPv4 subnet A.B.C.D/P with P from 16 to 30, got ${JSON.stringify(b.subnet)}`, { path: 'bridge.subnet' });
  }
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const base = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) & mask;
  return { base: base >>> 0, prefix, gateway: dotted(base + 1), last: (base | (~mask >>> 0)) - 1 };
}

function dotted(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** The host end's name for container `id`: `nsv` and 8 hex digits of its SHA-256 (IFNAMSIZ is 16). */
export function hostVethName(id: string): string {
  return `nsv${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/**
 * The next free address of the bridge's subnet for container `id` (gateway excluded), recorded
 * as a file named by the address holding the id, made with O_EXCL (two starts never get one).
 * Records whose container process is gone (see {@link recordOwner}) are taken back first: a
 * container killed without delete leaves its record, not its address, behind.
 * @throws NsError `ENOSPC` when the range is full.
 */
export function allocateAddress(b: BridgeConfig, id: string, dir = IPAM_DIR): string {
  const { base, last } = subnetOf(b);
  const at = join(dir, b.name);
  mkdirSync(at, { recursive: true, mode: 0o700 });
  sweepAddresses(at);
  for (let n = base + 2; n <= last; n++) {
    const address = dotted(n);
    try {
      writeFileSync(join(at, address), id, { flag: 'wx', mode: 0o600 });
      return address;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new NsError('ENOSPC', `bridge ${b.name}: no free address left in ${b.subnet}`);
}

/**
 * Add the container process to the record of `address` (`id`, pid, start time: three lines),
 * once it has its network; a record whose process is gone may then be taken back.
 */
export function recordOwner(b: BridgeConfig, address: string, id: string, pid: number, dir = IPAM_DIR): void {
  const start = processStartTime(pid);
  if (start !== null) writeFileSync(join(dir, b.name, address), `${id}\n${pid}\n${start}`, { mode: 0o600 });
}

/** Remove the records (in `at`) of processes that are gone; those being set up (no pid yet) stay. */
function sweepAddresses(at: string): void {
  for (const name of readdirSync(at)) {
    try {
      const [, pid, start] = readFileSync(join(at, name), 'utf8').split('\n');
      if (pid !== undefined && start !== undefined && processStartTime(Number(pid)) !== start) rmSync(join(at, name), { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

/** Drop the addresses recorded for container `id` on bridge `b`. */
export function releaseAddress(b: BridgeConfig, id: string, dir = IPAM_DIR): void {
  const at = join(dir, b.name);
  let names: string[];
  try {
    names = readdirSync(at);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      if (readFileSync(join(at, name), 'utf8').split('\n')[0] === id) rmSync(join(at, name), { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

let seq = 1;
/** Send `messages` (functions of a sequence number) in one request; the sequence numbers used, and the replies. */
function talk(netnsFd: number | undefined, ...messages: ((seq: number) => Buffer)[]) {
  const seqs = messages.map(() => (seq = (seq % 0x7fffffff) + 1));
  const replies = parseReplies(netlinkRequest(Buffer.concat(messages.map((m, i) => m(seqs[i]!))), netnsFd === undefined ? {} : { netnsFd }));
  return { seqs, replies };
}

/**
 * The host's IPv4 routes (/proc/net/route, the main table of this network namespace) other
 * than default routes: interface, destination and prefix length.
 */
export function hostRoutes(text = readFileSync('/proc/net/route', 'utf8')): { iface: string; base: number; prefix: number }[] {
  const out: { iface: string; base: number; prefix: number }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    // Little-endian hex (the kernel's byte order here): 0100590A is 10.89.0.1.
    const le = (h: string) => (Number.parseInt(h.match(/../g)!.reverse().join(''), 16) >>> 0);
    const mask = le(f[7]!);
    const prefix = mask === 0 ? 0 : 32 - Math.log2((~mask >>> 0) + 1);
    if (prefix > 0 && Number.isInteger(prefix)) out.push({ iface: f[0]!, base: (le(f[1]!) & mask) >>> 0, prefix });
  }
  return out;
}

/**
 * Refuse a subnet another link already routes (an overlapping, non-default route), as Docker's
 * bridge driver does: two bridges routing one subnet break both (bridge names that hash to the
 * same 10.89.N.0/24, a LAN on 10.89.0.0/16). Routes of the bridge itself do not count.
 * @throws NsError ERR_NS_CONFIG naming the other link and its route
 */
export function checkSubnetFree(b: BridgeConfig, routes = hostRoutes()): void {
  const { base, prefix } = subnetOf(b);
  for (const r of routes) {
    if (r.iface === b.name) continue;
    const p = Math.min(prefix, r.prefix);
    const mask = (~0 << (32 - p)) >>> 0;
    if (((base & mask) >>> 0) === ((r.base & mask) >>> 0)) {
      throw new NsError(
        'ERR_NS_CONFIG',
        `bridge ${b.name}: subnet ${b.subnet} overlaps ${dotted(r.base)}/${r.prefix}, routed through ${r.iface} (name another bridge, or give bridge.subnet)`,
        { path: 'bridge.subnet' },
      );
    }
  }
}

/** The bridge, made when missing (EEXIST is fine: another start made it), with its gateway address, up; its ifindex. */
function ensureBridge(b: BridgeConfig): number {
  const { prefix, gateway } = subnetOf(b);
  checkSubnetFree(b);
  let r = talk(undefined, (s) => newBridge(s, b.name));
  checkReply(r.replies, r.seqs[0]!, `ip link add ${b.name} type bridge`, ['EEXIST']);
  r = talk(undefined, (s) => getLink(s, b.name));
  checkReply(r.replies, r.seqs[0]!, `ip link show ${b.name}`);
  const index = linkIndex(r.replies, r.seqs[0]!)!;
  // Never an address on, or a veth under, a link of the host's that only shares the name.
  const kind = linkKind(r.replies, r.seqs[0]!);
  if (kind !== 'bridge') throw new NsError('ERR_NS_CONFIG', `bridge ${b.name}: the host has a link of that name that is not a bridge (${kind || 'a device'})`, { path: 'bridge.name' });
  r = talk(undefined, (s) => newAddr(s, index, gateway, prefix), (s) => setLinkUp(s, b.name));
  checkReply(r.replies, r.seqs[0]!, `ip addr add ${gateway}/${prefix} dev ${b.name}`, ['EEXIST']);
  checkReply(r.replies, r.seqs[1]!, `ip link set ${b.name} up`);
  return index;
}

/**
 * Put the container whose process is `pid` on bridge `b` (see the file's comment). Undoes what
 * it made when a step fails.
 * @throws NsError with the errno's name, naming the `ip` command the failed message stands for
 *   (`ip link add nsv1a2b3c4d type veth peer name eth0: EEXIST`); `ENOSPC` for a full range.
 */
export function setupBridge(b: BridgeConfig, id: string, pid: number): BridgeAttachment {
  const { prefix, gateway } = subnetOf(b);
  const bridgeIndex = ensureBridge(b);
  const hostVeth = hostVethName(id);
  const address = allocateAddress(b, id);
  const netnsFd = openSync(`/proc/${pid}/ns/net`, 'r');
  try {
    let r = talk(undefined, (s) => newVeth(s, hostVeth, 'eth0', netnsFd));
    checkReply(r.replies, r.seqs[0]!, `ip link add ${hostVeth} type veth peer name eth0 netns <container>`);
    r = talk(undefined, (s) => setLinkUp(s, hostVeth, bridgeIndex));
    checkReply(r.replies, r.seqs[0]!, `ip link set ${hostVeth} master ${b.name} up`);
    r = talk(netnsFd, (s) => getLink(s, 'eth0'));
    checkReply(r.replies, r.seqs[0]!, 'ip link show eth0 (in the container)');
    const index = linkIndex(r.replies, r.seqs[0]!)!;
    r = talk(netnsFd, (s) => newAddr(s, index, address, prefix), (s) => setLinkUp(s, 'eth0'), (s) => newDefaultRoute(s, gateway));
    checkReply(r.replies, r.seqs[0]!, `ip addr add ${address}/${prefix} dev eth0 (in the container)`);
    checkReply(r.replies, r.seqs[1]!, 'ip link set eth0 up (in the container)');
    checkReply(r.replies, r.seqs[2]!, `ip route add default via ${gateway} (in the container)`);
    recordOwner(b, address, id, pid);
    return { hostVeth, address, gateway, prefix };
  } catch (err) {
    teardownBridge(b, id);
    throw err;
  } finally {
    closeSync(netnsFd);
  }
}

/**
 * Undo setupBridge() for container `id`: delete its host veth (the peer goes with it; ENODEV,
 * already gone with the container's namespace, is fine) and release its address.
 * @throws NsError for a deletion the kernel refused otherwise.
 */
export function teardownBridge(b: BridgeConfig, id: string): void {
  try {
    const r = talk(undefined, (s) => delLink(s, hostVethName(id)));
    checkReply(r.replies, r.seqs[0]!, `ip link del ${hostVethName(id)}`, ['ENODEV']);
  } finally {
    releaseAddress(b, id);
  }
}
