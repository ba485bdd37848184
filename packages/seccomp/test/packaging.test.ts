// The tarball `pnpm pack` makes (what `pnpm publish` uploads): only built JavaScript, types
// and the README; no dependencies, so installing @ns/seccomp alone never pulls the native
// addon and it installs anywhere Node does (no `os` / `cpu` restriction).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attwProblems, bareImports, packPackage, publintProblems, tarballProblems } from '../../../scripts/release/pack-lib.mjs';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'ns-pack-seccomp-'));
let packed: ReturnType<typeof packPackage>;
beforeAll(() => {
  packed = packPackage(pkgDir, dest);
}, 60_000);
afterAll(() => rmSync(dest, { recursive: true, force: true }));

describe('@ns/seccomp package', () => {
  it('packs dist/*.js, dist/*.d.ts, LICENSE, README.md and package.json only', () => {
    expect(tarballProblems(pkgDir, packed.entries, packed.manifest, { stale: false })).toEqual([]);
    const paths = packed.entries.map((e) => e.path);
    expect(paths.filter((p) => !p.startsWith('dist/')).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(paths.every((p) => !p.startsWith('dist/') || /\.(js|d\.ts)$/.test(p))).toBe(true);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
  });

  it('has no dependencies and no platform restriction: it never pulls the native addon', () => {
    const m = packed.manifest;
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) {
      expect(m[field] ?? {}, field).toEqual({});
    }
    expect(m.os).toBeUndefined();
    expect(m.cpu).toBeUndefined();
    const imported = new Set(packed.entries.filter((e) => e.path.endsWith('.js')).flatMap((e) => [...bareImports(e.data.toString('utf8'))]));
    expect([...imported]).toEqual([]);
  });

  it('declares an ESM entry with types first, Node >= 20, public access', () => {
    const m = packed.manifest;
    expect(m.type).toBe('module');
    expect(m.engines).toEqual({ node: '>=20' });
    expect(Object.keys(m.exports['.'])).toEqual(['types', 'default']);
    expect(m.publishConfig).toMatchObject({ access: 'public' });
  });

  it('passes publint (strict) and @arethetypeswrong/cli (esm-only)', async () => {
    expect(await publintProblems(packed.tarball)).toEqual([]);
    expect(attwProblems(packed.tarball)).toEqual([]);
  }, 60_000);
});
