/**
 * Paths inside a container's root filesystem, resolved from the host without ever leaving it:
 * the TypeScript equivalent of Go's `github.com/cyphar/filepath-securejoin` SecureJoin, which
 * runc uses for mount destinations and for /etc/passwd and /etc/group.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { NsError } from '@ns/syscalls';

/** Symlinks followed before giving up with ELOOP (securejoin's limit; Linux's own is 40). */
export const MAX_SYMLINK_HOPS = 255;

/**
 * lstat(2) as {@link resolveInRoot} uses it: the Stats, or undefined when the path does not
 * exist (ENOENT, or ENOTDIR below a non-directory); throws the fs error otherwise.
 */
export type Lstat = (path: string) => Stats | undefined;

/** {@link Lstat} straight from the file system. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    // throwIfNoEntry: a missing path is the common case here, and a thrown error costs more
    // than the system call.
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw cause;
  }
}

/**
 * The host path of `unsafePath` interpreted inside `root`, with every symlink resolved as if
 * `root` were `/`: absolute link targets are re-rooted under `root`, and `..` (in the path
 * or in link targets) never climbs above `root`. Components that do not exist (ENOENT, or
 * ENOTDIR below a non-directory) are appended lexically, so the result may name a path that
 * is still to be created. The result is always `root` itself or a path below it.
 *
 * Follows securejoin.SecureJoin (and the path resolution of path_resolution(7) with `root`
 * as the process root). `root` itself is not resolved: pass a trusted, canonical directory.
 *
 * TOCTOU: the answer is only valid at the moment it is computed. Anyone who can write inside
 * the rootfs (the container itself, or an image unpacking concurrently) can swap a directory
 * for a symlink afterwards, and opening the returned path then follows it. Use the result
 * only on a rootfs nothing else is modifying, or re-check after opening (O_NOFOLLOW on the
 * last component, fstat, /proc/self/fd readlink), or use openat2(RESOLVE_IN_ROOT) in the
 * native core when that matters.
 *
 * @param root host directory that acts as `/` (made absolute and normalised, not resolved)
 * @param unsafePath path inside the container, absolute or relative to `root`
 * @param lstat how to lstat a host path (default: the file system each time; the planner
 *   passes its pass's `HostReads.lstat`, which answers once per path)
 * @returns an absolute host path, `root` or below it
 * @throws NsError code `ELOOP` after more than {@link MAX_SYMLINK_HOPS} symlinks; the errno
 *   name (`EACCES`, `EIO` ...) when lstat or readlink fails otherwise
 */
export function resolveInRoot(root: string, unsafePath: string, lstat: Lstat = lstatOrUndefined): string {
  const base = posix.resolve(root);
  let current = '/'; // resolved so far, inside the root, no symlinks, no `..`
  let remaining = unsafePath;
  let hops = 0;
  while (remaining !== '') {
    const slash = remaining.indexOf('/');
    const part = slash === -1 ? remaining : remaining.slice(0, slash);
    remaining = slash === -1 ? '' : remaining.slice(slash + 1);
    if (part === '' || part === '.') continue;
    // Lexical step: `..` of an already resolved path is its parent, and never above `/`.
    const next = posix.join(current, part);
    if (next === '/') {
      current = '/';
      continue;
    }
    const full = posix.join(base, next);
    let st: Stats | undefined;
    try {
      st = lstat(full);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      throw new NsError(code ?? 'EIO', `resolve ${unsafePath} in ${base}: lstat ${full}: ${(cause as Error).message}`, {
        path: full,
        syscall: 'lstat',
        cause,
      });
    }
    if (st === undefined || !st.isSymbolicLink()) {
      // Missing (appended lexically) or not a link.
      current = next;
      continue;
    }
    hops += 1;
    if (hops > MAX_SYMLINK_HOPS) {
      throw new NsError(
        'ELOOP',
        `resolve ${unsafePath} in ${base}: too many levels of symbolic links (more than ${MAX_SYMLINK_HOPS})`,
        { path: posix.join(base, unsafePath), syscall: 'readlink' },
      );
    }
    let target: string;
    try {
      target = readlinkSync(full, 'utf8');
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
      throw new NsError(code, `resolve ${unsafePath} in ${base}: readlink ${full}: ${(cause as Error).message}`, {
        path: full,
        syscall: 'readlink',
        cause,
      });
    }
    // Expand the link in front of what is left; an absolute target starts again at the root,
    // a relative one is relative to the link's directory (`current`, already resolved).
    remaining = remaining === '' ? target : `${target}/${remaining}`;
    if (target.startsWith('/')) current = '/';
  }
  return current === '/' ? base : posix.join(base, current);
}

/**
 * Whether `path` is `root` or lies below it, compared lexically after making both absolute
 * and normalised (`/a/b/../c` is within `/a`; `/ab` is not within `/a`). Symlinks are not
 * followed: combine with {@link resolveInRoot} for paths that may contain links.
 *
 * @param root host directory
 * @param path host path to check
 * @returns true when `path` equals `root` or is a descendant of it; never throws
 */
export function isWithin(root: string, path: string): boolean {
  const rel = posix.relative(posix.resolve(root), posix.resolve(path));
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !posix.isAbsolute(rel));
}
