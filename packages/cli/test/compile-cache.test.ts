// The V8 code cache of the `ns` executable (src/compile-cache.cts): used only when the
// directory and the file are the user's own and private; never an error.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const loader = fileURLToPath(new URL('../dist/compile-cache.cjs', import.meta.url));
let dir: string;
let program: string;
let cache: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ns-ccache-'));
  program = join(dir, 'prog.cjs');
  // A shebang, a relative require and __filename: what the bundle relies on.
  writeFileSync(join(dir, 'helper.cjs'), 'module.exports = (x) => x * 2;\n');
  writeFileSync(program, "#!/usr/bin/env node\nconst twice = require('./helper.cjs');\nconsole.log(twice(21), require('path').basename(__filename));\nprocess.exitCode = 3;\n");
  cache = join(dir, 'home', '.cache');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Run the program through the loader in a fresh Node; its stdout lines and exit status. */
function run(env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: cache }, variant?: string) {
  const options = variant === undefined ? '' : `, { variant: ${JSON.stringify(variant)} }`;
  const code = `const r = require(${JSON.stringify(loader)}).runWithCompileCache(${JSON.stringify(program)}${options}); process.on('exit', () => console.log(JSON.stringify(r)));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  const lines = r.stdout.trim().split('\n');
  return { output: lines[0], result: JSON.parse(lines[1]!) as { file?: string; used: boolean }, status: r.status, stderr: r.stderr };
}

const cacheFiles = () => (existsSync(join(cache, 'ns')) ? readdirSync(join(cache, 'ns')) : []);

describe('commandVariant', () => {
  const { commandVariant } = createRequire(import.meta.url)(loader) as { commandVariant: (a: string[]) => string };
  it('is the command and the option names before --, without values', () => {
    expect(commandVariant(['run', '--rootfs', '/srv/r', 'web1', '--', 'sh', '-c', 'x'])).toBe('run-rootfs');
    expect(commandVariant(['run', '--dry-run', '--rootfs=/r', '--', 'true'])).toBe('run-dry-run-rootfs');
    expect(commandVariant(['--root', '/tmp/s', 'exec', '-t', 'web1', '--', 'sh'])).toBe('exec-root-t');
    expect(commandVariant(['--log-format', 'json', '--rootless', 'true', 'create', 'web1'])).toBe('create-log-format-rootless');
    expect(commandVariant(['--version'])).toBe('none-version');
    expect(commandVariant([])).toBe('none');
  });
});

describe('runWithCompileCache', () => {
  it('runs the program unchanged, writes a private cache at exit, and uses it the next time', () => {
    const first = run();
    expect(first).toMatchObject({ output: '42 prog.cjs', status: 3, stderr: '' });
    expect(first.result.used).toBe(false);
    expect(cacheFiles()).toHaveLength(1);
    expect(first.result.file).toBe(join(cache, 'ns', cacheFiles()[0]!));
    expect(statSync(first.result.file!).mode & 0o777).toBe(0o600);
    expect(statSync(join(cache, 'ns')).mode & 0o777).toBe(0o700);
    const second = run();
    expect(second).toMatchObject({ output: '42 prog.cjs', status: 3, result: { used: true } });
  });

  it('names the cache after the Node version and the program, and replaces it when the program changes', () => {
    const first = run().result.file!;
    expect(first).toContain(process.version);
    writeFileSync(program, "console.log('changed');\n");
    const second = run();
    expect(second.output).toBe('changed');
    expect(second.result.used).toBe(false);
    expect(cacheFiles()).toEqual([second.result.file!.split('/').pop()]);
  });

  it('keeps one cache per variant, each used by its own runs; other names are hashed', () => {
    expect(run(undefined, 'run-rootfs').result.file).toMatch(/\.run-rootfs\.cache$/);
    expect(run(undefined, 'exec').result).toMatchObject({ used: false });
    expect(run(undefined, 'run-rootfs').result).toMatchObject({ used: true });
    expect(run(undefined, 'exec').result).toMatchObject({ used: true });
    expect(run(undefined, '../x').result.file).toMatch(/\.[0-9a-f]{8}\.cache$/);
    expect(cacheFiles()).toHaveLength(3);
  });

  it('keeps at most 8 variants of a bundle, dropping the least recently written', () => {
    for (let i = 0; i < 10; i++) run(undefined, `v${i}`);
    expect(cacheFiles().sort()).toEqual(Array.from({ length: 8 }, (_, i) => expect.stringMatching(new RegExp(`\\.v${i + 2}\\.cache$`))));
  });

  it('drops caches of other installs made more than a month ago when it writes one', () => {
    mkdirSync(join(cache, 'ns'), { recursive: true, mode: 0o700 });
    const old = join(cache, 'ns', 'deadbeef-v0-x64-1-aaaa.run.cache');
    const recent = join(cache, 'ns', 'feedface-v0-x64-1-bbbb.run.cache');
    writeFileSync(old, 'x', { mode: 0o600 });
    writeFileSync(recent, 'x', { mode: 0o600 });
    const longAgo = new Date(Date.now() - 40 * 24 * 3600 * 1000);
    utimesSync(old, longAgo, longAgo);
    run();
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });

  it('does not run a cache of other code of the same length (V8 checks only the length)', () => {
    writeFileSync(program, "console.log('aaaa');\n");
    run();
    writeFileSync(program, "console.log('bbbb');\n");
    expect(run()).toMatchObject({ output: 'bbbb', result: { used: false } });
  });

  it('ignores and rewrites a cache V8 rejects (garbage)', () => {
    const file = run().result.file!;
    writeFileSync(file, Buffer.alloc(4096, 7), { mode: 0o600 });
    const r = run();
    expect(r).toMatchObject({ output: '42 prog.cjs', status: 3, result: { used: false } });
    expect(run().result.used).toBe(true);
  });

  it('ignores and rewrites a cache whose payload is damaged under an intact header (regression: V8 crashed on it, every run)', () => {
    const file = run().result.file!;
    const data = readFileSync(file);
    for (const at of [200, data.length >> 1, data.length - 100]) {
      const bad = Buffer.from(data);
      for (let k = at; k < at + 64 && k < bad.length; k++) bad[k] = bad[k]! ^ 0xff;
      writeFileSync(file, bad, { mode: 0o600 });
      expect(run()).toMatchObject({ output: '42 prog.cjs', status: 3, result: { used: false } });
      expect(run().result.used).toBe(true);
    }
  });

  it('leaves no temporary file when the cache cannot be written (regression)', () => {
    const file = run().result.file!;
    rmSync(file);
    mkdirSync(file); // the cache's own name taken by a directory: rename fails
    for (let i = 0; i < 2; i++) expect(run()).toMatchObject({ output: '42 prog.cjs', status: 3 });
    expect(cacheFiles().filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('installs no truncated cache on a full disk, and leaves no temporary file (regression)', () => {
    mkdirSync(cache, { recursive: true });
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', cache]).status).toBe(0);
    try {
      // Almost full: room for the folder and part of the cache (a program with a large one).
      writeFileSync(join(cache, 'filler'), Buffer.alloc(12 * 1024));
      const body = 'x = (x * 31 + 7) % 1000003; '.repeat(4000);
      writeFileSync(program, `let x = 1;\nconst big = () => { ${body} return x; };\nbig();\nconsole.log(42, 'prog.cjs');\nprocess.exitCode = 3;\n`);
      for (let i = 0; i < 2; i++) expect(run()).toMatchObject({ output: '42 prog.cjs', status: 3, result: { used: false } });
      expect(cacheFiles().filter((n) => n.endsWith('.tmp') || n.endsWith('.cache'))).toEqual([]);
    } finally {
      spawnSync('umount', [cache]);
    }
  });

  it.runIf(process.getuid?.() === 0)('creates nothing in a home that is not the user\'s own (root with another user\'s HOME)', () => {
    const home = join(dir, 'alice');
    mkdirSync(home);
    chownSync(home, 65534, 65534);
    expect(run({ HOME: home })).toMatchObject({ output: '42 prog.cjs', result: { used: false } });
    expect(readdirSync(home)).toEqual([]);
    // A missing $XDG_CACHE_HOME is made when its nearest existing parent is the user's own.
    const xdg = join(dir, 'x', 'y');
    run({ XDG_CACHE_HOME: xdg });
    expect(run({ XDG_CACHE_HOME: xdg }).result.used).toBe(true);
  });

  it('never reads a cache from a directory others can write, nor writes one there', () => {
    mkdirSync(join(cache, 'ns'), { recursive: true });
    chmodSync(join(cache, 'ns'), 0o777);
    expect(run()).toMatchObject({ output: '42 prog.cjs', result: { used: false } });
    expect(cacheFiles()).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('never reads a cache file owned by another user', () => {
    const file = run().result.file!;
    chownSync(file, 65534, 65534);
    expect(run().result.used).toBe(false);
  });

  it('is off with NS_COMPILE_CACHE=0 or without a home, and the program still runs', () => {
    expect(run({ XDG_CACHE_HOME: cache, NS_COMPILE_CACHE: '0' })).toMatchObject({ output: '42 prog.cjs', status: 3, result: { used: false } });
    expect(run({})).toMatchObject({ output: '42 prog.cjs', result: { used: false } });
    expect(run({ XDG_CACHE_HOME: 'relative/dir' }).result.file).toBeUndefined();
    expect(cacheFiles()).toEqual([]);
  });
});
