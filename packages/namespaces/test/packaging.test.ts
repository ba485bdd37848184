// The tarball `pnpm pack` makes (what `pnpm publish` uploads): built JavaScript, types and the
// README; the workspace:^ ranges of its @ns dependencies become ^<version>, and its other
// runtime dependencies are caret ranges, not the exact pins of the workspace catalog.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attwProblems, packPackage, publintProblems, tarballProblems, workspaceVersions } from '../../../scripts/release/pack-lib.mjs';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'ns-pack-namespaces-'));
let packed: ReturnType<typeof packPackage>;
beforeAll(() => {
  packed = packPackage(pkgDir, dest);
}, 60_000);
afterAll(() => rmSync(dest, { recursive: true, force: true }));

describe('@ns/namespaces package', () => {
  it('packs dist/*.js, dist/*.d.ts, LICENSE, README.md and package.json only', () => {
    expect(tarballProblems(pkgDir, packed.entries, packed.manifest, { stale: false })).toEqual([]);
    const paths = packed.entries.map((e) => e.path);
    expect(paths.filter((p) => !p.startsWith('dist/')).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(paths.some((p) => /(^|\/)(src|test|build)\//.test(p) || p.endsWith('.map') || p.endsWith('.test.js'))).toBe(false);
  });

  it('depends on the other @ns packages by ^version and on the rest by caret ranges', () => {
    const v = workspaceVersions();
    const deps = packed.manifest.dependencies;
    expect(deps['@ns/capabilities']).toBe(`^${v['@ns/capabilities']}`);
    expect(deps['@ns/syscalls']).toBe(`^${v['@ns/syscalls']}`);
    expect(deps['@ns/seccomp']).toBe(`^${v['@ns/seccomp']}`);
    for (const [name, range] of Object.entries(deps)) expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/);
  });

  it('is for Linux, ESM with types first, Node >= 20', () => {
    const m = packed.manifest;
    expect(m.os).toEqual(['linux']);
    expect(m.engines).toEqual({ node: '>=20' });
    expect(Object.keys(m.exports['.'])).toEqual(['types', 'default']);
  });

  it('passes publint (strict) and @arethetypeswrong/cli (esm-only)', async () => {
    expect(await publintProblems(packed.tarball)).toEqual([]);
    expect(attwProblems(packed.tarball)).toEqual([]);
  }, 60_000);
});
