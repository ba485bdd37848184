import { describe, expect, it } from 'vitest';
import { decideStatus, failedVerdict, type Measured } from '../src/index.js';

const base: Measured = { exitCode: 0, signal: null, cpuMs: 10, wallMs: 20, oomKilled: false, killedFor: null, truncated: { stdout: false, stderr: false } };
const killed = { exitCode: null, signal: 'SIGKILL' as const };

describe('decideStatus', () => {
  it('OK, RE and SG from how the program ended', () => {
    expect(decideStatus(base, {})).toEqual({ status: 'OK', message: '' });
    expect(decideStatus({ ...base, exitCode: 2 }, {})).toEqual({ status: 'RE', message: 'Exited with error status 2' });
    expect(decideStatus({ ...base, exitCode: null, signal: 'SIGSEGV' }, {})).toEqual({ status: 'SG', message: 'Caught fatal signal 11' });
  });

  it('what the sandbox killed for wins over how it died', () => {
    expect(decideStatus({ ...base, ...killed, killedFor: 'cpu', cpuMs: 1050 }, { cpuTimeMs: 1000 })).toEqual({ status: 'TO', message: 'Time limit exceeded' });
    expect(decideStatus({ ...base, ...killed, killedFor: 'wall' }, { wallTimeMs: 10 })).toEqual({ status: 'TO', message: 'Time limit exceeded (wall clock)' });
    expect(decideStatus({ ...base, ...killed, killedFor: 'output', truncated: { stdout: true, stderr: true } }, {})).toEqual({
      status: 'OLE',
      message: 'Output limit exceeded (stdout, stderr)',
    });
  });

  it('cpu over the limit is TO even when the program finished within the extra time (isolate)', () => {
    expect(decideStatus({ ...base, cpuMs: 1001 }, { cpuTimeMs: 1000 }).status).toBe('TO');
    expect(decideStatus({ ...base, cpuMs: 1000 }, { cpuTimeMs: 1000 }).status).toBe('OK');
    expect(decideStatus({ ...base, wallMs: 31 }, { wallTimeMs: 30 })).toEqual({ status: 'TO', message: 'Time limit exceeded (wall clock)' });
  });

  it('OOM when the OOM killer struck, before the signal', () => {
    expect(decideStatus({ ...base, ...killed, oomKilled: true }, {})).toEqual({ status: 'OOM', message: 'Memory limit exceeded' });
    expect(decideStatus({ ...base, exitCode: 1, oomKilled: true }, {}).status).toBe('OOM');
  });

  it('file size: SIGXFSZ, and 153 from a shell when a file size limit is set', () => {
    expect(decideStatus({ ...base, exitCode: null, signal: 'SIGXFSZ' }, {})).toEqual({ status: 'SG', message: 'File size limit exceeded (caught fatal signal 25, SIGXFSZ)' });
    expect(decideStatus({ ...base, exitCode: 153 }, { fileSizeBytes: 10 }).message).toMatch(/File size limit exceeded/);
    expect(decideStatus({ ...base, exitCode: 153 }, {}).message).toBe('Exited with error status 153');
  });

  it('failedVerdict: XX with the error code and message', () => {
    const err = Object.assign(new Error('execve /x: ENOENT'), { code: 'ENOENT' });
    expect(failedVerdict(err, 5)).toMatchObject({ status: 'XX', wallMs: 5, message: 'ENOENT: execve /x: ENOENT', exitCode: null, signal: null });
  });
});
