import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromOciSpec, parseOciSpec } from '@ns/namespaces';
import { writeSpec } from '../src/commands/spec.js';
import { main } from '../src/index.js';

let dir: string;
const out: string[] = [];
const err: string[] = [];
const io = () => ({ cwd: dir, stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s), env: {} });
const read = () => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as unknown;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ns-cli-spec-'));
  out.length = 0;
  err.length = 0;
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('ns spec', () => {
  it('writes a config.json that parseOciSpec and fromOciSpec accept', async () => {
    expect(await main(['spec'], io())).toBe(0);
    const spec = parseOciSpec(read());
    expect(spec.process?.args).toEqual(['sh']);
    expect(spec.root?.path).toBe('rootfs');
    expect(spec.process?.terminal).toBe(true);
    const c = fromOciSpec(spec, { bundle: dir, id: 'x' });
    expect(c.rootfs).toBe(join(dir, 'rootfs'));
    expect(err).toEqual([]);
  });

  it('takes --bundle, --rootfs, --hostname, --no-terminal and the command after --', async () => {
    const status = await main(
      ['spec', '--bundle', dir, '--rootfs', '/srv/root', '--hostname', 'web', '--no-terminal', '--', '/bin/sh', '-c', 'echo hi'],
      { ...io(), cwd: '/' },
    );
    expect(status).toBe(0);
    const spec = parseOciSpec(read());
    expect(spec.process?.args).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(spec.process?.terminal).toBe(false);
    expect(spec.root?.path).toBe('/srv/root');
    expect(spec.hostname).toBe('web');
  });

  it('takes --args', async () => {
    expect(await main(['spec', '--args', 'ls', '/etc'], io())).toBe(0);
    expect(parseOciSpec(read()).process?.args).toEqual(['ls', '/etc']);
  });

  it('refuses --args together with a command after --', () => {
    expect(() => writeSpec({ args: ['a'], command: ['b'] }, dir)).toThrow(/either with --args or after --/);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
  });

  it('refuses to overwrite an existing config.json (125, one line), unless --force', async () => {
    writeFileSync(join(dir, 'config.json'), '{"keep": true}');
    expect(await main(['spec'], io())).toBe(125);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^ns: .*config\.json already exists \(use --force to replace it\)\n$/);
    expect(read()).toEqual({ keep: true });

    expect(await main(['spec', '--force'], io())).toBe(0);
    expect(parseOciSpec(read()).process?.args).toEqual(['sh']);
  });

  it('--force replaces a symlinked config.json, never writes through it (regression: the link target was overwritten)', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(dir, 'config.json'));
    expect(await main(['spec', '--force'], io())).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(dir, 'config.json')).isFile()).toBe(true);
    expect(parseOciSpec(read()).process?.args).toEqual(['sh']);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('refuses what it could not run: an invalid or empty --hostname, an empty command (125, nothing written)', async () => {
    expect(await main(['spec', '--hostname', '-bad'], io())).toBe(125);
    expect(err.join('')).toMatch(/^ns: the config\.json would be invalid: hostname: invalid hostname "-bad"\n$/);
    expect(await main(['spec', '--hostname', 'a_b'], io())).toBe(125);
    expect(await main(['spec', '--hostname', ''], io())).toBe(125);
    expect(err.at(-1)).toBe('ns: --hostname: empty\n');
    expect(await main(['spec', '--args', ''], io())).toBe(125);
    expect(err.at(-1)).toMatch(/^ns: the config\.json would be invalid: process\.args\[0\]/);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
    expect(await main(['spec', '--hostname', 'ok-name'], io())).toBe(0);
    expect(parseOciSpec(read()).hostname).toBe('ok-name');
  });

  it('fails with 125 when the bundle directory does not exist', async () => {
    expect(await main(['spec', '--bundle', 'missing'], io())).toBe(125);
    expect(err.join('')).toMatch(/^ns: bundle directory .*missing does not exist\n$/);
  });
});
