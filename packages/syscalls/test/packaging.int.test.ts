// The release flow end to end (scripts/release/test-release.mjs, also `pnpm test:release`):
// clean build of a copy of the tree, prebuilds, tarball lint, `changeset version` and
// `changeset publish` to a Verdaccio on 127.0.0.1, then `npm install @ns/namespaces` and a
// container, `npx @ns/cli run -- /bin/sh -c 'echo ok'`, and `npm install @ns/capabilities`
// alone, in fresh folders with only that registry and no compiler on PATH. About 45 s here.
// Root only (it starts containers); needs the npm registry, which Verdaccio proxies for
// zod, commander and the other third-party dependencies.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../../scripts/release/test-release.mjs', import.meta.url));

describe.skipIf(process.getuid?.() !== 0)('release to a loopback registry', () => {
  it('publishes all four packages and runs containers from them with no compiler', () => {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 540_000, maxBuffer: 64 << 20 });
    const lines = `${r.stderr}${r.stdout}`;
    const failed = lines.split('\n').filter((l) => l.startsWith('FAIL '));
    expect(failed, lines.slice(-6000)).toEqual([]);
    expect(r.stdout.trim().split('\n').at(-1), lines.slice(-6000)).toMatch(/^test-release: \d+ passed, 0 failed$/);
    expect(r.status, lines.slice(-6000)).toBe(0);
  }, 600_000);
});
