// The tarball `pnpm pack` makes (what `pnpm publish` uploads): built JavaScript, types, the
// README and the `ns` executable; @ns dependencies as ^<version>.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attwProblems, packPackage, publintProblems, tarballProblems, workspaceVersions } from '../../../scripts/release/pack-lib.mjs';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'ns-pack-cli-'));
let packed: ReturnType<typeof packPackage>;
beforeAll(() => {
  packed = packPackage(pkgDir, dest);
}, 60_000);
afterAll(() => rmSync(dest, { recursive: true, force: true }));

describe('@ns/cli package', () => {
  it('packs dist/*.js, dist/*.d.ts, the bundle, LICENSE, README.md and package.json only', () => {
    expect(tarballProblems(pkgDir, packed.entries, packed.manifest, { stale: false })).toEqual([]);
    const paths = packed.entries.map((e) => e.path);
    expect(paths.filter((p) => !p.startsWith('dist/')).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(paths.some((p) => /(^|\/)(src|test|build)\//.test(p) || p.endsWith('.map'))).toBe(false);
  });

  it('installs `ns` as dist/ns, a /bin/sh launcher of the native front that runs dist/ns.cjs (the one-file bundle) in Node otherwise', () => {
    expect(packed.manifest.bin).toEqual({ ns: './dist/ns' });
    const launcher = packed.entries.find((e) => e.path === 'dist/ns');
    const bin = packed.entries.find((e) => e.path === 'dist/ns.cjs');
    expect(packed.entries.some((e) => e.path === 'dist/ns-bundle.cjs')).toBe(true);
    expect(launcher).toBeDefined();
    expect(bin).toBeDefined();
    const text = launcher!.data.toString('utf8');
    expect(text.split('\n')[0]).toBe('#!/bin/sh');
    expect(text).toContain('exec "$b" "$d/ns.cjs" "$@"');
    expect(text).toContain('exec node "$d/ns.cjs" "$@"');
    expect(bin!.data.toString('utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(launcher!.mode & 0o111).not.toBe(0); // dist/ns.cjs runs as `node dist/ns.cjs`
  });

  it('depends on @ns/capabilities and @ns/namespaces by ^version', () => {
    const v = workspaceVersions();
    const deps = packed.manifest.dependencies;
    expect(deps['@ns/capabilities']).toBe(`^${v['@ns/capabilities']}`);
    expect(deps['@ns/namespaces']).toBe(`^${v['@ns/namespaces']}`);
    for (const [name, range] of Object.entries(deps)) expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/);
    expect(packed.manifest.engines).toEqual({ node: '>=20' });
  });

  it('passes publint (strict) and @arethetypeswrong/cli (esm-only)', async () => {
    expect(await publintProblems(packed.tarball)).toEqual([]);
    expect(attwProblems(packed.tarball)).toEqual([]);
  }, 60_000);
});
