/**
 * The lifecycle verbs through `main()`, without root: parsing, `--root` in either place,
 * and the output of list / state / ps / kill / delete on hand-written state files. A
 * "running" container here is this test process itself (its pid and start time), so
 * nothing is ever signalled but signal 0.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OCI_VERSION, processStartTime, rootfsContainer, type ContainerState } from '@ns/namespaces';
import { formatTable, main, parseSignal } from '../src/index.js';

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

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ns-cli-lifecycle-'));
  root = join(dir, 'state');
  out = '';
  err = '';
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Write `<root>/<id>/state.json`: running as this process, or stopped (a start time that never matches). */
function writeState(id: string, running: boolean): ContainerState {
  // A mount namespace only: no pid namespace, so the container's processes are its init alone.
  const config = { ...rootfsContainer('/rootfs', { id }), namespaces: [{ type: 'mount' as const }] };
  const state: ContainerState = {
    ociVersion: OCI_VERSION,
    id,
    status: 'running',
    pid: process.pid,
    bundle: '/bundle',
    annotations: {},
    created: '2024-01-02T03:04:05.678Z',
    startTime: running ? processStartTime(process.pid)! : 'never',
    config,
    detached: true,
  };
  mkdirSync(join(root, id), { recursive: true });
  writeFileSync(join(root, id, 'state.json'), JSON.stringify(state));
  return state;
}

describe('--root', () => {
  it('is accepted before and after the command name, relative to the working directory', async () => {
    writeState('box', true);
    expect(await main(['--root', 'state', 'list', '-q'], io())).toBe(0);
    expect(await main(['list', '--root', root, '-q'], io())).toBe(0);
    expect(await main(['list', '-q', '--root=state'], io())).toBe(0);
    expect(err).toBe('');
    expect(out).toBe('box\nbox\nbox\n');
  });

  it('is listed in the help of every command', async () => {
    expect(await main(['--help'], io())).toBe(0);
    for (const verb of ['run', 'exec', 'list', 'state', 'ps', 'kill', 'delete', 'spec']) expect(out).toMatch(new RegExp(`\\b${verb}\\b`));
    for (const verb of ['exec', 'list', 'kill', 'delete']) {
      out = '';
      expect(await main([verb, '--help'], io())).toBe(0);
      expect(out).toContain('--root <dir>');
    }
  });
});

describe('list', () => {
  it('prints a header only, [] or nothing when there are no containers (and creates nothing)', async () => {
    expect(await main(['--root', root, 'list'], io())).toBe(0);
    expect(out).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n$/);
    out = '';
    expect(await main(['--root', root, 'list', '--format', 'json'], io())).toBe(0);
    expect(out).toBe('[]\n');
    out = '';
    expect(await main(['--root', root, 'list', '-q'], io())).toBe(0);
    expect(out).toBe('');
    expect(existsSync(root)).toBe(false);
  });

  it('shows running and stopped containers (PID 0 once stopped)', async () => {
    writeState('up', true);
    writeState('down', false);
    expect(await main(['--root', root, 'list'], io())).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^down\s+0\s+stopped\s+\/bundle\s+2024-01-02T03:04:05\.678Z\s+\S+$/);
    expect(lines[2]).toMatch(new RegExp(`^up\\s+${process.pid}\\s+running\\s+/bundle\\s+2024-01-02T03:04:05\\.678Z\\s+\\S+$`));
    // Columns line up.
    expect(lines[1]!.indexOf('0 ')).toBe(lines[0]!.indexOf('PID'));

    out = '';
    expect(await main(['--root', root, 'list', '-f', 'json'], io())).toBe(0);
    const entries = JSON.parse(out) as Record<string, unknown>[];
    expect(entries.map((e) => [e.id, e.pid, e.status])).toEqual([
      ['down', 0, 'stopped'],
      ['up', process.pid, 'running'],
    ]);
    expect(entries[1]).toMatchObject({ ociVersion: OCI_VERSION, bundle: '/bundle', rootfs: '/rootfs', created: '2024-01-02T03:04:05.678Z' });
    expect(typeof entries[1]!.owner).toBe('string');
  });

  it('refuses an unknown format', async () => {
    expect(await main(['--root', root, 'list', '--format', 'xml'], io())).toBe(125);
    expect(err).toMatch(/^ns: .*'xml' is invalid.*table, json/);
  });
});

describe('state', () => {
  it('prints the OCI state with the live status', async () => {
    writeState('up', true);
    writeState('down', false);
    expect(await main(['--root', root, 'state', 'up'], io())).toBe(0);
    expect(JSON.parse(out)).toEqual({
      ociVersion: OCI_VERSION,
      id: 'up',
      status: 'running',
      pid: process.pid,
      bundle: '/bundle',
      created: '2024-01-02T03:04:05.678Z',
      rootfs: '/rootfs',
    });
    expect(out).toMatch(/^\{\n {2}"ociVersion"/);
    out = '';
    expect(await main(['--root', root, 'state', 'down'], io())).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ id: 'down', status: 'stopped' });
    expect(JSON.parse(out)).not.toHaveProperty('pid');
  });

  it('125 for an unknown, invalid or missing id', async () => {
    expect(await main(['--root', root, 'state', 'nope'], io())).toBe(125);
    expect(err).toBe('ns: container nope does not exist\n');
    err = '';
    expect(await main(['--root', root, 'state', '../etc'], io())).toBe(125);
    expect(err).toMatch(/^ns: invalid container id "\.\.\/etc"/);
    err = '';
    expect(await main(['--root', root, 'state'], io())).toBe(125);
    expect(err).toMatch(/missing required argument 'ID'/);
  });
});

describe('ps', () => {
  it('lists the init of a container without a pid namespace; json: its pids', async () => {
    writeState('up', true);
    expect(await main(['--root', root, 'ps', '--format', 'json', 'up'], io())).toBe(0);
    expect(JSON.parse(out)).toEqual([process.pid]);
    out = '';
    expect(await main(['--root', root, 'ps', 'up'], io())).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^UID\s+PID\s+PPID\s+STAT\s+CMD$/);
    expect(lines[1]).toMatch(new RegExp(`^${process.getuid!()}\\s+${process.pid}\\s+${process.ppid}\\s+[A-Z]\\s+\\S`));
  });

  it('a stopped container has no processes (as runc ps: the header alone, or [])', async () => {
    writeState('down', false);
    expect(await main(['--root', root, 'ps', 'down'], io())).toBe(0);
    expect(out.trimEnd()).toMatch(/^UID\s+PID\s+PPID\s+STAT\s+CMD$/);
    out = '';
    expect(await main(['--root', root, 'ps', '--format', 'json', 'down'], io())).toBe(0);
    expect(out).toBe('[]\n');
    expect(err).toBe('');
  });
});

describe('kill', () => {
  it('parses names in any case, with or without SIG, and numbers', () => {
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGKILL')).toBe(9);
    expect(parseSignal('kill')).toBe(9);
    expect(parseSignal('15')).toBe(15);
    expect(() => parseSignal('NOPE')).toThrow(/unknown signal "NOPE"/);
    expect(() => parseSignal('65')).toThrow(/unknown signal "65"/);
    expect(() => parseSignal('-1')).toThrow(/unknown signal/);
  });

  it('125 for an unknown signal, before looking at the container', async () => {
    expect(await main(['--root', root, 'kill', 'nope', 'BOGUS'], io())).toBe(125);
    expect(err).toMatch(/^ns: unknown signal "BOGUS" \(expected .*\)\n$/);
  });

  it('125 for a stopped or unknown container, in runc\'s words (containerd\'s shim matches them)', async () => {
    writeState('down', false);
    expect(await main(['--root', root, 'kill', 'down', 'KILL'], io())).toBe(125);
    expect(err).toBe('ns: container not running: down\n');
    err = '';
    expect(await main(['--root', root, 'kill', 'nope'], io())).toBe(125);
    expect(err).toBe('ns: container nope does not exist\n');
    // --all: what is left of a stopped one (nothing without a cgroup) is signalled, as runc.
    err = '';
    expect(await main(['--root', root, 'kill', '--all', 'down', 'KILL'], io())).toBe(0);
    expect(err).toBe('');
  });

  it('signal 0 to a running container succeeds', async () => {
    writeState('up', true);
    expect(await main(['--root', root, 'kill', 'up', '0'], io())).toBe(0);
    expect(err).toBe('');
  });
});

describe('delete', () => {
  it('refuses a running container without --force, naming it', async () => {
    writeState('up', true);
    expect(await main(['--root', root, 'delete', 'up'], io())).toBe(125);
    expect(err).toMatch(/^ns: cannot delete container up that is not stopped: running .*--force.*\n$/);
    expect(existsSync(join(root, 'up', 'state.json'))).toBe(true);
  });

  it('deletes a stopped container; unknown: 125, or 0 with --force (as runc)', async () => {
    writeState('down', false);
    expect(await main(['--root', root, 'delete', 'down'], io())).toBe(0);
    expect(readdirSync(root)).toEqual([]);
    expect(await main(['--root', root, 'delete', 'down'], io())).toBe(125);
    expect(err).toBe('ns: container down does not exist\n');
    err = '';
    mkdirSync(join(root, 'half')); // an aborted start: a folder without state.json
    expect(await main(['--root', root, 'delete', '--force', 'half'], io())).toBe(0);
    expect(err).toBe('');
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('exec and run -d: usage errors', () => {
  it('exec without a command exits 125; a command without -- is taken, as runc exec', async () => {
    writeState('up', true);
    writeState('down', false);
    expect(await main(['--root', root, 'exec', 'up'], io())).toBe(125);
    expect(err).toBe('ns: no command given: ns exec ID CMD ARGS... (or ns exec ID -- CMD ARGS...)\n');
    // Parsed (every word after the ID is the command's, -l included), then refused for the state.
    err = '';
    expect(await main(['--root', root, 'exec', 'down', 'ls', '-l', '/'], io())).toBe(125);
    expect(err).toBe('ns: cannot exec in a stopped container: down\n');
    // Options go before the ID; after it they are the command's (not exec's --user).
    err = '';
    expect(await main(['--root', root, 'exec', '--user', 'nobody:nope', 'down', 'id', '--user'], io())).toBe(125);
    expect(err).toBe('ns: cannot exec in a stopped container: down\n');
  });

  it('exec refuses a stopped container and a bad capability', async () => {
    writeState('down', false);
    writeState('up', true);
    expect(await main(['--root', root, 'exec', 'down', '--', 'true'], io())).toBe(125);
    expect(err).toBe('ns: cannot exec in a stopped container: down\n');
    err = '';
    expect(await main(['--root', root, 'exec', '--cap-add', 'NOPE', 'up', '--', 'true'], io())).toBe(125);
    expect(err).toMatch(/^ns: --cap-add: unknown capability "NOPE"/);
  });

  it('exec refuses a -g / --additional-gids that is not a group id, naming the flag', async () => {
    writeState('up', true);
    for (const args of [['-g', 'wheel'], ['--additional-gids', '-1'], ['-g', '10', '-g', '1.5'], ['--additional-gids=4294967295']]) {
      err = '';
      expect(await main(['--root', root, 'exec', ...args, 'up', '--', 'true'], io())).toBe(125);
      expect(err).toMatch(/^ns: --additional-gids "[^"]*": expected a group id, an integer 0\.\.4294967294\n$/);
    }
  });

  it('exec --help lists -g, --additional-gids', async () => {
    expect(await main(['exec', '--help'], io())).toBe(0);
    expect(out).toMatch(/-g, --additional-gids <gid>/);
  });

  it('run -d -t without --console-socket is refused before anything is created (runc\'s message)', async () => {
    expect(await main(['--root', root, 'run', '-d', '-t', 'box', '--', 'sh'], io())).toBe(125);
    expect(err).toMatch(/^ns: cannot allocate tty if ns will detach without setting console socket \(--console-socket PATH/);
    expect(existsSync(root)).toBe(false);
  });

  it('run --stdout with -t in the foreground is refused', async () => {
    expect(await main(['--root', root, 'run', '-t', '--stdout', 'x.log', '--', 'sh'], io())).toBe(125);
    expect(err).toMatch(/cannot be used with a terminal/);
    expect(existsSync(join(dir, 'x.log'))).toBe(false);
  });
});

describe('formatTable', () => {
  it('pads every column but the last to its widest cell plus 3', () => {
    expect(formatTable([['ID', 'PID', 'CMD'], ['a', 12345, 'sh -c x'], ['longer', 1, '']])).toBe(
      'ID       PID     CMD\n' + 'a        12345   sh -c x\n' + 'longer   1\n',
    );
  });
});
