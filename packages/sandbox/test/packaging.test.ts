// The tarball `pnpm pack` makes (what `pnpm publish` uploads): built JavaScript, types and the
// README; its @ns dependencies as ^<version> of the workspace packages, its other runtime
// dependencies (zod, p-limit) as caret ranges, not the exact pins of the workspace catalog.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGES, attwProblems, bareImports, packPackage, publintProblems, tarballProblems, workspaceVersions } from '../../../scripts/release/pack-lib.mjs';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'ns-pack-sandbox-'));
let packed: ReturnType<typeof packPackage>;
beforeAll(() => {
  packed = packPackage(pkgDir, dest);
}, 60_000);
afterAll(() => rmSync(dest, { recursive: true, force: true }));

describe('@ns/sandbox package', () => {
  it('packs dist/*.js, dist/*.d.ts, LICENSE, README.md and package.json only', () => {
    expect(tarballProblems(pkgDir, packed.entries, packed.manifest, { stale: false })).toEqual([]);
    const paths = packed.entries.map((e) => e.path);
    expect(paths.filter((p) => !p.startsWith('dist/')).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(paths.every((p) => !p.startsWith('dist/') || /\.(js|d\.ts)$/.test(p))).toBe(true);
    expect(paths).toContain('dist/index.js');
  });

  it('depends on @ns/namespaces and @ns/cgroups by ^version (never the other way), the rest by caret ranges', () => {
    const v = workspaceVersions();
    const deps = packed.manifest.dependencies;
    expect(Object.keys(deps).sort()).toEqual(['@ns/cgroups', '@ns/namespaces', 'p-limit', 'zod']);
    expect(deps['@ns/namespaces']).toBe(`^${v['@ns/namespaces']}`);
    expect(deps['@ns/cgroups']).toBe(`^${v['@ns/cgroups']}`);
    for (const [name, range] of Object.entries(deps)) expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/);
    const imported = new Set(packed.entries.filter((e) => e.path.endsWith('.js')).flatMap((e) => [...bareImports(e.data.toString('utf8'))]));
    expect([...imported].sort()).toEqual(['@ns/cgroups', '@ns/namespaces', 'p-limit', 'zod']);
    // Published, after the packages it builds on and before the CLI that will use it.
    expect(PACKAGES.indexOf('sandbox')).toBeGreaterThan(PACKAGES.indexOf('namespaces'));
    expect(PACKAGES.indexOf('sandbox')).toBeLessThan(PACKAGES.indexOf('cli'));
  });

  it('is for Linux, ESM with types first, Node >= 20, public access', () => {
    const m = packed.manifest;
    expect(m.os).toEqual(['linux']);
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
