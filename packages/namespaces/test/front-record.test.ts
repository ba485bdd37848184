// The native front's record (container/front-record.ts): what StateStore.write() puts beside
// state.json, read back with a parser of the format front/record.h documents.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore, ociState, processStartTime, rootfsContainer, type ContainerState } from '../src/index.js';
import { FRONT_RECORD, frontRecord } from '../src/container/front-record.js';
import { stateFileText } from '../src/container/state.js';

let root: string;
let store: StateStore;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ns-front-record-'));
  store = new StateStore(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function state(over: Partial<ContainerState> = {}): ContainerState {
  return {
    ociVersion: '1.2.0',
    id: 'c1',
    status: 'running',
    pid: process.pid,
    bundle: '/b',
    annotations: { a: 'b' },
    created: '2026-01-01T00:00:00.000Z',
    startTime: processStartTime(process.pid)!,
    config: rootfsContainer('/r', { id: 'c1' }),
    detached: true,
    ...over,
  };
}

interface Parsed {
  lines: [string, string][];
  texts: Map<string, string>;
  files: Map<string, string>;
}

/** The record's lines and blocks, as front/record.c reads them (lengths in bytes). */
function parse(text: string): Parsed {
  const buf = Buffer.from(text);
  const out: Parsed = { lines: [], texts: new Map(), files: new Map() };
  let at = 0;
  const line = () => {
    const nl = buf.indexOf(10, at);
    const s = buf.toString('utf8', at, nl);
    at = nl + 1;
    return s;
  };
  expect(line()).toBe('ns-front-record 1');
  for (;;) {
    const l = line();
    if (l === 'end') break;
    const [key, ...rest] = l.split(' ');
    if (key === 'text' || key === 'file') {
      const len = Number(rest.at(-1));
      const body = buf.toString('utf8', at, at + len);
      expect(buf[at + len]).toBe(10);
      at += len + 1;
      (key === 'text' ? out.texts : out.files).set(rest.slice(0, -1).join(' '), body);
    } else out.lines.push([key!, rest.join(' ')]);
  }
  expect(at).toBe(buf.length);
  return out;
}

const values = (p: Parsed, key: string) => p.lines.filter(([k]) => k === key).map(([, v]) => v);

describe('frontRecord()', () => {
  it("holds, for a running container, the pid, its start time and `ns state`'s document for each live status, byte for byte", () => {
    const s = state();
    const p = parse(frontRecord(s, store.dir('c1'))!);
    expect(values(p, 'pid')).toEqual([String(process.pid)]);
    expect(values(p, 'start-time')).toEqual([s.startTime]);
    expect(values(p, 'fifo')).toEqual([]);
    // Alive: what ociState() (Node's `ns state`) prints now.
    expect(p.texts.get('alive')).toBe(`${JSON.stringify(ociState(s), null, 2)}\n`);
    expect(JSON.parse(p.texts.get('frozen')!)).toMatchObject({ status: 'paused', pid: process.pid });
    // Stopped: what ociState() prints once the process is gone (no pid).
    const gone = { ...s, pid: 2 ** 22 + 1 };
    expect(p.texts.get('stopped')).toBe(`${JSON.stringify(ociState(gone), null, 2)}\n`);
    expect(JSON.parse(p.texts.get('stopped')!)).not.toHaveProperty('pid');
    expect(p.files.size).toBe(0);
  });

  it('lists every signal name Node knows, with its number (what `ns kill` accepts)', () => {
    const p = parse(frontRecord(state(), store.dir('c1'))!);
    expect(values(p, 'signal')).toEqual(Object.entries(constants.signals).map(([n, v]) => `${n} ${v}`));
  });

  it('for a created container: the exec.fifo, and the state.json and record start leaves (as startCreatedContainer() writes them)', () => {
    const s = state({ status: 'created' });
    const dir = store.dir('c1');
    const p = parse(frontRecord(s, dir)!);
    expect(values(p, 'fifo')).toEqual([join(dir, 'exec.fifo')]);
    expect(JSON.parse(p.texts.get('alive')!).status).toBe('created');
    expect(p.texts.has('frozen')).toBe(false); // a created container never reads as paused
    const running: ContainerState = { ...s, status: 'running' };
    expect(p.files.get('start state.json')).toBe(stateFileText(running));
    expect(p.files.get(`start ${FRONT_RECORD}`)).toBe(frontRecord(running, dir));
  });

  it('marks what must run in Node: poststart hooks (start), poststop hooks or a bridge (delete)', () => {
    const hook = { path: '/bin/true' };
    const with_ = (config: Partial<ContainerState['config']>) => values(parse(frontRecord(state({ status: 'created', config: { ...state().config, ...config } }), store.dir('c1'))!), 'node');
    expect(with_({})).toEqual([]);
    expect(with_({ hooks: { poststart: [hook] } })).toEqual(['start']);
    expect(with_({ hooks: { poststop: [hook] } })).toEqual(['delete']);
    expect(with_({ bridge: { name: 'ns0', subnet: '10.88.0.0/24' } })).toEqual(['delete']);
  });

  it('is null while the container is being created, without a pid, or for a value that cannot be a line', () => {
    expect(frontRecord(state({ status: 'creating' }), store.dir('c1'))).toBeNull();
    expect(frontRecord(state({ pid: 0 }), store.dir('c1'))).toBeNull();
    expect(frontRecord(state({ status: 'created' }), join(root, 'a\nb'))).toBeNull();
    expect(frontRecord(state({ status: 'stopped' }), store.dir('c1'))).toBeNull();
  });
});

describe('StateStore.write() and the record', () => {
  it('writes the record with state.json, and removes it when the state has none', () => {
    store.create(state({ status: 'creating', pid: 0, startTime: '' }));
    expect(readdirSync(join(root, 'c1'))).toEqual(['state.json']);
    store.write(state({ status: 'created' }));
    expect(readdirSync(join(root, 'c1')).sort()).toEqual([FRONT_RECORD, 'state.json']);
    expect(readFileSync(join(root, 'c1', FRONT_RECORD), 'utf8')).toBe(frontRecord(state({ status: 'created' }), store.dir('c1')));
    store.write(state({ status: 'creating' }));
    expect(readdirSync(join(root, 'c1'))).toEqual(['state.json']);
  });
});
