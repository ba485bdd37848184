/**
 * The parts of zod (its functional `zod/mini` API) the config.json schema is built with
 * (oci-schema.ts). The library loads `zod/mini` on first use (`require`, see oci.ts); the `ns`
 * executable bundles this module instead (packages/cli/scripts/bundle.mjs), so that only these
 * parts are bundled, loaded on first use too, inside the CLI's V8 code cache.
 */
export { array, boolean, enum, int, lazy, looseObject, maximum, minLength, minimum, number, optional, record, refine, string } from 'zod/mini';

/** The zod functions the schema is built with (this module's exports). */
export type ZodApi = typeof import('./zod.js');
