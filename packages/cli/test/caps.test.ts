import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ns-caps-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function ns(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['--root', root, ...argv], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('ns caps', () => {
  it('decodes a hex mask into names', async () => {
    expect(await ns('caps', '--decode', '00000000a80425fb')).toEqual({
      code: 0,
      stdout:
        'CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_SETPCAP,CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_SYS_CHROOT,CAP_MKNOD,CAP_AUDIT_WRITE,CAP_SETFCAP\n',
      stderr: '',
    });
    expect((await ns('caps', '--decode', '0')).stdout).toBe('(none)\n');
    expect((await ns('caps', '--decode', '400', '--format', 'json')).stdout).toBe('["CAP_NET_BIND_SERVICE"]\n');
  });

  it('rejects a bad mask with one line and 125', async () => {
    const r = await ns('caps', '--decode', 'zz');
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('ns: invalid capability mask "zz": expected up to 16 hex digits\n');
  });

  it("prints a process's five sets, by mask and name", async () => {
    const r = await ns('caps', String(process.pid));
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual(['CapBnd', 'CapEff', 'CapPrm', 'CapInh', 'CapAmb']);
  });

  it('names an unknown container or pid', async () => {
    expect((await ns('caps', 'nosuch')).stderr).toBe('ns: container nosuch does not exist\n');
    expect((await ns('caps', '999999999')).stderr).toBe('ns: no process 999999999\n');
  });
});
