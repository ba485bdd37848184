/**
 * User and group lookup in a container's /etc/passwd and /etc/group, with runc's rules
 * (libcontainer/user GetExecUser) for `process.user` / `--user` specs.
 */
import { ErrorCode, NsError, configError } from '@ns/syscalls';
import { resolveInRoot } from './path.js';
import { readRegularFile } from '../config/regular-file.js';

/** One /etc/passwd entry (passwd(5)). */
export interface PasswdEntry {
  name: string;
  password: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** One /etc/group entry (group(5)). */
export interface GroupEntry {
  name: string;
  password: string;
  gid: number;
  /** Member user names (the comma-separated fourth field). */
  members: string[];
}

/** What {@link resolveUser} returns: ids to switch to and the home directory for `HOME`. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups, deduplicated, without the primary gid. */
  additionalGids: number[];
  /** Home directory from passwd, `/` when unknown. */
  home: string;
  /** User name when the user was found in passwd. */
  name?: string;
}

/** Largest valid uid/gid: 2^32 - 2 ((uid_t)-1 means "no change" to setresuid(2)). */
export const MAX_ID = 0xffff_fffe;

/** Larger files are refused by {@link readUserFiles}. */
const MAX_USER_FILE_BYTES = 32 * 1024 * 1024;

const DECIMAL = /^[0-9]+$/;

function parseId(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!DECIMAL.test(t)) return undefined;
  const n = Number(t);
  return n <= MAX_ID ? n : undefined;
}

/** Lines worth parsing: not blank, not comments, not NIS compat entries (`+`/`-`). */
function dataLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => {
      const t = line.trim();
      return t !== '' && !t.startsWith('#') && !t.startsWith('+') && !t.startsWith('-');
    });
}

/**
 * Parse /etc/passwd text: `name:password:UID:GID:GECOS:directory:shell` per line (passwd(5)).
 * Blank lines, `#` comments and NIS `+`/`-` lines are skipped; lines without a name or a
 * valid numeric uid and gid (short or malformed lines) are skipped; missing trailing fields
 * are empty strings.
 *
 * @param text file contents (any line endings)
 * @returns entries in file order (the first match wins in lookups); never throws
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of dataLines(text)) {
    const f = line.split(':');
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    const name = f[0] ?? '';
    if (name === '' || uid === undefined || gid === undefined) continue;
    out.push({ name, password: f[1] ?? '', uid, gid, gecos: f[4] ?? '', home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/**
 * Parse /etc/group text: `group_name:password:GID:user_list` per line, the user list
 * comma-separated (group(5)). Blank lines, `#` comments and NIS `+`/`-` lines are skipped;
 * lines without a name or a valid numeric gid are skipped; a missing list means no members.
 *
 * @param text file contents (any line endings)
 * @returns entries in file order; never throws
 */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of dataLines(text)) {
    const f = line.split(':');
    const gid = parseId(f[2]);
    const name = f[0] ?? '';
    if (name === '' || gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name, password: f[1] ?? '', gid, members });
  }
  return out;
}

/** A numeric id from a spec part, range-checked; undefined when the part is a name. */
function numericId(part: string, what: 'uid' | 'gid', spec: string): number | undefined {
  if (!/^-?[0-9]+$/.test(part)) return undefined;
  const n = Number(part);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) {
    throw configError(`user ${JSON.stringify(spec)}: ${what} ${part} is out of range 0..${MAX_ID}`, 'user');
  }
  return n;
}

/**
 * Resolve a user spec against passwd/group texts, as runc does for `process.user` and
 * `runc exec --user` (libcontainer/user GetExecUser; passwd(5), group(5)).
 *
 * Forms: `uid`, `uid:gid`, `name`, `name:group`, `uid:group`, `name:gid` (an empty user part
 * means uid 0). A numeric user is always a uid: when passwd has it, its entry gives the gid
 * and home; otherwise gid 0 and home `/`. A name must exist in passwd. An explicit group
 * replaces the primary gid: a number is always a gid (need not exist), a name must exist in
 * group. Supplementary groups (the implicit form only, as in runc: no explicit group and a
 * passwd entry found) are every /etc/group entry listing the user's name as a member; then
 * `options.additionalGids` are added. The list is deduplicated, keeps first-seen order and
 * leaves out the primary gid.
 *
 * @param spec `user[:group]`
 * @param files `passwd` and `group` file texts; undefined means the file does not exist
 * @param options `additionalGids`: extra supplementary gids (OCI `process.user.additionalGids`)
 * @returns `{ uid, gid, additionalGids, home, name? }`
 * @throws NsError `ERR_NS_NOT_FOUND` `unable to find user NAME: no matching entries in passwd
 *   file` / `unable to find group NAME: no matching entries in group file`; `ERR_NS_CONFIG`
 *   for a malformed spec or an id outside 0..2^32-2
 */
export function resolveUser(
  spec: string,
  files: { passwd?: string | undefined; group?: string | undefined },
  options: { additionalGids?: number[] } = {},
): ResolvedUser {
  const parts = spec.split(':');
  if (parts.length > 2) {
    throw configError(`user ${JSON.stringify(spec)}: expected user[:group]`, 'user');
  }
  const userPart = parts[0] ?? '';
  const groupPart = parts[1] ?? '';
  const users = files.passwd === undefined ? [] : lastPasswd.get(files.passwd);
  const groups = files.group === undefined ? [] : lastGroup.get(files.group);

  const uidArg = userPart === '' ? 0 : numericId(userPart, 'uid', spec);
  const entry =
    uidArg !== undefined ? users.find((u) => u.uid === uidArg) : users.find((u) => u.name === userPart);
  if (entry === undefined && uidArg === undefined) {
    throw new NsError(ErrorCode.NOT_FOUND, `unable to find user ${userPart}: no matching entries in passwd file`, {
      path: 'user',
    });
  }
  const uid = entry?.uid ?? (uidArg as number);
  let gid = entry?.gid ?? 0;
  const home = entry?.home ? entry.home : '/';
  const supplementary: number[] = [];

  if (groupPart !== '') {
    const gidArg = numericId(groupPart, 'gid', spec);
    if (gidArg !== undefined) {
      gid = gidArg;
    } else {
      const group = groups.find((g) => g.name === groupPart);
      if (group === undefined) {
        throw new NsError(
          ErrorCode.NOT_FOUND,
          `unable to find group ${groupPart}: no matching entries in group file`,
          { path: 'user' },
        );
      }
      gid = group.gid;
    }
  } else if (entry !== undefined) {
    for (const g of groups) if (g.members.includes(entry.name)) supplementary.push(g.gid);
  }

  for (const extra of options.additionalGids ?? []) {
    if (!Number.isInteger(extra) || extra < 0 || extra > MAX_ID) {
      throw configError(`additional gid ${extra} is out of range 0..${MAX_ID}`, 'additionalGids');
    }
    supplementary.push(extra);
  }
  const seen = new Set<number>([gid]);
  const additionalGids = supplementary.filter((g) => (seen.has(g) ? false : (seen.add(g), true)));

  const out: ResolvedUser = { uid, gid, additionalGids, home };
  if (entry !== undefined) out.name = entry.name;
  return out;
}

/**
 * The parse of the text seen last (keyed on the whole text, so a changed file is parsed
 * again): containers started one after another from one image read the same files. The
 * entries are shared between calls and must not be modified.
 */
class LastParse<T> {
  private text: string | undefined;
  private value: T | undefined;
  constructor(private readonly parse: (text: string) => T) {}
  get(text: string): T {
    if (this.text !== text || this.value === undefined) {
      this.value = this.parse(text);
      this.text = text;
    }
    return this.value;
  }
}

const lastPasswd = new LastParse(parsePasswd);
const lastGroup = new LastParse(parseGroup);

function readInRoot(root: string, file: string): string | undefined {
  const path = resolveInRoot(root, file);
  let read;
  try {
    // O_NOFOLLOW: the resolved path has no links left; one appearing now is a race. O_NONBLOCK:
    // a FIFO planted at /etc/passwd must not hang the caller.
    read = readRegularFile(path, { maxBytes: MAX_USER_FILE_BYTES, nofollow: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new NsError(code, `cannot open ${path}: ${(cause as Error).message}`, { path, syscall: 'open', cause });
  }
  if (!read.ok && read.why === 'not-regular') throw configError(`${path} (${file} in the container) is not a regular file`, path);
  if (!read.ok) throw configError(`${path} is too large (${read.size ?? `more than ${MAX_USER_FILE_BYTES}`} bytes, at most ${MAX_USER_FILE_BYTES})`, path);
  return read.bytes.toString('utf8');
}

/**
 * Read `/etc/passwd` and `/etc/group` of a root filesystem, each resolved with
 * {@link resolveInRoot} so a symlinked file or directory cannot make the host read outside
 * the rootfs (see its TOCTOU note). The last component is opened with O_NOFOLLOW and must be
 * a regular file.
 *
 * @param rootfs the container's root directory on the host, or null for the host's own /etc
 * @returns `{ passwd?, group? }` file texts; a missing file (ENOENT/ENOTDIR) is undefined
 * @throws NsError with the errno name (`EACCES`, `ELOOP` ...) when a file exists but cannot be
 *   read; `ERR_NS_CONFIG` when it is not a regular file or is larger than 32 MiB
 */
export function readUserFiles(rootfs: string | null): { passwd?: string; group?: string } {
  const root = rootfs ?? '/';
  const out: { passwd?: string; group?: string } = {};
  const passwd = readInRoot(root, '/etc/passwd');
  if (passwd !== undefined) out.passwd = passwd;
  const group = readInRoot(root, '/etc/group');
  if (group !== undefined) out.group = group;
  return out;
}
