/**
 * Issue 15, the CLI corner cases found when `ns` was tried as a new user would, each asserted
 * as runc does it or, where runc has no such option, as is safe (never a silent default that
 * runs something else than asked, or as another user):
 * - one bare word after `--rootfs R` (or with no config.json around) taken as the container
 *   id, running the default `sh` silently;
 * - `-u ''` and `-u ':'` running as root;
 * - unknown keys (typos of known fields) passing silently, and `env: null`;
 * - a relative `--root` state directory;
 * - an empty path flag (`--rootfs ''`) taken as the working directory (resolve('') is the cwd:
 *   the cwd became the root and got dev/ proc/ sys/), `--cwd ''` running in /.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateEntries } from './leftovers.js';
import { start, type Result, type StartOptions } from './run-command.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;

describe.skipIf(!isRoot || !ROOTFS)('CLI corner cases (as root)', () => {
  let tmp: string;
  let state: string;
  const ns = (args: string[], options: StartOptions = {}): Promise<Result> => start(process.execPath, [BIN, '--root', state, ...args], options).done;
  /** `ns` without a --root of this file's (for the tests of --root itself). */
  const nsBare = (args: string[], options: StartOptions = {}): Promise<Result> => start(process.execPath, [BIN, ...args], options).done;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ns-corners-'));
    state = join(tmp, 'state');
  });
  afterAll(() => {
    try {
      expect(stateEntries(state)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  describe('a bare word where a command was meant', () => {
    it('`ns run --rootfs R word` does not silently run sh as container "word"', async () => {
      // The user meant the command `word` (or `ls`): runc has no --rootfs; what is safe is to
      // say so (an error or a warning naming it), not to run the default shell, which with
      // stdin closed exits 0 at once, as if `word` had run.
      for (const word of ['word', 'ls']) {
        const r = await ns(['run', '--rootfs', ROOTFS!, word]);
        expect(r.stderr, `ns run --rootfs R ${word}: exit ${r.code}`).toContain(word);
        expect(r.code === 0 && r.stdout === '').toBe(false);
      }
    });

    it('`ns run word` in a directory without config.json: an error, as `runc run word`', async () => {
      const cwd = mkdtempSync(join(tmp, 'empty-'));
      const r = await ns(['run', 'word'], { cwd });
      // runc: "JSON specification file config.json not found"; never a default container.
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/config\.json|word/);
    });
  });

  describe('-u with nothing in it', () => {
    for (const user of ['', ':']) {
      it(`-u ${JSON.stringify(user)} is refused (125), not run as root`, async () => {
        const r = await ns(['run', '--rootfs', ROOTFS!, '-u', user, '--', 'id', '-u']);
        expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 125, stdout: '' });
        expect(r.stderr).toMatch(/^ns: .*(-u|--user|user)[^\n]*\n$/);
      });
    }

    it('-u "alice" and -u "1000:1000" run as asked (the checks above can fail)', async () => {
      expect((await ns(['run', '--rootfs', ROOTFS!, '-u', 'alice', '--', 'id', '-u'])).stdout).toBe('1000\n');
      expect((await ns(['run', '--rootfs', ROOTFS!, '-u', '1000:1000', '--', 'id', '-u'])).stdout).toBe('1000\n');
    });
  });

  describe('config.json keys', () => {
    let bundle: string;
    let spec: { process: Record<string, unknown>; linux: Record<string, unknown> } & Record<string, unknown>;
    beforeAll(async () => {
      bundle = join(tmp, 'bundle');
      mkdirSync(bundle);
      expect((await ns(['spec', '--bundle', bundle, '--rootfs', ROOTFS!, '--no-terminal', '--', '/bin/sh', '-c', 'env | sort'])).code).toBe(0);
      spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    });
    const runWith = async (edit: (s: typeof spec) => void, id: string) => {
      const copy = structuredClone(spec);
      edit(copy);
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(copy));
      return ns(['run', '--bundle', bundle, id]);
    };

    it('an unknown key in a known object (a typo of a security field) is named in a warning', async () => {
      // The spec lets runtimes ignore unknown properties (runc does, silently). A typo of
      // noNewPrivileges, maskedPaths or readonly must not pass unseen: a warning naming it.
      const r = await runWith((s) => {
        s.process.noNewPrivilege = true;
        s.linux.maskedPath = ['/proc/kcore'];
        (s.root as Record<string, unknown>).readOnly = true;
      }, 'typos');
      expect(r.code).toBe(0);
      for (const path of ['process.noNewPrivilege', 'linux.maskedPath', 'root.readOnly']) expect(r.stderr).toContain(path);
    });

    it('env: null is refused naming process.env, or runs with an empty environment (as runc)', async () => {
      const r = await runWith((s) => {
        s.process.env = null;
      }, 'envnull');
      if (r.code === 125) expect(r.stderr).toMatch(/^ns: [^\n]*process\.env[^\n]*\n$/);
      else {
        expect(r.code).toBe(0);
        expect(r.stdout).not.toMatch(/^(?!PWD=|SHLVL=|HOME=|PATH=)[A-Z_]+=/m); // only what sh sets itself
      }
    });
  });

  describe('a relative --root', () => {
    it('is taken relative to the working directory when given, and stays put (as runc makes it absolute)', async () => {
      const a = join(tmp, 'cwd-a');
      const b = join(tmp, 'cwd-b');
      mkdirSync(a);
      mkdirSync(b);
      const log = join(a, 'out.log');
      expect((await nsBare(['--root', 'rel-state', 'create', '--rootfs', ROOTFS!, '--stdout', log, '--stderr', '/dev/null', 'rel1', '--', '/bin/sh', '-c', 'echo started'], { cwd: a })).code).toBe(0);
      try {
        expect(stateEntries(join(a, 'rel-state'))).toEqual(['rel1']);
        // From elsewhere, the same state by another relative path: start, list, delete.
        const other = ['--root', '../cwd-a/rel-state'];
        expect((await nsBare([...other, 'start', 'rel1'], { cwd: b })).code).toBe(0);
        for (let i = 0; i < 100 && !readFileSync(log, 'utf8').includes('started'); i++) await new Promise((r) => setTimeout(r, 20));
        expect(readFileSync(log, 'utf8')).toBe('started\n');
        expect((await nsBare([...other, 'list', '-q'], { cwd: b })).stdout).toBe('rel1\n');
      } finally {
        await nsBare(['--root', join(a, 'rel-state'), 'delete', '-f', 'rel1']);
      }
      expect(stateEntries(join(a, 'rel-state'))).toEqual([]);
      expect(stateEntries(join(b, 'rel-state'))).toEqual([]); // nothing made relative to the wrong directory
    });

    it('a root this user cannot read: list fails saying so, as runc list (it printed an empty table)', async () => {
      const locked = join(tmp, 'locked');
      mkdirSync(locked, { mode: 0o711 });
      const r = await nsBare(['--root', locked, 'list'], { uid: 65534, gid: 65534 });
      expect(r).toMatchObject({ code: 125, stdout: '', stderr: `ns: open ${locked}: permission denied\n` });
      // A root not made yet is an empty list, as before.
      expect(await nsBare(['--root', join(tmp, 'not-yet'), 'list', '-q'])).toMatchObject({ code: 0, stdout: '' });
    });

    it('an empty --root is refused', async () => {
      const r = await nsBare(['--root', '', 'list'], { cwd: tmp });
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/--root/);
    });
  });

  describe('an empty path flag', () => {
    const cases: [string, string[]][] = [
      ['--rootfs', ['run', '--rootfs', '', '--', 'true']],
      ['--rootfs', ['run', '--rootfs', '', '--time', '1', '--', 'true']],
      ['--bundle', ['run', '--bundle', '', 'e1']],
      ['--cwd', ['run', '--rootfs', ROOTFS ?? '/', '--cwd', '', '--', 'pwd']],
      ['--meta', ['run', '--rootfs', ROOTFS ?? '/', '--meta', '', '--time', '1', '--', 'true']],
      ['--stdout', ['run', '--rootfs', ROOTFS ?? '/', '--stdout', '', '--', 'true']],
      ['--stdin', ['run', '--rootfs', ROOTFS ?? '/', '--stdin', '', '--time', '1', '--', 'true']],
      ['--pid-file', ['run', '--rootfs', ROOTFS ?? '/', '--pid-file', '', '--', 'true']],
      ['--console-socket', ['run', '-d', '-t', '--rootfs', ROOTFS ?? '/', '--console-socket', '', 'e2', '--', 'true']],
      ['--cwd', ['exec', '--cwd', '', 'nosuch', '--', 'pwd']],
      ['--log', ['--log', '', 'list']],
    ];
    it.each(cases)('%s "" is refused (125, naming it), never taken as the working directory', async (flag, args) => {
      const dir = mkdtempSync(join(tmp, 'empty-'));
      const r = await ns(args, { cwd: dir });
      expect(r.code, r.stderr).toBe(125);
      expect(r.stderr).toContain(flag);
      expect(readdirSync(dir)).toEqual([]); // no dev/ proc/ sys/ made in the cwd
    });
  });
});
