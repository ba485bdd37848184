/**
 * An OCI bundle (runtime-spec bundle.md) as a container: what `ns run --bundle DIR` starts.
 */
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
 *   config.json, `ERR_NS_CONFIG` naming the JSON path of a bad field.
 */
export function containerFromBundle(
  bundleDir: string,
  options: { id: string; args?: string[] },
): { container: Container; warnings: string[] } {
  const spec = loadOciSpec(bundleDir);
  const warnings = ociWarnings(spec);
  const container = specToContainer(spec, { bundle: bundleDir, id: options.id, ...(options.args?.length ? { args: options.args } : {}) });
  return { container, warnings };
}
