/**
 * The container options of `ns run`, `ns create` and `ns exec` that map a flag onto the
 * config: `-e` (environment), `-t` (TERM), `--net` and `-v`. What a flag means beyond its
 * syntax (capabilities, network namespace files ...) is the library's (@ns/namespaces).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { DEFAULT_BRIDGE, ErrorCode, NsError, checkNetworkNamespace, dedupEnv, type MountConfig, type NamespaceConfig } from '@ns/namespaces';
import { usage } from './errors.js';
import { absolutePath } from './io.js';

/** The `TERM` a terminal gets when the environment has none (as docker). */
export const DEFAULT_TERM = 'TERM=xterm';

/**
 * `-u, --user USER[:GROUP]` as given: a name or id, and optionally a group name or id after
 * one colon, neither empty (`-u ''` and `-u ':'` would otherwise fall back to root).
 * @throws NsError `ERR_NS_CONFIG` naming `--user`.
 */
export function checkUserOption(value: string): string {
  if (!/^[^:\s\0]+(:[^:\s\0]+)?$/.test(value)) {
    throw usage(`--user ${JSON.stringify(value)}: expected USER[:GROUP], a name or id and optionally a group name or id (neither empty)`, 'user');
  }
  return value;
}

/** `env` with `TERM=xterm` added when it has no `TERM` (for a process given a terminal). */
export function withTerm(env: readonly string[]): string[] {
  return env.some((e) => e.startsWith('TERM=')) ? [...env] : [...env, DEFAULT_TERM];
}

/**
 * `-e` entries applied to `base`: `K=V` sets K, `K` alone copies K from `hostEnv` (and is
 * skipped when unset there, as docker does). As `runc exec --env`, the entries come after
 * `base`, and the result has each key once: the last entry of a key wins, at its place
 * ({@link dedupEnv}, what the container's process would see anyway).
 * @throws NsError `ERR_NS_CONFIG` for an entry with an empty key.
 */
export function applyEnv(base: readonly string[], entries: readonly string[], hostEnv: NodeJS.ProcessEnv): string[] {
  const out = [...base];
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (entry === '' || eq === 0) throw usage(`-e ${JSON.stringify(entry)}: expected KEY=value or KEY`, 'env');
    if (entry.includes('\0')) throw usage(`-e ${JSON.stringify(entry)}: contains a NUL byte`, 'env');
    let full = entry;
    if (eq < 0) {
      const value = hostEnv[entry];
      if (value === undefined) continue;
      full = `${entry}=${value}`;
    }
    out.push(full);
  }
  return dedupEnv(out);
}

/**
 * The bridge `--net bridge[:NAME]` asks for: DEFAULT_BRIDGE (`ns0`, 10.89.0.0/24), or the bridge
 * NAME with a /24 of its own, 10.89.N.0/24 with N from 1 to 254 taken from the name's SHA-256
 * (two bridges must not route the same subnet); undefined for the other modes.
 * @throws NsError `ERR_NS_CONFIG` for an empty NAME
 */
export function bridgeOf(net: string): { name: string; subnet: string } | undefined {
  if (net === 'bridge') return { ...DEFAULT_BRIDGE };
  if (!net.startsWith('bridge:')) return undefined;
  const name = net.slice('bridge:'.length);
  if (name === '') throw usage('--net bridge:: expected bridge:NAME (a link name), or bridge for ns0', 'net');
  if (name === DEFAULT_BRIDGE.name) return { ...DEFAULT_BRIDGE };
  const n = 1 + (createHash('sha256').update(name).digest().readUInt16BE(0) % 254);
  return { name, subnet: `10.89.${n}.0/24` };
}

/**
 * The network namespace entry `--net` asks for: `none` a new namespace with only `lo`,
 * `host` none at all (the host's network), a path (with a slash) joins that namespace.
 * @param cwd directory a relative path is taken from (null: the working directory is gone)
 * @throws NsError `ERR_NS_CONFIG` for another word or a file that is not a network
 *   namespace, `ERR_NS_NOT_FOUND` for a missing path, `EACCES` for one that cannot be accessed.
 */
export function applyNetwork(namespaces: readonly NamespaceConfig[], net: string, cwd: string | null): NamespaceConfig[] {
  let entry: NamespaceConfig | undefined;
  if (net === 'none') {
    entry = { type: 'network' };
  } else if (net === 'host') {
    entry = undefined;
  } else if (net === 'bridge' || net.startsWith('bridge:')) {
    entry = { type: 'network' }; // a new namespace, which bridgeOf() puts on the bridge
  } else if (net.includes('/')) {
    const path = absolutePath(cwd, net, '--net');
    checkNetworkNamespace(path, `--net ${net}`, 'net');
    entry = { type: 'network', path };
  } else {
    throw usage(`--net ${JSON.stringify(net)}: expected none, host, bridge[:NAME] or the path of a network namespace (/var/run/netns/NAME, /proc/PID/ns/net)`, 'net');
  }
  const out = namespaces.map((ns) => ({ ...ns }));
  const at = out.findIndex((ns) => ns.type === 'network');
  if (entry === undefined) return out.filter((ns) => ns.type !== 'network');
  if (at < 0) out.push(entry);
  else out[at] = entry;
  return out;
}

/**
 * One `-v HOST:CONTAINER[:ro|rw]` as a recursive bind mount. A relative HOST is taken from
 * `cwd` (null: the working directory is gone); CONTAINER must be absolute and not `/`.
 * @throws NsError `ERR_NS_CONFIG` for a malformed volume, `ERR_NS_NOT_FOUND` when HOST is missing.
 */
export function parseVolume(spec: string, cwd: string | null): MountConfig {
  const parts = spec.split(':');
  const [host, destination, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !host || !destination) {
    throw usage(`-v ${JSON.stringify(spec)}: expected HOST:CONTAINER[:ro|rw]`, 'volume');
  }
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
    throw usage(`-v ${JSON.stringify(spec)}: unknown mode ${JSON.stringify(mode)} (expected ro or rw)`, 'volume');
  }
  if (!isAbsolute(destination)) {
    throw usage(`-v ${JSON.stringify(spec)}: the container path ${JSON.stringify(destination)} must be absolute`, 'volume');
  }
  if (posix.resolve('/', destination) === '/') throw usage(`-v ${spec}: the destination cannot be /`, 'volume');
  const source = absolutePath(cwd, host, '-v');
  if (!existsSync(source)) {
    throw new NsError(ErrorCode.NOT_FOUND, `-v ${spec}: ${source}: no such file or directory`, { path: source });
  }
  return { destination, type: 'bind', source, options: mode === 'ro' ? ['rbind', 'ro'] : ['rbind'] };
}
