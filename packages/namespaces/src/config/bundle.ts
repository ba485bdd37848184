/**
 * An OCI bundle (runtime-spec bundle.md) as a container: what `ns run --bundle DIR` starts.
 */
import { join, resolve } from 'node:path';
import { NsError } from '@ns/syscalls';
import type { Container } from './container.js';
import { loadOciSpec, specToContainer } from './oci.js';
import { ociWarnings } from './oci-warnings.js';

/**
 * Read the bundle `bundleDir` as runc does: `<bundleDir>/config.json` validated against the
 * schema once ({@link loadOciSpec}), its warnings ({@link ociWarnings}: fields not applied
 * yet, capability names left out) and the {@link Container} it describes (as {@link
 * fromOciSpec}, with the bundle directory made absolute as `bundle`).
 *
 * @param options `id`: the container id; `args`: a command standing in for `process.args`
 *   (also when config.json has none), as `ns run --bundle DIR -- CMD` gives one
 * @throws NsError as loadOciSpec() and fromOciSpec(): `ERR_NS_NOT_FOUND` without a
 *   config.json, `ERR_NS_CONFIG` naming the JSON path of a bad field. Every message about
 *   the file starts with its full path, as loadOciSpec()'s
 *   (`/b/config.json: process.env[0]: expected KEY=value ...`), where fromOciSpec(), which
 *   has a spec and no file, says `config.json: `.
 */
export function containerFromBundle(
  bundleDir: string,
  options: { id: string; args?: string[] },
): { container: Container; warnings: string[] } {
  const spec = loadOciSpec(bundleDir);
  const warnings = ociWarnings(spec);
  try {
    const container = specToContainer(spec, { bundle: bundleDir, id: options.id, ...(options.args?.length ? { args: options.args } : {}) });
    return { container, warnings };
  } catch (err) {
    throw inFile(err, join(resolve(bundleDir), 'config.json'));
  }
}

/** An error of fromOciSpec() that names `config.json: ` as one naming `file` (the same code and `path`); others as they are. */
function inFile(err: unknown, file: string): unknown {
  const prefix = 'config.json: ';
  if (!(err instanceof NsError) || !err.message.startsWith(prefix)) return err;
  return new NsError(err.code, `${file}: ${err.message.slice(prefix.length)}`, {
    cause: err,
    ...(err.path === undefined ? {} : { path: err.path }),
    ...(err.syscall === undefined ? {} : { syscall: err.syscall }),
    ...(err.errno === undefined ? {} : { errno: err.errno }),
  });
}
