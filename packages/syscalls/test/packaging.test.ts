// The tarball `pnpm pack` makes (what `pnpm publish` uploads), and how its loader behaves in
// that layout. Published: dist/*.js, dist/*.d.ts, README.md, package.json and the prebuilt
// binaries prebuilds/linux-{x64,arm64}/@ns+syscalls.glibc.node (made by
// scripts/release/prebuild.sh; absent from a developer's tree until then). Not published:
// binding.gyp, src/ (C++ and TypeScript), front/ (the C of ns-front, shipped built as
// prebuilds/<platform>/ns-front), build/, tests, source maps. No install script runs:
// node-gyp-build loads the matching prebuild at first use, and on a platform without one the
// error names the platform and what is prebuilt.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attwProblems, localPrebuilds, packPackage, publintProblems, tarballProblems } from '../../../scripts/release/pack-lib.mjs';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ns-pack-syscalls-'));
let packed: ReturnType<typeof packPackage>;
beforeAll(() => {
  packed = packPackage(pkgDir, work);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('@ns/syscalls package', () => {
  it('packs dist, LICENSE, README.md, package.json and prebuilds only: no binding.gyp, src, build/', () => {
    expect(tarballProblems(pkgDir, packed.entries, packed.manifest, { stale: false })).toEqual([]);
    const paths = packed.entries.map((e) => e.path);
    const other = paths.filter((p) => !p.startsWith('dist/') && !p.startsWith('prebuilds/'));
    expect(other.sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(paths.filter((p) => p.startsWith('prebuilds/')).sort()).toEqual(localPrebuilds(pkgDir).map((p) => `prebuilds/${p}`).sort());
    for (const p of paths) expect(p).not.toMatch(/binding\.gyp|\.(c|cc|h)$|(?<!\.d)\.ts$|(^|\/)(src|build|test)\/|\.map$/);
  });

  it('runs nothing at install and cannot compile: no install script, no gyp, no node-addon-api', () => {
    const m = packed.manifest;
    expect(m.scripts?.install).toBeUndefined();
    expect(m.scripts?.preinstall).toBeUndefined();
    expect(m.scripts?.postinstall).toBeUndefined();
    expect(m.gypfile).toBe(false);
    expect(Object.keys(m.dependencies)).toEqual(['node-gyp-build']);
    expect(m.dependencies['node-gyp-build']).toMatch(/^\^4\./);
  });

  it('publishes the native front of `ns` beside each prebuilt addon (prebuilds/linux-*/ns-front), as bins so it stays executable', () => {
    expect(packed.manifest.files).toContain('prebuilds/linux-*/ns-front');
    // pnpm pack and npm install give files mode 0644 unless they are bins (publishConfig.bin:
    // not linked in the workspace, where the prebuilds are absent until made).
    expect(packed.manifest.bin).toEqual({ 'ns-front-linux-x64': './prebuilds/linux-x64/ns-front', 'ns-front-linux-arm64': './prebuilds/linux-arm64/ns-front' });
    for (const e of packed.entries.filter((x) => x.path.endsWith('/ns-front'))) expect(e.mode & 0o111, e.path).not.toBe(0);
  });

  it('installs on Linux x64 and arm64 only, Node >= 20', () => {
    expect(packed.manifest.os).toEqual(['linux']);
    expect(packed.manifest.cpu).toEqual(['x64', 'arm64']);
    expect(packed.manifest.engines).toEqual({ node: '>=20' });
  });

  it('passes publint (strict) and @arethetypeswrong/cli (esm-only)', async () => {
    expect(await publintProblems(packed.tarball)).toEqual([]);
    expect(attwProblems(packed.tarball)).toEqual([]);
  }, 60_000);
});

/** The package as installed from the registry: package.json, dist/, node-gyp-build, no build/. */
function installedCopy(name: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  copyFileSync(join(pkgDir, 'package.json'), join(dir, 'package.json'));
  cpSync(join(pkgDir, 'dist'), join(dir, 'dist'), { recursive: true });
  const ngb = dirname(createRequire(join(pkgDir, 'package.json')).resolve('node-gyp-build/package.json'));
  cpSync(ngb, join(dir, 'node_modules/node-gyp-build'), { recursive: true, dereference: true });
  return dir;
}

function load(dir: string, prelude = '', env: NodeJS.ProcessEnv = {}) {
  const script = `${prelude}
const { native } = await import(${JSON.stringify(join(dir, 'dist/index.js'))});
try { const [r, w] = native().pipe(); console.log(JSON.stringify({ ok: typeof r === 'number' && typeof w === 'number' })); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { ok?: boolean; code?: string; message?: string };
}

describe('the loader in the installed layout (no build/)', () => {
  const built = join(pkgDir, 'build/Release/ns_syscalls.node');

  it.skipIf(process.arch !== 'x64' || !existsSync(built))('loads prebuilds/linux-x64/@ns+syscalls.glibc.node', () => {
    const dir = installedCopy('with-prebuild');
    mkdirSync(join(dir, 'prebuilds/linux-x64'), { recursive: true });
    copyFileSync(built, join(dir, 'prebuilds/linux-x64/@ns+syscalls.glibc.node'));
    expect(existsSync(join(dir, 'build'))).toBe(false);
    expect(load(dir)).toEqual({ ok: true });
  });

  it('without a matching prebuild: ERR_NS_NATIVE naming this platform and what is prebuilt', () => {
    const dir = installedCopy('no-prebuild');
    const got = load(dir);
    expect(got.code).toBe('ERR_NS_NATIVE');
    expect(got.message).toContain(`no prebuilt binary matches ${process.platform}-${process.arch}`);
    expect(got.message).toContain('prebuilt for linux-x64 and linux-arm64 with glibc >= 2.28');
  });

  it('a musl system (LIBC=musl for node-gyp-build) does not take the glibc prebuild', () => {
    const dir = installedCopy('musl');
    mkdirSync(join(dir, 'prebuilds/linux-x64'), { recursive: true });
    if (existsSync(built)) copyFileSync(built, join(dir, 'prebuilds/linux-x64/@ns+syscalls.glibc.node'));
    const got = load(dir, '', { LIBC: 'musl' });
    expect(got.code).toBe('ERR_NS_NATIVE');
    expect(got.message).toMatch(/no prebuilt binary matches .*libc=musl/s);
  });

  it('off Linux: ERR_NS_NATIVE saying Linux is required', () => {
    const dir = installedCopy('darwin');
    const got = load(dir, "Object.defineProperty(process, 'platform', { value: 'darwin' });");
    expect(got.code).toBe('ERR_NS_NATIVE');
    expect(got.message).toMatch(/^@ns\/syscalls needs Linux .*this is darwin-/);
    expect(got.message).toContain('Prebuilt for linux-x64 and linux-arm64');
  });
});
