/**
 * The container's seccomp profile (`Container.seccomp`, OCI `linux.seccomp`), checked at the
 * edge by @ns/seccomp: a bad field fails before anything is made, naming its JSON path.
 */
import { readFileSync } from 'node:fs';
import { SeccompError, checkProfile, isMobyProfile, resolveMobyProfile, type LinuxSeccomp } from '@ns/seccomp';
import { ErrorCode, NsError, configError } from '@ns/syscalls';
import { checkCalls, compiledSeccomp } from '../plan/seccomp.js';

/** `Container.seccomp`: an OCI profile, or `'default'` (moby's default profile, resolved against the process's bounding set). */
export type SeccompConfig = LinuxSeccomp | 'default';

/**
 * Check a seccomp profile as @ns/seccomp's checkProfile(), with errors as this package's.
 * @param value `Container.seccomp` (undefined: no filter)
 * @param path its JSON path in messages: `seccomp` (a Container) or `linux.seccomp` (config.json)
 * @throws NsError `ERR_NS_CONFIG` naming the field (`linux.seccomp.syscalls[3].action`),
 *   `error.path` that field.
 */
export function checkSeccomp(value: unknown, path = 'seccomp'): void {
  if (value === undefined || value === 'default') return;
  try {
    checkProfile(value, path);
  } catch (err) {
    throw asConfigError(err);
  }
}

/** A SeccompError as this package's NsError (`ERR_NS_CONFIG`, `path` the JSON path); anything else as it is. */
export function asConfigError(err: unknown): unknown {
  if (!(err instanceof SeccompError)) return err;
  const out = configError(err.message, err.jsonPath);
  return out instanceof NsError ? Object.assign(out, { cause: err }) : out;
}

/**
 * OCI `linux.seccomp` as `Container.seccomp`: checked (an unknown action, operator,
 * architecture or flag, a bad errnoRet, more than 6 args ... fail naming the field), copied.
 * @throws NsError `ERR_NS_CONFIG`: `config.json: linux.seccomp.syscalls[3].action: unknown action ...`
 */
export function ociSeccomp(value: unknown): LinuxSeccomp {
  try {
    checkProfile(value, 'linux.seccomp');
  } catch (err) {
    if (err instanceof SeccompError) throw Object.assign(configError(`config.json: ${err.message}`, err.jsonPath), { cause: err });
    throw err;
  }
  const profile = structuredClone(value) as LinuxSeccomp;
  // A profile that denies execve itself: said now, naming the field of config.json.
  try {
    checkCalls(compiledSeccomp(profile, 'linux.seccomp'), ['execve'], 'linux.seccomp');
  } catch (err) {
    if (err instanceof NsError) throw new NsError(err.code, `config.json: ${err.message}`, { path: 'linux.seccomp', cause: err });
    throw err;
  }
  return profile;
}

/**
 * A seccomp profile file, as Docker's `--security-opt seccomp=FILE` reads one: an OCI
 * `linux.seccomp` object, or moby's format (default.json and its edits: `archMap`,
 * `includes` / `excludes`), resolved for a process with the bounding set `capabilities`.
 *
 * @param file path of the JSON file
 * @param capabilities the container's bounding set, by name (for moby's `includes.caps` ...)
 * @throws NsError `ERR_NS_NOT_FOUND` for a missing file, an errno name when it cannot be read,
 *   `ERR_NS_CONFIG` when it is not JSON or not a valid profile (`FILE: syscalls[2].action: ...`).
 */
export function loadSeccompProfile(file: string, capabilities: Iterable<string>): LinuxSeccomp {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') throw new NsError(ErrorCode.NOT_FOUND, `seccomp profile ${file} does not exist`, { path: file, cause });
    throw new NsError(code, `cannot read seccomp profile ${file}: ${(cause as Error).message}`, { path: file, syscall: 'open', cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new NsError(ErrorCode.CONFIG, `${file}: invalid JSON: ${(cause as Error).message}`, { path: file, cause });
  }
  const profile = isMobyProfile(json) ? resolveMobyProfile(json, { capabilities }) : json;
  try {
    checkProfile(profile, 'seccomp');
  } catch (err) {
    if (err instanceof SeccompError) {
      const rest = err.message.slice('seccomp'.length).replace(/^\./, '').replace(/^: /, '');
      throw new NsError(ErrorCode.CONFIG, `${file}: ${rest}`, { path: err.jsonPath, cause: err });
    }
    throw err;
  }
  return profile as LinuxSeccomp;
}
