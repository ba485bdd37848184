import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ns-prebuild-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Building the addon needs the compiler and Node's headers, which the test machine has; the
// point is that the package then loads from prebuilds/ alone, as it does from a registry.
describe('prebuilds', () => {
  it('prebuildify --napi --strip makes a prebuild that loads with build/ absent', () => {
    const copy = join(work, 'syscalls');
    cpSync(pkg, copy, {
      recursive: true,
      filter: (src) => !/\/(build|prebuilds|node_modules)(\/|$)/.test(src.slice(pkg.length - 1)),
    });
    symlinkSync(join(pkg, 'node_modules'), join(copy, 'node_modules'));
    const made = spawnSync(process.execPath, [join(pkg, 'node_modules/prebuildify/bin.js'), '--napi', '--strip'], {
      cwd: copy,
      encoding: 'utf8',
      env: { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? join(process.execPath, '../..') },
    });
    expect(made.status, made.stderr).toBe(0);
    const dir = join(copy, 'prebuilds', `${process.platform}-${process.arch}`);
    expect(readdirSync(dir).some((f) => f.endsWith('.node'))).toBe(true);
    rmSync(join(copy, 'build'), { recursive: true, force: true });
    expect(existsSync(join(copy, 'build'))).toBe(false);
    const check = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `import { native } from ${JSON.stringify(join(copy, 'dist/index.js'))}; const [r, w] = native().pipe(); console.log(typeof r, typeof w);`],
      { encoding: 'utf8' },
    );
    expect(check.stderr).toBe('');
    expect(check.stdout).toBe('number number\n');
  }, 120_000);
});
