// Bundle the `ns` program into one file (dist/ns-bundle.cjs) after tsc has built dist/; the
// `ns` executable (dist/ns.cjs, from src/ns.cts) runs it with a V8 code cache.
//
// Why: `ns` is a short-lived process, and Node 20 spends most of a short CLI's life loading
// modules: resolving, reading and compiling ~60 ES modules of @ns/* and commander cost more
// than starting the container. One CommonJS file loads in a single compile, without the ESM
// loader's per-module resolution (see docs/benchmarks.md, "CLI").
//
// Left out of the bundle, and so dependencies of @ns/cli itself:
// - @ns/syscalls' native addon (a .node file found by node-gyp-build in that package),
// - proper-lockfile, which the code loads lazily with require() on first use.
// zod is in the bundle (see lazyZod), loaded on first use too.
import { chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

/**
 * commander loads node:child_process at import, only to run `git-style` executable
 * subcommands, which ns has none of: load it on first use instead (~4 ms of every start).
 */
const lazyChildProcess = {
  name: 'ns-lazy-child-process',
  transform(code, id) {
    if (!/[\\/]commander[\\/]lib[\\/]command\.js$/.test(id)) return null;
    const eager = "const childProcess = require('node:child_process');";
    if (!code.includes(eager)) throw new Error(`${id}: expected \`${eager}\` (commander changed; update scripts/bundle.mjs)`);
    return code.replace(eager, "const childProcess = { get spawn() { return require('node:child_process').spawn; } };");
  },
};

/**
 * @ns/namespaces loads zod on first use (`createRequire(import.meta.url)('zod/mini')` in
 * config/oci.js: the config.json schema), and the library gets all of zod/mini so. Here that
 * require takes the library's config/zod.js instead, the parts of zod/mini the schema is built
 * with: rolldown bundles it with only what those need, as a module initialized on its first
 * require. So `ns run --bundle` finds zod in the V8 code cache like the rest of ns, and a start
 * without a config.json never initializes it.
 */
const namespacesDist = dirname(createRequire(import.meta.url).resolve('@ns/namespaces'));
const lazyZod = {
  name: 'ns-lazy-zod',
  transform(code, id) {
    if (id !== join(namespacesDist, 'config', 'oci.js')) return null;
    const lazy = "createRequire(import.meta.url)('zod/mini')";
    if (!code.includes(lazy)) throw new Error(`${id}: expected \`${lazy}\` (@ns/namespaces changed; update scripts/bundle.mjs)`);
    return code.replace(lazy, `require(${JSON.stringify(join(namespacesDist, 'config', 'zod.js'))})`);
  },
};

const cli = fileURLToPath(new URL('..', import.meta.url));
const file = `${cli}dist/ns-bundle.cjs`;

await build({
  input: `${cli}dist/bin.js`,
  cwd: cli,
  platform: 'node',
  logLevel: 'warn',
  plugins: [lazyChildProcess, lazyZod],
  // One file: `ns run`'s limit mode loads @ns/sandbox with import() (run-limits.ts); inlined
  // here, it stays a module initialized on that first import, not at every start.
  output: { file, format: 'cjs', minify: process.env.NS_BUNDLE_MINIFY !== '0', sourcemap: false, codeSplitting: false },
});
chmodSync(`${cli}dist/ns.cjs`, 0o755);
