/**
 * `ns spec [--bundle DIR] [--rootfs DIR] [--args ARG...] [-- CMD ARGS...]`: write a default
 * config.json into a bundle directory, as `runc spec` does. It never overwrites one unless
 * `--force` is given.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, NsError, defaultOciSpec, fromOciSpec, parseOciSpec, validateContainer } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import { absolutePath, baseDir, type ResolvedIo } from '../io.js';

/** The options of `ns spec`. */
export interface SpecOptions {
  /** `-b, --bundle DIR`: where config.json goes (default: the working directory). */
  bundle?: string;
  /** `--rootfs DIR`: `root.path`, relative to the bundle (default `rootfs`). */
  rootfs?: string;
  /** `--args ARG...`: `process.args` (default `sh`). */
  args?: string[];
  /** The command after `--`: `process.args` too (cannot be combined with `--args`). */
  command?: string[];
  /** `--hostname NAME` (default `ns`). */
  hostname?: string;
  /** `--no-terminal` sets false: `process.terminal` (default true, as runc). */
  terminal?: boolean;
  /** `--force`: replace an existing config.json. */
  force?: boolean;
}

/**
 * Check that `spec` is a config.json `ns run` accepts (apart from the root filesystem, which
 * need not exist yet): parseOciSpec(), fromOciSpec() and validateContainer().
 * @throws NsError `ERR_NS_CONFIG` naming the field.
 */
function checkSpec(spec: unknown, bundle: string): void {
  try {
    const container = fromOciSpec(parseOciSpec(spec), { bundle, id: 'spec-check' });
    validateContainer({ ...container, rootfs: null });
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    throw new NsError(ErrorCode.CONFIG, `the config.json would be invalid: ${err.message.replace(/^config\.json: /, '')}`, { cause: err });
  }
}

/**
 * Write the default config.json for `options` and return its path. What it writes is
 * checked first (see {@link checkSpec}): a bad `--hostname` or command is refused.
 * @param cwd directory a relative (or absent) `--bundle` is taken from; null when the
 *   working directory no longer exists (then `--bundle` must be absolute)
 * @throws NsError `ERR_NS_STATE` when config.json exists (without `force`), `ERR_NS_NOT_FOUND`
 *   when the bundle directory does not exist, `ERR_NS_CONFIG` for conflicting options or an
 *   invalid config, an errno name when the file cannot be written.
 */
export function writeSpec(options: SpecOptions, cwd: string | null): string {
  if (options.bundle === undefined && cwd === null) {
    throw new NsError('ENOENT', 'the working directory no longer exists: give the bundle directory with --bundle DIR', { path: '.' });
  }
  const bundle = absolutePath(cwd, options.bundle ?? '.', '--bundle');
  const file = join(bundle, 'config.json');
  if (options.hostname === '') throw new NsError(ErrorCode.CONFIG, '--hostname: empty', { path: 'hostname' });
  const hasCommand = options.command !== undefined && options.command.length > 0;
  if (hasCommand && options.args !== undefined) {
    throw new NsError(ErrorCode.CONFIG, 'give the command either with --args or after --, not both', { path: 'args' });
  }
  const args = hasCommand ? options.command : options.args;
  const spec = defaultOciSpec({
    ...(args !== undefined ? { args } : {}),
    ...(options.rootfs !== undefined ? { rootfs: options.rootfs } : {}),
    ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
    ...(options.terminal !== undefined ? { terminal: options.terminal } : {}),
  });
  checkSpec(spec, bundle); // what we write must read back, and run
  try {
    const text = `${JSON.stringify(spec, null, 2)}\n`;
    if (options.force) {
      // A file of its own renamed over config.json: a symlink there is replaced, never written
      // through (it could lead anywhere the caller may write).
      const tmp = join(bundle, `.config.json.${process.pid}.tmp`);
      writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
      try {
        renameSync(tmp, file);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
    } else {
      writeFileSync(file, text, { flag: 'wx', mode: 0o644 });
    }
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'EEXIST') {
      throw new NsError(ErrorCode.STATE, `${file} already exists (use --force to replace it)`, { path: file, cause });
    }
    if (code === 'ENOENT') {
      throw new NsError(ErrorCode.NOT_FOUND, `bundle directory ${bundle} does not exist`, { path: bundle, cause });
    }
    throw new NsError(code, `cannot write ${file}: ${(cause as Error).message}`, { path: file, syscall: 'open', cause });
  }
  return file;
}

/** `ns spec`: 0 when config.json was written, 125 (with one `ns: ...` line) otherwise. */
export function specCommand(options: SpecOptions, io: ResolvedIo): number {
  try {
    writeSpec(options, baseDir(io));
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
