/**
 * Network namespaces joined by path (`linux.namespaces[].path`, `ns run --net PATH`): the file
 * must be a network namespace, told apart as `ip netns`, nsenter and runc's checks do.
 */
import { readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ErrorCode, NsError, configError } from '@ns/syscalls';
import type { Container } from './container.js';

/** `TYPE:[INODE]`: how a namespace reads through /proc (readlink, mountinfo). */
const NS_NAME = /^(\w+):\[(\d+)\]$/;

/**
 * The type of the namespace file `path` (stat `st`), when it can be told: a /proc/PID/ns/*
 * link (also behind other symlinks) reads as `net:[INODE]`; a bind mount of one (`ip netns
 * add`) has `net:[INODE]` as its root in /proc/self/mountinfo (proc(5)).
 */
function namespaceType(path: string, st: Stats): string | undefined {
  let at = path;
  for (let hops = 0; hops < 40; hops++) {
    let target: string;
    try {
      target = readlinkSync(at);
    } catch {
      break; // not a symlink
    }
    const name = NS_NAME.exec(target);
    if (name) return name[1];
    at = resolve(dirname(at), target);
  }
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const name = NS_NAME.exec(line.split(' ')[3] ?? '');
      if (name && Number(name[2]) === st.ino) return name[1];
    }
  } catch {
    // no /proc: left to setns(2)
  }
  return undefined;
}

/**
 * Check that `path` (absolute) is a network namespace file: it exists, can be accessed, is on
 * nsfs (the device of /proc/self/ns/net: every namespace inode is on that one internal file
 * system), and where its type can be told (a /proc/PID/ns link, or a bind mount of one as `ip
 * netns add` makes), is a network namespace. exec() checks the network namespaces a config
 * joins this way before it spawns ({@link checkJoinedNetworks}); `ns run --net PATH` checks
 * its flag with it.
 *
 * @param label what messages call the path: `namespaces[4].path`, `--net ./ns` ...
 * @param field the error's `path` for a file that is not a network namespace (`net`, `namespaces[4].path`)
 * @throws NsError `ERR_NS_NOT_FOUND` for a missing file (`<label>: <path>: no such network
 *   namespace file`), `EACCES` / `EPERM` when it cannot be accessed (`<label>: permission
 *   denied`), `ERR_NS_CONFIG` for a file that is not a network namespace (`<label>: not a
 *   network namespace`, `... (a pid namespace)`).
 * @see setns(2), namespaces(7), ip-netns(8)
 */
export function checkNetworkNamespace(path: string, label: string, field: string): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new NsError(ErrorCode.NOT_FOUND, `${label}: ${path}: no such network namespace file`, { path, cause });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new NsError(code, `${label}: permission denied`, { path, syscall: 'stat', cause });
    }
    throw new NsError(code, `${label}: ${(cause as Error).message}`, { path, syscall: 'stat', cause });
  }
  let nsfs: number | undefined;
  try {
    nsfs = statSync('/proc/self/ns/net').dev;
  } catch {
    // no /proc: left to setns(2)
  }
  if (nsfs !== undefined && st.dev !== nsfs) throw configError(`${label}: not a network namespace`, field);
  const type = namespaceType(path, st);
  if (type !== undefined && type !== 'net') throw configError(`${label}: not a network namespace (a ${type} namespace)`, field);
}

/**
 * Check each network namespace `c` joins by path ({@link checkNetworkNamespace}), naming it
 * `namespaces[i].path`: exec() and execAsync() do before spawning, so that a file that is
 * missing or not a network namespace fails with its name rather than as setns(2): EINVAL.
 * A plan (planContainer) does not need the file.
 * @throws NsError as checkNetworkNamespace.
 */
export function checkJoinedNetworks(c: Pick<Container, 'namespaces'>): void {
  c.namespaces.forEach((ns, i) => {
    if (ns.type === 'network' && ns.path !== undefined) checkNetworkNamespace(ns.path, `namespaces[${i}].path`, `namespaces[${i}].path`);
  });
}
