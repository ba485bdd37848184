import { describe, expect, it } from 'vitest';
import { encodePlan, encodeRunRecord, encodeRunStrings, formatPlan, OP_CODES, STEP_BYTES } from '../src/index.js';

describe('run records and the awaitRun step (no root)', () => {
  it('lays a record out as native/init/pool.cc reads it', () => {
    const b = encodeRunRecord({ cwd: '/w', paths: ['/bin/sh'], argv: ['sh', 'é'], envp: ['A=1'] });
    expect(b.readUInt32LE(0)).toBe(b.length - 4);
    expect([b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12), b.readUInt32LE(16)]).toEqual([1, 2, 1, 0]);
    expect(b.subarray(20).toString('utf8')).toBe('/w\0/bin/sh\0sh\0é\0A=1\0');
    // The stdio mask: which of 0, 1, 2 the descriptors sent with the record replace.
    expect(encodeRunRecord({ cwd: '/', paths: ['/bin/sh'], argv: ['sh'], envp: [], stdio: 0b110 }).readUInt32LE(16)).toBe(6);
  });

  it('takes an env encoded once (a pool\'s default) as it would encode it, only for that very list', () => {
    const envp = ['A=1', 'PATH=/bin', 'é=2'];
    const encoded = encodeRunStrings(envp, 'env');
    const run = { cwd: '/w', paths: ['/bin/sh'], argv: ['sh', '-c', 'x'], envp };
    expect(encodeRunRecord(run, encoded).equals(encodeRunRecord(run))).toBe(true);
    // Another list (even with equal entries) is encoded from its own entries.
    const other = { ...run, envp: ['B=2'] };
    expect(encodeRunRecord(other, encoded).equals(encodeRunRecord(other))).toBe(true);
    expect(() => encodeRunStrings(['A=1', 'B=\0'], 'env')).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'env[1]' }));
  });

  it('refuses what the member could not read, naming the field', () => {
    const base = { cwd: '/', paths: ['/bin/true'], argv: ['true'], envp: [] as string[] };
    expect(() => encodeRunRecord({ ...base, argv: [] })).toThrow(/args: expected at least the program/);
    expect(() => encodeRunRecord({ ...base, envp: ['A=\0'] })).toThrow(/env\[0\]: contains a NUL byte/);
    expect(() => encodeRunRecord({ ...base, cwd: '/\0' })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'cwd' }));
    expect(() => encodeRunRecord({ ...base, envp: Array.from({ length: 5000 }, () => 'A=1') })).toThrow(/more than 4096/);
    expect(() => encodeRunRecord({ ...base, envp: [`A=${'x'.repeat(65536)}`] })).toThrow(/more than the 65536/);
    expect(() => encodeRunRecord({ ...base, stdio: 8 })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'stdio' }));
  });

  it('encodes awaitRun with op 80 and its three integers', () => {
    const buf = encodePlan({ cloneFlags: 0, steps: [{ op: 'awaitRun', recordFd: 3, replyFd: 4, idleTimeoutMs: 1500 }] });
    const at = 40;
    expect(OP_CODES.awaitRun).toBe(80);
    expect(buf.readUInt32LE(at)).toBe(80);
    expect([8, 16, 24, 32].map((o) => Number(buf.readBigInt64LE(at + o)))).toEqual([3, 4, 1500, 0]);
    const socket = encodePlan({ cloneFlags: 0, steps: [{ op: 'awaitRun', recordFd: 3, replyFd: 4, idleTimeoutMs: 0, receiveStdio: true }] });
    expect(Number(socket.readBigInt64LE(at + 32))).toBe(1);
    expect(buf.length).toBeGreaterThanOrEqual(40 + STEP_BYTES);
    expect(formatPlan({ cloneFlags: 0, steps: [{ op: 'awaitRun', recordFd: 3, replyFd: 4, idleTimeoutMs: 0 }] })).toMatch(/wait for a run on fd 3 \(idle timeout none\)/);
  });
});
