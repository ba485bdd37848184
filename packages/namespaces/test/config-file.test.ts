// Reading a bundle's config.json without trusting it (config/config-file.ts): what is not a
// regular file, too large or not UTF-8 is refused at once, naming the file; a lone surrogate is
// found by its JSON path even 100000 levels deep.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_CONFIG_BYTES, loneSurrogatePath, readConfigFile } from '../src/config/config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-config-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refused(name: string, make: (file: string) => void): { code?: string; message: string; path?: string } {
  const file = join(dir, name);
  make(file);
  try {
    readConfigFile(file);
  } catch (err) {
    return err as { code?: string; message: string; path?: string };
  }
  throw new Error(`${name}: read`);
}

describe('readConfigFile', () => {
  it('reads a regular UTF-8 file, through a symlink too', () => {
    writeFileSync(join(dir, 'ok.json'), '{"a":"é"}');
    symlinkSync('ok.json', join(dir, 'link.json'));
    expect(readConfigFile(join(dir, 'link.json'))).toBe('{"a":"é"}');
  });

  it('refuses what is not a regular file at once: a fifo (no open hang), /dev/zero, a directory', () => {
    const t0 = Date.now();
    expect(refused('fifo', (f) => execFileSync('mkfifo', [f]))).toMatchObject({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/fifo: not a regular file \(a fifo\)$/) });
    expect(refused('zero', (f) => symlinkSync('/dev/zero', f)).message).toMatch(/not a regular file \(a character device\)$/);
    expect(refused('dir', (f) => mkdirSync(f)).message).toMatch(/not a regular file \(a directory\)$/);
    expect(Date.now() - t0).toBeLessThan(5000); // not a timing target: a hang shows as the test timing out
  });

  it('refuses a file over 16 MiB without reading it, and one that is not UTF-8', () => {
    const big = refused('big', (f) => {
      writeFileSync(f, '');
      truncateSync(f, MAX_CONFIG_BYTES + 1);
    });
    expect(big).toMatchObject({ code: 'ERR_NS_CONFIG', message: expect.stringMatching(/too large \(16777217 bytes, at most 16777216\)/) });
    expect(refused('latin1', (f) => writeFileSync(f, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))).message).toMatch(/not UTF-8 text/);
  });

  it('says ERR_NS_NOT_FOUND for a missing file and ELOOP for a symlink loop', () => {
    expect(refused('missing', () => {}).code).toBe('ERR_NS_NOT_FOUND');
    expect(refused('loop', (f) => symlinkSync('loop', f)).code).toBe('ELOOP');
  });
});

describe('loneSurrogatePath', () => {
  it('names the first string with a lone surrogate, by its JSON path; pairs are text', () => {
    const t = '{"process":{"args":["a","\\ud800"]},"x y":{"k":"\\ud83d\\ude00"}}';
    expect(loneSurrogatePath(t, JSON.parse(t))).toBe('process.args[1]');
    const keyed = '{"x y":["\\udfff"]}';
    expect(loneSurrogatePath(keyed, JSON.parse(keyed))).toBe('["x y"][0]');
    const pair = '{"a":"\\ud83d\\ude00"}';
    expect(loneSurrogatePath(pair, JSON.parse(pair))).toBeNull();
  });

  it('walks 100000 levels deep without overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}"\\ud800"${']'.repeat(100_000)}`;
    expect(loneSurrogatePath(deep, JSON.parse(deep))).toBe('[0]'.repeat(100_000));
  });
});
