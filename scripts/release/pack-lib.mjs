// What a published @ns package must look like, checked on the tarball `pnpm pack` makes (the
// same one `pnpm publish` and `changeset publish` upload). Used by packages/*/test/
// packaging.test.ts and by scripts/release/lint-packages.mjs.
//
//   const { tarball, entries, manifest } = packPackage('packages/syscalls', tmpDir);
//   tarballProblems(pkgDir, entries, manifest)   -> ['dist/foo.js.map: not a published kind of file', ...]
//   await publintProblems(tarball)               -> publint's warnings and errors, formatted
//   attwProblems(tarball)                        -> @arethetypeswrong/cli, profile esm-only
//
// Every function is synchronous except publintProblems; none writes outside the folder given.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The published packages, in dependency order (folder name under packages/). */
export const PACKAGES = ['capabilities', 'cgroups', 'seccomp', 'syscalls', 'namespaces', 'sandbox', 'cli'];

/** Platforms @ns/syscalls ships prebuilt, as prebuilds/<dir>/<file>. */
export const PREBUILT = [
  { dir: 'linux-x64', file: '@ns+syscalls.glibc.node', machine: 62 },
  { dir: 'linux-arm64', file: '@ns+syscalls.glibc.node', machine: 183 },
];

const require = createRequire(import.meta.url);

/**
 * `pnpm pack` PKGDIR into DEST (a folder that exists).
 * @returns {{ tarball: string, entries: TarEntry[], manifest: Record<string, any> }}
 *   entries' paths are relative to the tarball's `package/` folder.
 */
export function packPackage(pkgDir, dest) {
  const r = spawnSync('pnpm', ['pack', '--pack-destination', dest, '--json'], {
    cwd: pkgDir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0) throw new Error(`pnpm pack in ${pkgDir} failed (${r.status}): ${r.stderr || r.stdout}`);
  const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  const tarball = isAbsolute(json.filename) ? json.filename : join(dest, basename(json.filename));
  const entries = readTarball(tarball);
  const pkgJson = entries.find((e) => e.path === 'package.json');
  if (!pkgJson) throw new Error(`${tarball} has no package/package.json`);
  return { tarball, entries, manifest: JSON.parse(pkgJson.data.toString('utf8')) };
}

/**
 * @typedef {{ path: string, mode: number, size: number, type: string, data: Buffer }} TarEntry
 * The regular files of a .tgz (ustar, with pax or GNU long names), paths without `package/`.
 * @returns {TarEntry[]}
 */
export function readTarball(file) {
  const buf = gunzipSync(readFileSync(file));
  const out = [];
  let longName;
  for (let off = 0; off + 512 <= buf.length; ) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a, b) => header.toString('utf8', a, b).replace(/\0.*$/s, '');
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = str(156, 157) || '0';
    const data = buf.subarray(off + 512, off + 512 + size);
    let name = str(345, 500) ? `${str(345, 500)}/${str(0, 100)}` : str(0, 100);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (longName) [name, longName] = [longName, undefined];
    if (type === '5') continue; // directories
    out.push({
      path: name.replace(/^[^/]+\//, ''),
      mode: parseInt(str(100, 108).trim() || '0', 8),
      size,
      type: type === '0' ? 'file' : type,
      data,
    });
  }
  return out;
}

/** Package names a JavaScript file imports or requires by bare specifier (not node: builtins). */
export function bareImports(source) {
  const names = new Set();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"\s]+)['"]/gm;
  for (const m of source.matchAll(re)) {
    const spec = m[1];
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
    if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/[\w./-]*)?$/i.test(spec)) continue; // not a specifier
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (builtinModules.includes(name)) continue;
    names.add(name);
  }
  return names;
}

const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];

/** The versions of the workspace packages, by name (`@ns/syscalls` -> `0.1.0`). */
export function workspaceVersions() {
  const out = {};
  for (const p of PACKAGES) {
    const m = JSON.parse(readFileSync(join(ROOT, 'packages', p, 'package.json'), 'utf8'));
    out[m.name] = m.version;
  }
  return out;
}

/**
 * What is wrong with a packed package, as one line each (empty when all is well):
 * only package.json, README.md, LICENSE, CHANGELOG.md, dist/**\/*.js and .d.ts (each with its
 * source under src/, so no stale outputs), and for @ns/syscalls prebuilds/linux-*\/*.node and
 * prebuilds/linux-*\/ns-front;
 * no sources, tests, maps, build/ or binding.gyp; the entry points, types and bin exist; no
 * `workspace:` or `catalog:` range; @ns dependencies as ^<version>; every bare import in dist
 * declared; engines.node >= 20; no install-time scripts.
 * @param {string} pkgDir the package folder in the workspace (for src/ and versions)
 * @param {{ stale?: boolean }} [options] stale: false skips the stale-output check (a
 *   developer's dist/ may hold files of deleted sources; a release builds from clean)
 */
export function tarballProblems(pkgDir, entries, manifest, options = {}) {
  const checkStale = options.stale ?? true;
  const problems = [];
  const paths = new Set(entries.map((e) => e.path));
  const isSyscalls = manifest.name === '@ns/syscalls';
  for (const e of entries) {
    const p = e.path;
    if (/(^|\/)(src|test|tests|build|node_modules)\//.test(p) && !p.startsWith('dist/')) problems.push(`${p}: sources, tests or build outputs are not published`);
    else if (p === 'package.json' || p === 'README.md' || p === 'CHANGELOG.md' || /^LICEN[CS]E(\.md|\.txt)?$/.test(p)) continue;
    else if (/^dist\/[^/]+-bundle\.cjs$/.test(p)) continue; // a bundler's output (packages/cli/scripts/bundle.mjs)
    else if (Object.values(manifest.bin ?? {}).some((f) => typeof f === 'string' && f.replace(/^\.\//, '') === p)) continue; // a bin script (@ns/cli's dist/ns launcher)
    else if (/^dist\/.+\.(js|d\.ts|cjs|d\.cts)$/.test(p)) {
      const src = join(pkgDir, 'src', p.slice('dist/'.length).replace(/\.(js|d\.ts)$/, '.ts').replace(/\.(cjs|d\.cts)$/, '.cts'));
      if (checkStale && !existsSync(src) && !existsSync(src.replace(/\.ts$/, '.tsx'))) problems.push(`${p}: stale build output (no ${relative(pkgDir, src)}); rebuild dist/ from clean`);
    } else if (isSyscalls && /^prebuilds\/linux-(x64|arm64)\/(@ns\+syscalls\.(glibc|musl)\.node|ns-front)$/.test(p)) continue;
    else problems.push(`${p}: not a published kind of file`);
  }
  for (const need of ['package.json', 'README.md', 'LICENSE']) if (!paths.has(need)) problems.push(`${need}: missing`);

  const target = (t) => (typeof t === 'string' ? t.replace(/^\.\//, '') : undefined);
  const mustExist = [target(manifest.main), target(manifest.types)];
  const walk = (v) => {
    if (typeof v === 'string') mustExist.push(target(v));
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(manifest.exports);
  for (const f of mustExist) if (f && !f.includes('*') && !paths.has(f)) problems.push(`${f}: named in package.json but not in the tarball`);
  if (!manifest.exports?.['.']?.types) problems.push('exports["."].types: missing');
  else if (Object.keys(manifest.exports['.'])[0] !== 'types') problems.push('exports["."]: "types" must come first');
  for (const [name, file] of Object.entries(manifest.bin ?? {})) {
    const e = entries.find((x) => x.path === target(file));
    // @ns/syscalls' ns-front (a bin so that packing and npm keep it executable): an ELF file,
    // absent from a developer's pack until prebuild.sh made it (check-prebuilds guards a publish).
    if (isSyscalls && /^prebuilds\/linux-(x64|arm64)\/ns-front$/.test(target(file) ?? '')) {
      if (e && (e.mode & 0o111) === 0) problems.push(`bin ${name}: ${file} is not executable`);
      continue;
    }
    if (!e) problems.push(`bin ${name}: ${file} not in the tarball`);
    // A Node script, or @ns/cli's `ns`: a /bin/sh launcher of the native front (packages/cli/scripts/bundle.mjs).
    else if (!/^#!\/usr\/bin\/env node\n|^#!\/bin\/sh\n/.test(e.data.toString('utf8', 0, 64))) problems.push(`bin ${name}: ${file} has no #!/usr/bin/env node (or #!/bin/sh) line`);
    else if ((e.mode & 0o111) === 0) problems.push(`bin ${name}: ${file} is not executable`);
  }

  if (manifest.type !== 'module') problems.push('type: expected "module"');
  if (manifest.engines?.node !== '>=20') problems.push(`engines.node: expected ">=20", got ${JSON.stringify(manifest.engines?.node)}`);
  if (manifest.license !== 'Apache-2.0') problems.push(`license: expected Apache-2.0`);
  for (const s of ['preinstall', 'install', 'postinstall']) {
    if (manifest.scripts?.[s]) problems.push(`scripts.${s}: published packages run nothing at install ("${manifest.scripts[s]}")`);
  }
  if (manifest.gypfile === true) problems.push('gypfile: true makes npm run node-gyp rebuild at install');

  const versions = workspaceVersions();
  const declared = new Set();
  for (const field of [...DEP_FIELDS, 'devDependencies']) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|catalog|link|file):/.test(range)) problems.push(`${field}.${name}: "${range}" is not a registry range`);
      if (field !== 'devDependencies' && versions[name] && range !== `^${versions[name]}`) {
        problems.push(`${field}.${name}: expected "^${versions[name]}", got "${range}"`);
      }
      if (field !== 'devDependencies') declared.add(name);
    }
  }
  for (const e of entries) {
    if (!e.path.endsWith('.js')) continue;
    for (const name of bareImports(e.data.toString('utf8'))) {
      if (!declared.has(name) && name !== manifest.name) problems.push(`${e.path}: imports ${name}, which is not in dependencies`);
    }
  }
  return problems;
}

/** publint (strict: warnings count) on the tarball itself: formatted messages, empty when clean. */
export async function publintProblems(tarball) {
  const { publint } = await import('publint');
  const { formatMessage } = await import('publint/utils');
  const data = readFileSync(tarball);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const { messages, pkg } = await publint({ pack: { tarball: ab }, level: 'warning', strict: true });
  return messages
    .filter((m) => m.type !== 'suggestion')
    // @ns/syscalls' ns-front bins (prebuilds/<platform>/ns-front) are absent from a developer's
    // pack until scripts/release/prebuild.sh made them; check-prebuilds guards a publish.
    .filter((m) => !(m.code === 'FILE_DOES_NOT_EXIST' && m.path?.[0] === 'bin' && /^ns-front-linux-/.test(m.path?.[1] ?? '')))
    .map((m) => `publint ${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`);
}

/**
 * @arethetypeswrong/cli on the tarball with the `esm-only` profile (these packages are ESM
 * only: a CommonJS `require` of them is not a supported way in). Empty when it passes.
 */
export function attwProblems(tarball) {
  const bin = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist/index.js');
  const r = spawnSync(process.execPath, [bin, '--profile', 'esm-only', '--format', 'json', '--no-definitely-typed', tarball], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  if (r.status === 0) return [];
  let detail = r.stderr || r.stdout;
  try {
    const j = JSON.parse(r.stdout);
    detail = JSON.stringify(j.problems ?? j.analysis?.problems ?? j);
  } catch {}
  return [`attw (esm-only) failed (${r.status}): ${detail.slice(0, 2000)}`];
}

/** The prebuilds present in a @ns/syscalls folder, as `linux-x64/@ns+syscalls.glibc.node` and `linux-x64/ns-front`. */
export function localPrebuilds(pkgDir) {
  const dir = join(pkgDir, 'prebuilds');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)).filter((f) => f.endsWith('.node') || f === 'ns-front').map((f) => `${d}/${f}`));
}
