/** The hand-off wire format and the policy of which calls `ns serve` runs (serve/protocol.ts). */
import { describe, expect, it } from 'vitest';
import { MAX_BODY, MalformedRequest, decodeRequest, encodeRequest, handedOff, requestLength, statusAnswer } from '../src/serve/protocol.js';

describe('hand-off requests', () => {
  it('decodes what it encodes (empty arguments, UTF-8, = in values)', () => {
    const request = { cwd: '/home/a b', argv: ['--root', 'r', 'state', '', 'é'], env: { A: '1=2', EMPTY: '' } };
    const bytes = encodeRequest(request);
    expect(requestLength(bytes)).toBe(bytes.length);
    expect(decodeRequest(bytes)).toEqual(request);
  });

  it('waits for the header, then names the whole length', () => {
    const bytes = encodeRequest({ cwd: '/', argv: ['list'], env: {} });
    expect(requestLength(bytes.subarray(0, 15))).toBeNull();
    expect(requestLength(bytes.subarray(0, 16))).toBe(bytes.length);
  });

  it('refuses another magic, a body past the limit, wrong counts, a relative cwd, an entry without =', () => {
    const good = encodeRequest({ cwd: '/', argv: ['list'], env: { A: 'b' } });
    const magic = Buffer.from(good);
    magic.write('XXXX', 0, 'latin1');
    expect(() => requestLength(magic)).toThrow(MalformedRequest);
    const big = Buffer.from(good);
    big.writeUInt32LE(MAX_BODY + 1, 4);
    expect(() => requestLength(big)).toThrow(/at most/);
    const counts = Buffer.from(good);
    counts.writeUInt32LE(2, 8);
    expect(() => decodeRequest(counts)).toThrow(/strings for/);
    expect(() => decodeRequest(encodeRequest({ cwd: 'rel', argv: [], env: {} }))).toThrow(/not absolute/);
    const noEq = encodeRequest({ cwd: '/', argv: [], env: { A: 'b' } });
    noEq.write('A_b', noEq.length - 4, 'latin1');
    expect(() => decodeRequest(noEq)).toThrow(/KEY=/);
    expect(() => decodeRequest(good.subarray(0, good.length - 1))).toThrow(MalformedRequest);
  });

  it('answers the status as a little-endian i32; to a front that clones, X, the status and the container pid', () => {
    expect([...statusAnswer(125)]).toEqual([125, 0, 0, 0]);
    expect([...statusAnswer(1, true, 0x01020304)]).toEqual([0x58, 1, 0, 0, 0, 4, 3, 2, 1]);
  });

  it('tells a front that clones (NSH2) from one that does not (NSH1)', () => {
    const request = { cwd: '/', argv: ['create', 'x'], env: {}, clones: true, umask: 0o027 };
    const bytes = encodeRequest(request);
    expect(bytes.toString('latin1', 0, 4)).toBe('NSH2');
    // Its body starts with the caller's umask, in octal.
    expect(bytes.toString('latin1', 16, 21)).toBe('0027\0');
    expect(decodeRequest(bytes)).toEqual(request);
    const bad = Buffer.from(bytes);
    bad.write('0928', 16, 'latin1');
    expect(() => decodeRequest(bad)).toThrow(/umask/);
    expect(decodeRequest(encodeRequest({ cwd: '/', argv: [], env: {} })).clones).toBeUndefined();
  });
});

describe('which calls a server runs', () => {
  it.each([
    [['state', 'x'], true],
    [['--root', '/r', '--log', 'l', '--log-format', 'json', '--debug', 'list'], true],
    [['--root=/r', 'kill', 'x', 'KILL'], true],
    [['start', 'x'], true],
    [['rm', '-f', 'x'], true],
    [['ps', 'x'], true],
    [['features'], true],
    [['--version'], true],
    [['-V'], true],
    [['events', 'x', '--stats'], true],
    [['events', 'x'], false],
    [['create', 'x'], false],
    [['run', '--rootfs', 'r', 'state'], false],
    [['exec', 'x', 'state'], false],
    [['serve'], false],
    [['--help'], false],
    [['state', '--help'], false],
    [['kill', '-h'], false],
    [[], false],
    [['--bogus', 'state', 'x'], false],
    [['--version', 'run'], false],
    [['--root', 'state', 'run'], false],
  ])('%j -> %s', (argv, expected) => {
    expect(handedOff(argv)).toBe(expected);
  });

  it.each([
    [['create', '--bundle', 'b', 'x'], true],
    [['--root', '/r', 'create', '--pid-file', 'p', 'x'], true],
    [['create', '--preserve-fds', '1', 'x'], false],
    [['create', '--preserve-fds=1', 'x'], false],
    [['create', '-h'], false],
    [['run', '-d', 'x'], false],
    [['exec', 'x', 'true'], false],
    // A detached exec, as conmon and containerd's shim call it; options before the id only.
    [['exec', '--process', 'p.json', '--detach', '--pid-file', 'p', 'x'], true],
    [['exec', '-d', '-e', 'A=1', '--cwd=/', '-u', '0', 'x', 'true'], true],
    [['exec', 'x', 'sh', '-d'], false],
    [['exec', '-d', '--preserve-fds', '1', 'x', 'true'], false],
    [['exec', '-dt', 'x', 'true'], false],
    [['exec', '-d', '--bogus', 'x', 'true'], false],
    [['exec', '-d'], false],
    [['exec', '--pid-file', '-d', 'x', 'true'], false],
    [['state', 'x'], true],
  ])('from a front that clones: %j -> %s', (argv, expected) => {
    expect(handedOff(argv, true)).toBe(expected);
  });
});
