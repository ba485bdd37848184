/**
 * Run the bundled `ns` program with a V8 code cache, the way Node 22's
 * `module.enableCompileCache()` does, for Node 20 too.
 *
 * A short CLI spends a good part of its life compiling JavaScript: the bundle's top level at
 * start, then each function the first time it runs. V8 can serialize what it compiled
 * (`vm.Script#createCachedData`, taken at exit, so it holds the functions that ran) and accept
 * it back on the next start (`cachedData`), skipping that work.
 *
 * The cache is code that will run, in a program usually run as root, so it is only read from
 * a directory and a file owned by the effective user and writable by nobody else; anything
 * else is ignored (never an error). V8 itself rejects a cache made by another V8 version,
 * other flags or a source of another length; the file name carries the Node version and the
 * bundle's path, size, inode and times, so a changed or reinstalled bundle never tries an old one.
 *
 * V8 checks a cache's header (version, flags, source length) but, in release builds, not
 * its payload: a damaged file could crash every later run. So V8's own payload checksum
 * (`--verify-snapshot-checksum`) is switched on while a cache is read and while one is made
 * (the flag is part of the cache's flag hash), and off again in between, since other flags
 * than the defaults would make Node's built-in modules miss their own embedded caches.
 *
 * Where: `$XDG_CACHE_HOME/ns`, else `$HOME/.cache/ns`; only created below a directory the
 * user owns (root running with another user's HOME leaves it alone). `NS_COMPILE_CACHE=0`
 * turns it off; so does a Node other than 20 (see CHECKSUM_FLAG_NODE_MAJORS).
 */
import fs = require('node:fs');
import nodeModule = require('node:module');
import path = require('node:path');
import v8 = require('node:v8');
import vm = require('node:vm');

/**
 * The cache folder and where making it may start: `$XDG_CACHE_HOME` (its nearest existing
 * parent when it does not exist yet) or `$HOME` (which must exist). That folder must be the
 * user's own before anything is created below it.
 */
function cacheLocation(env: NodeJS.ProcessEnv): { dir: string; anchor: string; anchorMayBeMissing: boolean } | undefined {
  if (env.NS_COMPILE_CACHE === '0' || !CHECKSUM_FLAG_NODE_MAJORS.includes(process.versions.node.split('.')[0]!)) return undefined;
  if (env.XDG_CACHE_HOME) {
    const xdg = env.XDG_CACHE_HOME;
    return path.isAbsolute(xdg) ? { dir: path.join(xdg, 'ns'), anchor: xdg, anchorMayBeMissing: true } : undefined;
  }
  const home = env.HOME;
  return home && path.isAbsolute(home) ? { dir: path.join(home, '.cache', 'ns'), anchor: home, anchorMayBeMissing: false } : undefined;
}

/**
 * Node versions whose V8 is known to have `--verify-snapshot-checksum` (an unknown flag would
 * print an error on every run): the cache is used on these only; others run the bundle
 * without one. Node 22+ has `module.enableCompileCache()`, the better way there.
 */
const CHECKSUM_FLAG_NODE_MAJORS = ['20'];

/** V8 verifies a code cache's payload checksum while `fn` runs (see the module note). */
function withChecksums<T>(fn: () => T): T {
  // The flag changes cachedDataVersionTag (it is part of the flag hash): no change means it
  // was on already (command line, or a V8 that has it on by default), and it stays on.
  const before = v8.cachedDataVersionTag();
  v8.setFlagsFromString('--verify-snapshot-checksum');
  const wasOn = v8.cachedDataVersionTag() === before;
  try {
    return fn();
  } finally {
    if (!wasOn) v8.setFlagsFromString('--no-verify-snapshot-checksum');
  }
}

/** Owned by the effective user and not writable by group or others. */
function ownedAndPrivate(st: fs.Stats): boolean {
  return st.uid === (process.geteuid?.() ?? st.uid) && (st.mode & 0o022) === 0;
}

/** FNV-1a of a string, as 8 hex digits (names the cache of one bundle path; not security). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The cache file's bytes, or undefined (missing, or not safe to trust: see the module note). */
function readCache(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || !ownedAndPrivate(st) || !ownedAndPrivate(fs.lstatSync(path.dirname(file)))) return undefined;
    return fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Caches kept per bundle (one per variant, the least recently written dropped first). */
const MAX_VARIANTS = 8;

/** Caches of other bundle paths are removed when written this long ago (ms). */
const UNUSED_OTHER_MS = 30 * 24 * 3600 * 1000;

/** A temporary file left by a writer that died is removed after this long (ms). */
const STALE_TMP_MS = 10 * 60 * 1000;

/**
 * Make the cache folder under `anchor` (or, when it may be missing, its nearest existing
 * parent), which must be a folder of the user's own, one level at a time, private; true when
 * the cache folder exists and is the user's own and private.
 */
function makeCacheDir(dir: string, anchor: string, anchorMayBeMissing: boolean): boolean {
  let from = anchor;
  let top = fs.lstatSync(from, { throwIfNoEntry: false });
  while (!top && anchorMayBeMissing && path.dirname(from) !== from) {
    from = path.dirname(from);
    top = fs.lstatSync(from, { throwIfNoEntry: false });
  }
  if (!top || !top.isDirectory() || top.uid !== (process.geteuid?.() ?? top.uid)) return false;
  let at = from;
  for (const part of path.relative(from, dir).split(path.sep)) {
    at = path.join(at, part);
    try {
      fs.mkdirSync(at, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const st = fs.lstatSync(dir);
  return st.isDirectory() && ownedAndPrivate(st);
}

/**
 * Write `data` as `file` (a private temporary file, written whole, renamed over it; removed
 * on any failure); drop the caches of the same bundle path made for another Node or another
 * build of it (names not starting with `current`), the oldest variants beyond
 * {@link MAX_VARIANTS}, and temporary files of writers that died.
 */
function writeCache(file: string, data: Buffer, current: string, location: { anchor: string; anchorMayBeMissing: boolean }): void {
  const dir = path.dirname(file);
  if (!makeCacheDir(dir, location.anchor, location.anchorMayBeMissing)) return;
  const tmp = `${file}.${process.pid}.tmp`;
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    try {
      for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done, data.length - done);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const samePath = `${current.split('-')[0]}-`;
  const variants: { entry: string; mtime: number }[] = [];
  const now = Date.now();
  for (const name of fs.readdirSync(dir)) {
    const entry = path.join(dir, name);
    const ours = name.startsWith(samePath);
    const isCache = name.endsWith('.cache');
    if (ours && isCache && !name.startsWith(`${current}.`)) {
      fs.rmSync(entry, { force: true }); // another Node or another build of this bundle
      continue;
    }
    const st = fs.lstatSync(entry, { throwIfNoEntry: false });
    if (!st) continue;
    // Caches of other bundle paths (other installs) go when unused for a month: reading one
    // does not touch it, so its write time is when it was made.
    const stale = ours ? name.endsWith('.tmp') && now - st.mtimeMs > STALE_TMP_MS : st.isFile() && isCache && now - st.mtimeMs > UNUSED_OTHER_MS;
    if (stale) fs.rmSync(entry, { force: true });
    else if (ours && isCache) variants.push({ entry, mtime: st.mtimeMs });
  }
  variants.sort((a, b) => b.mtime - a.mtime);
  for (const old of variants.slice(MAX_VARIANTS)) fs.rmSync(old.entry, { force: true });
}

/**
 * Run `file` (a CommonJS bundle) as the program, as `require(file)` would, compiled with the
 * code cache when one is there and trusted; at exit, write a cache when there was none or V8
 * rejected it. Cache trouble of any kind is ignored: the program runs the same without one.
 *
 * Each `variant` (what kind of `ns` call: see {@link commandVariant}) has its own cache: what
 * V8 serializes is what ran, so a cache taken at exit of `ns --version` holds little of `ns run`.
 *
 * @param file absolute path of the bundle
 * @param options.env where `XDG_CACHE_HOME`, `HOME` and `NS_COMPILE_CACHE` are read (process.env)
 * @param options.variant names the cache among those of `file` (other characters than
 *   `[a-z0-9-]`, or more than 40, make it a hash)
 * @returns `file`: the cache file read or to be written at exit (none without a usable cache
 *   directory); `used`: whether V8 accepted a cache (for tests)
 */
function runWithCompileCache(
  file: string,
  options: { env?: NodeJS.ProcessEnv; variant?: string } = {},
): { file?: string; used: boolean } {
  const location = cacheLocation(options.env ?? process.env);
  const dir = location?.dir;
  const v = options.variant ?? 'default';
  const variant = /^[a-z0-9-]{1,40}$/.test(v) ? v : fnv1a(v);
  let base = '';
  let cacheFile: string | undefined;
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
    const st = fs.statSync(file);
    if (dir) {
      // V8 checks a cache against the source's length only: the file's identity and times
      // stand for its content (any write changes ctime).
      const stamp = fnv1a(`${st.ino}:${st.mtimeMs}:${st.ctimeMs}`);
      base = [fnv1a(file), process.version, process.arch, st.size, stamp].join('-');
      cacheFile = path.join(dir, `${base}.${variant}.cache`);
    }
  } catch {
    require(file);
    return { used: false };
  }
  const cachedData = cacheFile ? readCache(cacheFile) : undefined;
  // A leading #! line is not JavaScript inside the CommonJS wrapper; keep its length for columns.
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  const compile = () => new vm.Script(nodeModule.wrap(body), { filename: file, ...(cachedData ? { cachedData } : {}) });
  const script = cachedData ? withChecksums(compile) : compile();
  if (cacheFile && location && (!cachedData || script.cachedDataRejected)) {
    const target = cacheFile;
    process.once('exit', () => {
      try {
        writeCache(target, withChecksums(() => script.createCachedData()), base, location);
      } catch {
        // no cache then: read-only home, full disk, a directory owned by someone else
      }
    });
  }
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  const mod = { exports: {}, filename: file, id: '.', loaded: false, children: [], paths: [], path: path.dirname(file) };
  fn.call(mod.exports, mod.exports, nodeModule.createRequire(file), mod, file, path.dirname(file));
  return { ...(cacheFile ? { file: cacheFile } : {}), used: cachedData !== undefined && !script.cachedDataRejected };
}

/**
 * What kind of `ns` call `args` (process.argv.slice(2)) is, for {@link runWithCompileCache}:
 * the command and the option names before `--`, without values (`run-dry-run-rootfs`), so
 * `ns run --dry-run` and `ns run` keep apart caches while runs differing only in paths,
 * ids and the container's command share one.
 */
function commandVariant(args: readonly string[]): string {
  const end = args.indexOf('--');
  const head = end < 0 ? args : args.slice(0, end);
  // The value of a global option (`--log-format json`, `--rootless true`) is no command.
  const valued = new Set(['--root', '--log', '--log-format', '--rootless']);
  const command = head.find((a, i) => /^[a-z]+$/.test(a) && !valued.has(head[i - 1] ?? '')) ?? 'none';
  const flags = [...new Set(head.filter((a) => a.startsWith('-')).map((a) => a.replace(/^-+/, '').replace(/=.*$/s, '').toLowerCase()))];
  return [command, ...flags.sort()].join('-').replace(/[^a-z0-9-]/g, '');
}

export = { runWithCompileCache, commandVariant };
