/**
 * runc's global options through `main()`, without root: `--log FILE` and `--log-format` (the
 * runtime's own log, as containerd's shim reads it), `--debug`, `--systemd-cgroup`,
 * `--rootless`, `--root` after the verb, the refused `run --log`, and how `ns exec` takes
 * its command (execWords). Nothing here starts a container.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeLog, execWords, formatLogLine, main, parseRootless } from '../src/index.js';

let dir: string;
let root: string;
let out: string;
let err: string;
const io = () => ({
  cwd: dir,
  env: {},
  stdout: (s: string) => {
    out += s;
  },
  stderr: (s: string) => {
    err += s;
  },
});
/** The log file's lines, parsed as JSON. */
const jsonLines = (file: string) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
/** RFC 3339, as Go's time.Time reads it (go-runc parses the `time` field into one). */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ns-cli-global-'));
  root = join(dir, 'state');
  out = '';
  err = '';
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the runtime log (--log, --log-format)', () => {
  it('formats lines as logrus does: JSON {level,msg,time}, or text with the message quoted when needed', () => {
    const time = '2026-12-06T17:19:44.123Z';
    expect(formatLogLine('json', 'error', 'container x: "bad"', time)).toBe('{"level":"error","msg":"container x: \\"bad\\"","time":"2026-12-06T17:19:44.123Z"}');
    expect(formatLogLine('text', 'warning', 'a b', time)).toBe('time="2026-12-06T17:19:44.123Z" level=warning msg="a b"');
    expect(formatLogLine('text', 'debug', 'plain/word-1.2', time)).toBe('time="2026-12-06T17:19:44.123Z" level=debug msg=plain/word-1.2');
    const lines: string[] = [];
    const log = new RuntimeLog({ format: 'json', write: (l) => lines.push(l), now: () => time });
    log.debug('not without --debug');
    log.warn('two\n  lines');
    expect(lines).toEqual(['{"level":"warning","msg":"two lines","time":"2026-12-06T17:19:44.123Z"}\n']);
  });

  it('--log FILE --log-format json: an error is one JSON line there (what containerd reads) and one ns: line on stderr', async () => {
    const log = join(dir, 'log.json');
    expect(await main(['--root', root, '--log', log, '--log-format', 'json', 'state', 'ghost'], io())).toBe(125);
    expect(err).toBe('ns: container ghost does not exist\n');
    const lines = jsonLines(log);
    expect(lines).toHaveLength(1);
    expect(Object.keys(lines[0]!)).toEqual(['level', 'msg', 'time']);
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'container ghost does not exist' });
    expect(lines[0]!.time).toMatch(RFC3339);
    // Appended to, as runc opens it (O_APPEND), never truncated.
    expect(await main(['--root', root, '--log', log, '--log-format', 'json', 'kill', 'ghost'], io())).toBe(125);
    expect(jsonLines(log)).toHaveLength(2);
  });

  it('an unknown verb or option of a verb is in --log too (the verb was looked up before the log was opened)', async () => {
    const log = join(dir, 'log.json');
    expect(await main(['--root', root, '--log', log, '--log-format', 'json', 'bogusverb'], io())).toBe(125);
    expect(await main(['--root', root, '--log', log, '--log-format', 'json', 'create', '--bogus', 'x'], io())).toBe(125);
    expect(jsonLines(log).map((l) => [l.level, l.msg])).toEqual([
      ['error', "unknown command 'bogusverb'"],
      ['error', "unknown option '--bogus'"],
    ]);
    expect(err).toBe("ns: unknown command 'bogusverb'\nns: unknown option '--bogus'\n");
  });

  it('--log FILE in the default text format: logrus text lines; a relative FILE is taken from the working directory', async () => {
    expect(await main(['--root', root, '--log', 'ns.log', 'delete', 'ghost'], io())).toBe(125);
    expect(readFileSync(join(dir, 'ns.log'), 'utf8')).toMatch(/^time="[^"]+" level=error msg="container ghost does not exist"\n$/);
    expect(err).toBe('ns: container ghost does not exist\n');
  });

  it('--log-format json without --log: the log is stderr, one JSON line per error', async () => {
    expect(await main(['--root', root, '--log-format', 'json', 'state', 'ghost'], io())).toBe(125);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(err)).toMatchObject({ level: 'error', msg: 'container ghost does not exist' });
  });

  it('a warning of ns goes to the log only, never to stderr, when --log is given', async () => {
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    expect(await main(['spec', '--bundle', bundle, '--no-terminal'], io())).toBe(0);
    const log = join(dir, 'warn.log');
    out = '';
    const status = await main(['--root', root, '--log', log, '--log-format', 'json', 'run', '--dry-run', '--bundle', bundle, '--rootfs', dir, '--', 'true'], io());
    expect(err).toBe('');
    expect(status).toBe(0);
    expect(jsonLines(log)).toEqual([expect.objectContaining({ level: 'warning', msg: "--rootfs is ignored with --bundle (the bundle's root.path is used)" })]);
    // Without --log the log is stderr: ns's usual warning line.
    err = '';
    expect(await main(['--root', root, 'run', '--dry-run', '--bundle', bundle, '--rootfs', dir, '--', 'true'], io())).toBe(0);
    expect(err).toBe("ns: warning: --rootfs is ignored with --bundle (the bundle's root.path is used)\n");
  });

  it('--debug writes debug lines: the command line and the exit status', async () => {
    const log = join(dir, 'debug.log');
    expect(await main(['--root', root, '--debug', '--log', log, '--log-format', 'json', 'list', '-q'], io())).toBe(0);
    expect(jsonLines(log).map((l) => [l.level, l.msg])).toEqual([
      ['debug', `ns --root ${root} --debug --log ${log} --log-format json list -q`],
      ['debug', 'exit status 0'],
    ]);
    expect(err).toBe('');
  });

  it('refuses a bad --log-format and a --log that cannot be opened, naming the option, creating nothing', async () => {
    const log = join(dir, 'never.log');
    expect(await main(['--root', root, '--log', log, '--log-format', 'xml', 'list'], io())).toBe(125);
    expect(err).toBe('ns: --log-format "xml": expected text or json\n');
    expect(existsSync(log)).toBe(false);
    err = '';
    const missing = join(dir, 'no', 'such', 'dir', 'ns.log');
    expect(await main(['--root', root, '--log', missing, 'run', '--rootfs', dir, 'c1', '--', 'true'], io())).toBe(125);
    expect(err).toBe(`ns: --log ${missing}: cannot open for writing: ENOENT\n`);
    expect(existsSync(root)).toBe(false);
  });
});

describe('runc global flags', () => {
  it('--systemd-cgroup is refused for run and create before anything is made, and accepted by the other verbs', async () => {
    for (const verb of [['run', '--rootfs', dir, 'c1', '--', 'true'], ['create', '--rootfs', dir, 'c1', '--', 'true']]) {
      err = '';
      expect(await main(['--root', root, '--systemd-cgroup', ...verb], io())).toBe(125);
      expect(err).toMatch(/^ns: --systemd-cgroup: ns has no systemd cgroup driver: [^\n]*cgroupfs[^\n]*\n$/);
      expect(existsSync(root)).toBe(false);
    }
    // Written to --log too, where containerd's shim reads the error (regression: the refusal came
    // before the log was opened).
    const log = join(dir, 'systemd.json');
    expect(await main(['--root', root, '--log', log, '--log-format', 'json', '--systemd-cgroup', 'create', '--rootfs', dir, 'c1', '--', 'true'], io())).toBe(125);
    expect(JSON.parse(readFileSync(log, 'utf8'))).toMatchObject({ level: 'error', msg: expect.stringMatching(/^--systemd-cgroup: ns has no systemd cgroup driver/) });
    expect(existsSync(root)).toBe(false);
    err = '';
    expect(await main(['--root', root, '--systemd-cgroup', 'list', '-q'], io())).toBe(0);
    expect(await main(['--root', root, '--systemd-cgroup', 'delete', '-f', 'gone'], io())).toBe(0);
    expect(err).toBe('');
  });

  it('--rootless takes what runc takes (a Go boolean or auto) and refuses anything else', async () => {
    for (const v of ['auto', '', 'true', '1', 't', 'FALSE', 'False', '0']) {
      expect(await main(['--root', root, '--rootless', v, 'list', '-q'], io()), v).toBe(0);
    }
    expect(parseRootless('auto')).toBeNull();
    expect(parseRootless('T')).toBe(true);
    expect(parseRootless('f')).toBe(false);
    expect(await main(['--root', root, '--rootless', 'maybe', 'list'], io())).toBe(125);
    expect(err).toBe('ns: --rootless "maybe": expected true, false or auto\n');
  });

  it('--root is taken after the verb too (the later one wins); the other global options only before it, as runc', async () => {
    mkdirSync(join(root, 'c9'), { recursive: true });
    writeFileSync(join(root, 'c9', 'state.json'), '{}');
    const other = join(dir, 'other');
    expect(await main(['--root', other, 'list', '--root', root, '-q'], io())).toBe(0);
    expect(err).toBe('');
    err = '';
    expect(await main(['--root', root, 'state', '--log', join(dir, 'x.log'), 'ghost'], io())).toBe(125);
    expect(err).toBe("ns: unknown option '--log'\n");
    expect(existsSync(join(dir, 'x.log'))).toBe(false);
  });

  it('run --log / create --log (the container output, formerly) are refused with what to use instead, creating nothing', async () => {
    for (const verb of ['run', 'create']) {
      err = '';
      expect(await main(['--root', root, verb, '--log', 'out.log', '--rootfs', dir, 'c1', '--', 'true'], io())).toBe(125);
      expect(err).toBe(
        `ns: ${verb} --log out.log: no longer takes the container's output: --log is ns's own log now, a global option given before the verb ` +
          "as runc's (ns --log FILE [--log-format json] VERB ...); send the container's output to a file with --stdout FILE --stderr FILE " +
          '(the same FILE for both is fine)\n',
      );
      expect(readdirSync(dir).sort()).toEqual([]);
    }
  });
});

describe('ns exec: the command after the ID, as runc exec', () => {
  it('takes every word after the ID, a later -- included; or, with none, what follows --', () => {
    expect(execWords(['sh', '-c', 'echo hi'], undefined)).toEqual(['sh', '-c', 'echo hi']);
    expect(execWords(['grep'], ['-v', 'x'])).toEqual(['grep', '--', '-v', 'x']);
    expect(execWords([], ['ls', '-l'])).toEqual(['ls', '-l']);
    expect(execWords([], undefined)).toBeUndefined();
  });

  it('lists the form without -- in its help', async () => {
    expect(await main(['exec', '--help'], io())).toBe(0);
    expect(out).toMatch(/Usage: ns exec \[options\] ID CMD ARGS\.\.\. \(or ID -- CMD ARGS\.\.\.\)/);
  });
});
