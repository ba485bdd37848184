#!/usr/bin/env node
/**
 * The installed `ns` executable: runs dist/ns-bundle.cjs (all of the CLI and its @ns
 * libraries in one file, see scripts/bundle.mjs) with a V8 code cache (compile-cache.cts).
 */
import path = require('node:path');
import compileCache = require('./compile-cache.cjs');

// One cache per kind of call (`ns run --rootfs`, `ns exec -t` ...): each holds the code it runs.
compileCache.runWithCompileCache(path.join(__dirname, 'ns-bundle.cjs'), {
  variant: compileCache.commandVariant(process.argv.slice(2)),
});
