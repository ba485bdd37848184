import { describe, expect, it } from 'vitest';
import { formatMeta, isolateStatus, parseMeta, type Verdict } from '../src/index.js';

const verdict = (o: Partial<Verdict>): Verdict => ({
  status: 'OK',
  exitCode: 0,
  signal: null,
  cpuMs: 12.3456,
  wallMs: 40,
  maxRssKiB: 1372,
  oomKilled: false,
  killed: false,
  stdout: Buffer.alloc(0),
  stderr: Buffer.alloc(0),
  truncated: { stdout: false, stderr: false },
  message: '',
  ...o,
});

describe('formatMeta (isolate meta files)', () => {
  it('OK: times in seconds with 3 decimals, memory in KiB, exitcode, no status', () => {
    expect(formatMeta(verdict({}))).toBe('time:0.012\ntime-wall:0.040\nmax-rss:1372\ncg-mem:1372\nexitcode:0\n');
    expect(formatMeta(verdict({ cgroupMemKiB: 9120 }))).toBe('time:0.012\ntime-wall:0.040\nmax-rss:1372\ncg-mem:9120\nexitcode:0\n');
  });

  it('TO by the wall timer: exitsig, killed, status, message', () => {
    const text = formatMeta(verdict({ status: 'TO', exitCode: null, signal: 'SIGKILL', killed: true, wallMs: 1000.4, message: 'Time limit exceeded (wall clock)' }));
    expect(text).toBe('time:0.012\ntime-wall:1.000\nmax-rss:1372\ncg-mem:1372\nexitsig:9\nkilled:1\nstatus:TO\nmessage:Time limit exceeded (wall clock)\n');
  });

  it('OOM and OLE: isolate statuses, with ours in ns-status', () => {
    const oom = parseMeta(formatMeta(verdict({ status: 'OOM', exitCode: null, signal: 'SIGKILL', oomKilled: true, message: 'Memory limit exceeded' })));
    expect(oom).toMatchObject({ 'cg-oom-killed': '1', status: 'SG', 'ns-status': 'OOM', exitsig: '9' });
    expect(oom.killed).toBeUndefined();
    const ole = parseMeta(formatMeta(verdict({ status: 'OLE', exitCode: 0, message: 'Output limit exceeded' })));
    expect(ole).toMatchObject({ status: 'RE', 'ns-status': 'OLE', exitcode: '0' });
  });

  it('a message stays on one line', () => {
    expect(formatMeta(verdict({ status: 'XX', exitCode: null, message: 'a\nb\r\nc' }))).toMatch(/^message:a b c$/m);
  });

  it('isolateStatus maps ours to isolate RE/SG/TO/XX', () => {
    expect(isolateStatus({ status: 'OK', signal: null })).toBeNull();
    expect(isolateStatus({ status: 'XX', signal: null })).toBe('XX');
    expect(isolateStatus({ status: 'OOM', signal: null })).toBe('RE');
  });
});
