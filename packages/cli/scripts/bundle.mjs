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
import { chmodSync, writeFileSync } from 'node:fs';
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

/**
 * dist/ns, the installed `ns` (package.json "bin"): a small /bin/sh launcher. It finds the
 * native front (@ns/syscalls' build/Release/ns_front, then prebuilds/<platform>/ns-front, for
 * this machine's architecture: /proc/sys/kernel/arch, or `uname -m` on kernels without it)
 * and execs it as `ns-front DIST/ns.cjs ARGS...`; the front carries out what it can and runs
 * `node DIST/ns.cjs ARGS...` for the rest. Without a front (another architecture, @ns/syscalls
 * not beside @ns/cli, or NS_NO_FRONT set) it runs `node DIST/ns.cjs` itself. An npm bin link
 * is resolved with readlink(1); without readlink, Node resolves it (`node -e`, whose
 * process.argv then has the same shape as `node ns.cjs ARGS...`).
 * Measured: /bin/sh plus this script cost ~0.7 ms of CPU (docs/cli-start.md).
 */
export const LAUNCHER = `#!/bin/sh
# ns: the command of @ns/cli. Runs the native front of @ns/syscalls, else Node (dist/ns.cjs).
# Made by packages/cli/scripts/bundle.mjs; see docs/cli-start.md.
f=$0
if [ -L "$f" ]; then
  f=$(readlink -f -- "$f" 2>/dev/null) || exec node -e 'require(require("fs").realpathSync(process.argv[1]) + ".cjs")' "$0" "$@"
fi
d=\${f%/*}
a=
read -r a 2>/dev/null </proc/sys/kernel/arch || a=$(uname -m 2>/dev/null)
case $a in x86_64) p=linux-x64 ;; aarch64) p=linux-arm64 ;; *) p= ;; esac
if [ -n "$p" ] && [ -z "\${NS_NO_FRONT:-}" ]; then
  for s in "$d/../node_modules/@ns/syscalls" "$d/../../syscalls"; do
    for b in "$s/build/Release/ns_front" "$s/prebuilds/$p/ns-front"; do
      [ -x "$b" ] && exec "$b" "$d/ns.cjs" "$@"
    done
  done
fi
exec node "$d/ns.cjs" "$@"
`;

writeFileSync(`${cli}dist/ns`, LAUNCHER, { mode: 0o755 });
chmodSync(`${cli}dist/ns`, 0o755);
chmodSync(`${cli}dist/ns.cjs`, 0o755);
