#!/usr/bin/env node
// Pack every published package with `pnpm pack` and check the tarballs: the file list and
// manifest rules of pack-lib.mjs (no sources, tests, maps, build/ or stale outputs; registry
// ranges; no install scripts), publint --strict and @arethetypeswrong/cli --profile esm-only.
//
//   node scripts/release/lint-packages.mjs [--no-stale] [PKGDIR...]   (default: packages/*)
//
// Run after `pnpm build` (and `pnpm prebuild:all` to see the prebuilds in @ns/syscalls).
// Exits 1 when a package has a problem; prints one line per problem.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PACKAGES, ROOT, attwProblems, localPrebuilds, packPackage, publintProblems, tarballProblems } from './pack-lib.mjs';

const args = process.argv.slice(2);
const stale = !args.includes('--no-stale');
const dirs = args.filter((a) => !a.startsWith('--')).map((d) => resolve(d));
const pkgDirs = dirs.length ? dirs : PACKAGES.map((p) => join(ROOT, 'packages', p));

const dest = mkdtempSync(join(tmpdir(), 'ns-lint-packages-'));
let failed = 0;
try {
  for (const dir of pkgDirs) {
    const { tarball, entries, manifest } = packPackage(dir, dest);
    const problems = [
      ...tarballProblems(dir, entries, manifest, { stale }),
      ...(await publintProblems(tarball)),
      ...attwProblems(tarball),
    ];
    const size = entries.reduce((n, e) => n + e.size, 0);
    const extra = manifest.name === '@ns/syscalls' ? `, prebuilds: ${localPrebuilds(dir).join(' ') || 'none'}` : '';
    if (problems.length) {
      failed++;
      console.log(`FAIL ${manifest.name}@${manifest.version} (${entries.length} files)`);
      for (const p of problems) console.log(`  ${p}`);
    } else {
      console.log(`ok   ${manifest.name}@${manifest.version}: ${entries.length} files, ${(size / 1024).toFixed(1)} KiB unpacked${extra}`);
    }
  }
} finally {
  rmSync(dest, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
