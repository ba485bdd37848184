/**
 * `ns spec [--bundle DIR] [--rootfs DIR] [--args ARG...] [-- CMD ARGS...]`: write a default
 * config.json into a bundle directory, as `runc spec` does. It never overwrites one unless
 * `--force` is given.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCode, NsError, defaultOciSpec, parseOciSpec } from '@ns/namespaces';
import { EXIT, errorLine } from '../errors.js';
import type { ResolvedIo } from '../io.js';

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
 * Write the default config.json for `options` and return its path.
 * @param cwd directory a relative (or absent) `--bundle` is taken from
 * @throws NsError `ERR_NS_STATE` when config.json exists (without `force`), `ERR_NS_NOT_FOUND`
 *   when the bundle directory does not exist, `ERR_NS_CONFIG` for conflicting options, an
 *   errno name when the file cannot be written.
 */
export function writeSpec(options: SpecOptions, cwd: string): string {
  const bundle = resolve(cwd, options.bundle ?? '.');
  const file = join(bundle, 'config.json');
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
  parseOciSpec(spec); // what we write must read back
  try {
    writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`, { flag: options.force ? 'w' : 'wx', mode: 0o644 });
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
    writeSpec(options, io.cwd);
    return 0;
  } catch (err) {
    io.stderr(errorLine(err));
    return EXIT.FAILURE;
  }
}
