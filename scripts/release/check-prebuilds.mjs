#!/usr/bin/env node
// The `prepublishOnly` guard of @ns/syscalls: refuse to publish without the prebuilt binaries,
// since the published package has no sources to compile from.
//
//   node scripts/release/check-prebuilds.mjs [PKGDIR]      (default: the working directory)
//
// Required: NS_PREBUILDS_REQUIRED, comma-separated (default `linux-x64,linux-arm64`); each
// must have prebuilds/<platform>/@ns+syscalls.glibc.node and prebuilds/<platform>/ns-front (the
// native front of the `ns` command, executable), ELF files for that machine.
// Make them with `pnpm prebuild:all` (scripts/release/prebuild.sh).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const MACHINES = { 'linux-x64': 62, 'linux-arm64': 183 };
const pkgDir = resolve(process.argv[2] ?? '.');
const required = (process.env.NS_PREBUILDS_REQUIRED ?? 'linux-x64,linux-arm64').split(',').map((s) => s.trim()).filter(Boolean);

const problems = [];
for (const platform of required) {
  for (const name of ['@ns+syscalls.glibc.node', 'ns-front']) {
    const file = join(pkgDir, 'prebuilds', platform, name);
    if (!existsSync(file)) {
      problems.push(`${file}: missing`);
      continue;
    }
    const head = readFileSync(file).subarray(0, 20);
    const machine = head.toString('latin1', 0, 4) === '\x7fELF' ? head.readUInt16LE(18) : -1;
    if (MACHINES[platform] !== undefined && machine !== MACHINES[platform]) {
      problems.push(`${file}: ELF machine ${machine}, expected ${MACHINES[platform]} for ${platform}`);
    }
    if (name === 'ns-front' && (statSync(file).mode & 0o111) === 0) problems.push(`${file}: not executable`);
  }
}
if (problems.length) {
  console.error(`check-prebuilds: @ns/syscalls would be published without its binaries:\n  ${problems.join('\n  ')}`);
  console.error('check-prebuilds: make them with `pnpm prebuild:all` (scripts/release/prebuild.sh)');
  process.exit(1);
}
console.error(`check-prebuilds: ${required.join(', ')} present`);
