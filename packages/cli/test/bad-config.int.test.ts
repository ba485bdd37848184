/**
 * Issue 15, malformed configs: every config.json of the corpus in bad-configs.ts, run with
 * `ns run --bundle`, ends with exit status 125 and one error naming the JSON path (or the
 * file's problem), within its time bound (no hang on /dev/zero, a fifo, a huge file), and
 * creates nothing: no state entry, no cgroup, no mount, no process.
 *
 * Each case runs the built CLI (`node packages/cli/dist/ns.cjs`) with a state root of this
 * file's own; only the processes these tests start are killed, by pid.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAD_CONFIGS, type Spec } from './bad-configs.js';
import { hostMounts, markedProcesses, nsCgroups, stateEntries } from './leftovers.js';
import { start } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
/** Set in every config's environment: a container that did start is found by it. */
const MARK = `NS_TEST_MARK=bad-config-${randomBytes(6).toString('hex')}`;

describe.skipIf(!isRoot || !ROOTFS)(`ns run --bundle with a malformed config.json (${BAD_CONFIGS.length} cases)`, () => {
  let tmp: string;
  let state: string;
  let valid: Spec;
  const mountsBefore = hostMounts();
  const cgroupsBefore = nsCgroups();
  const timings: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'ns-bad-config-'));
    state = join(tmp, 'state');
    const base = join(tmp, 'base');
    mkdirSync(base);
    // A copy of the rootfs: a case that gets as far as making mount points makes them there,
    // not in the rootfs other test files share.
    const rootfs = join(tmp, 'rootfs');
    cpSync(ROOTFS!, rootfs, { recursive: true, verbatimSymlinks: true });
    const r = await start(process.execPath, [BIN, 'spec', '--bundle', base, '--rootfs', rootfs, '--no-terminal', '--', '/bin/true']).done;
    expect(r.code).toBe(0);
    valid = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as Spec;
    valid.process.env.push(MARK);
    // The valid config runs (so each failure below is the case's own).
    const ok = await start(process.execPath, [BIN, '--root', state, 'run', '--bundle', base, 'valid0']).done;
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  afterAll(() => {
    try {
      expect(markedProcesses(MARK)).toEqual([]);
      expect(stateEntries(state).flatMap((d) => stateEntries(join(state, d)))).toEqual([]);
      // Only this file's ids: other test files make cgroups of their own meanwhile.
      expect(nsCgroups().filter((c) => !cgroupsBefore.includes(c) && /\/(bad\d+|valid0)$/.test(c))).toEqual([]);
      expect(hostMounts()).toEqual(mountsBefore);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      if (process.env.NS_TEST_TIMINGS) console.log(timings.join('\n'));
    }
  });

  BAD_CONFIGS.forEach((c, i) => {
    const within = c.within ?? 15;
    it(`${i}: ${c.name}`, async () => {
      const bundle = join(tmp, `b${i}`);
      mkdirSync(bundle);
      const file = join(bundle, 'config.json');
      const spec = structuredClone(valid) as Spec;
      if (c.write) c.write(file, spec);
      else writeFileSync(file, JSON.stringify(c.edit?.(spec) ?? spec));
      const id = `bad${i}`;
      const root = join(state, id); // one state root a case: a failure does not spill over
      const t0 = Date.now();
      const r = await start(process.execPath, [BIN, '--root', root, 'run', '--bundle', bundle, id], { timeoutMs: within * 1000 + 2000 }).done;
      const ms = Date.now() - t0;
      timings.push(`${ms} ms  ${c.name}`);
      try {
        // One error line (warnings may come before it), naming what is wrong.
        const lines = r.stderr.split('\n').filter(Boolean);
        const errors = lines.filter((l) => !l.startsWith('ns: warning: '));
        expect({ code: r.code, signal: r.signal, errors: errors.length }).toEqual({ code: 125, signal: null, errors: 1 });
        expect(errors[0]).toMatch(/^ns: /);
        expect(errors[0]).toMatch(c.names);
        expect(r.stdout).toBe('');
        expect(ms).toBeLessThan(within * 1000);
        // Nothing created.
        expect(stateEntries(root)).toEqual([]);
        expect(nsCgroups().filter((d) => d.endsWith(`/${id}`))).toEqual([]);
        expect(hostMounts()).toEqual(mountsBefore);
        expect(markedProcesses(MARK)).toEqual([]);
      } finally {
        // A run killed at its time bound leaves its state: remove it (and its container).
        if (stateEntries(root).length > 0) await start(process.execPath, [BIN, '--root', root, 'delete', '-f', id]).done;
        rmSync(bundle, { recursive: true, force: true });
      }
    }, (within + 30) * 1000);
  });
});
