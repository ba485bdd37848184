import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, main } from '../src/index.js';

let dir: string;
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
  dir = mkdtempSync(join(tmpdir(), 'ns-cli-main-'));
  out = '';
  err = '';
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('main: usage', () => {
  it('--help prints usage on stdout and exits 0', async () => {
    expect(await main(['--help'], io())).toBe(0);
    expect(out).toMatch(/Usage: ns/);
    expect(out).toMatch(/\brun\b/);
    expect(out).toMatch(/\bspec\b/);
    expect(err).toBe('');
  });

  it('run --help lists the options and exits 0', async () => {
    expect(await main(['run', '--help'], io())).toBe(0);
    for (const flag of ['--bundle', '--rootfs', '--tty', '--net', '--cap-add', '--cap-drop', '--volume', '--dry-run', '--env', '--user']) {
      expect(out).toContain(flag);
    }
    // What 0 means where it could be taken for "no limit".
    const help = out.replace(/\s+/g, ' ');
    expect(help).toContain('--output-limit <KiB> limit mode: output kept per stream (default 65536); past it the run is killed: OLE. 0: no output allowed (the first byte is OLE)');
    expect(help).toContain('--fsize <KiB> limit mode: largest file the command may write (RLIMIT_FSIZE; 0: none)');
  });

  it('an unknown option exits 125 with one ns: line', async () => {
    expect(await main(['run', '--bogus'], io())).toBe(125);
    expect(err).toBe("ns: unknown option '--bogus'\n");
  });

  it('features prints the runtime-spec features document', async () => {
    expect(await main(['features'], io())).toBe(0);
    const f = JSON.parse(out);
    expect(f).toMatchObject({ ociVersionMin: '1.0.0', ociVersionMax: '1.2.0', hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] });
    expect(f.mountOptions).toEqual(expect.arrayContaining(['ro', 'nosuid', 'rbind', 'rslave']));
    expect(f.linux.namespaces).toEqual(['mount', 'pid', 'uts', 'ipc', 'network', 'user', 'cgroup', 'time']);
    expect(f.linux.capabilities).toContain('CAP_SYS_ADMIN');
    expect(f.linux.seccomp.actions).toContain('SCMP_ACT_NOTIFY');
    expect(f.linux.seccomp.supportedFlags).toContain('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV');
    expect(f.linux.seccomp.archs).toEqual(expect.arrayContaining(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']));
    expect(f.linux.apparmor).toEqual({ enabled: false });
  });

  it("--version prints runc's three-line form", async () => {
    expect(await main(['--version'], io())).toBe(0);
    expect(out).toMatch(/^ns version \d+\.\d+\.\d+\nspec: 1\.\d+\.\d+\nnode: v\d+\.\d+\.\d+\n$/);
  });

  it("Docker's limit flags point at linux.resources and ns update", async () => {
    expect(await main(['run', '--memory', '64m', '--', 'true'], io())).toBe(125);
    expect(err).toBe(
      "ns: unknown option '--memory' (limits go in config.json linux.resources (ns run --bundle), or change a running container with ns update --memory; for one run with a verdict, isolate's flags: --time, --mem KiB, --processes ...)\n",
    );
    err = '';
    expect(await main(['run', '--pids-limit=16'], io())).toBe(125);
    expect(err).toMatch(/^ns: unknown option '--pids-limit=16' \(limits go in .* ns update --pids-limit; for one run with a verdict, isolate's flags: .*\)\n$/);
  });

  it('an unknown command exits 125 with one line', async () => {
    expect(await main(['frobnicate'], io())).toBe(125);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^ns: unknown command 'frobnicate'/);
  });

  it('a missing option argument exits 125', async () => {
    expect(await main(['run', '--net'], io())).toBe(125);
    expect(err).toMatch(/^ns: option '--net <mode>' argument missing\n$/);
  });

  it('extra positionals exit 125 and point at --', async () => {
    expect(await main(['run', 'box', 'sh'], io())).toBe(125);
    expect(err).toMatch(/too many arguments.*after --/);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('ns create says how create takes a command, in its own verb (it said "ns run [ID]")', async () => {
    expect(await main(['--root', dir, 'create', 'a b'], io())).toBe(125);
    expect(err).toMatch(/^ns: invalid container id "a b" .*; to run a command, put it after --: ns create ID -- CMD ARGS\.\.\.\n$/);
    err = '';
    expect(await main(['--root', dir, 'create', 'box', 'sh'], io())).toBe(125);
    expect(err).toMatch(/too many arguments for 'create'.*\(put the command after --: ns create ID -- CMD ARGS\.\.\.\)\n$/);
    err = '';
    expect(await main(['--root', dir, 'create', '--rootfs', dir, 'box', '/bin/sh', '-c', 'x'], io())).toBe(125);
    expect(err).toBe("ns: unknown option '-c' (put the command after --: ns create ID -- CMD ARGS...)\n");
    // The ID alone and an unknown option: no hint about a command.
    err = '';
    expect(await main(['--root', dir, 'create', 'box', '-c'], io())).toBe(125);
    expect(err).toBe("ns: unknown option '-c'\n");
  });

  it('a --root that is a file, or under one, fails every verb naming --root (it said EEXIST mkdir, or listed nothing)', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    for (const args of [['list'], ['state', 'x'], ['create', '--rootfs', dir, 'x'], ['delete', 'x'], ['kill', 'x']]) {
      err = '';
      out = '';
      expect(await main(['--root', file, ...args], io()), args.join(' ')).toBe(125);
      expect({ out, err }).toEqual({ out: '', err: `ns: --root ${file}: not a directory (a directory for container state is needed)\n` });
    }
    err = '';
    expect(await main(['--root', join(file, 'sub'), 'list'], io())).toBe(125);
    expect(err).toBe(`ns: --root ${join(file, 'sub')}: not a directory (a file is on its path)\n`);
  });

  it('a command given without -- points at -- too (not only "unknown option")', async () => {
    expect(await main(['run', '--rootfs', dir, '/bin/sh', '-c', 'echo hi'], io())).toBe(125);
    expect(err).toBe("ns: unknown option '-c' (put the command after --: ns run [ID] -- CMD ARGS...)\n");
    err = '';
    expect(await main(['--root', dir, 'run', '-e', 'A=b', 'sh', '-c', 'x'], io())).toBe(125);
    expect(err).toMatch(/^ns: unknown option '-c' \(put the command after --/);
    // ns exec takes every word after the ID as the command, as runc exec: no hint, no error
    // about -l (the container is what is missing here).
    err = '';
    expect(await main(['--root', dir, 'exec', 'web1', 'ls', '-l'], io())).toBe(125);
    expect(err).toBe('ns: container web1 does not exist\n');
    // An option before the ID is exec's: an unknown one is a plain unknown option.
    err = '';
    expect(await main(['--root', dir, 'exec', '--bogus', 'web1', 'ls'], io())).toBe(125);
    expect(err).toBe("ns: unknown option '--bogus'\n");
  });

  it('--hostname "" is an error, not the host name kept', async () => {
    expect(await main(['run', '--dry-run', '--hostname', '', '--', 'true'], io())).toBe(125);
    expect(err).toBe('ns: --hostname: empty\n');
    expect(out).toBe('');
  });

  it('-v: a duplicate destination and / are errors (125)', async () => {
    expect(await main(['run', '--dry-run', '-v', `${dir}:/mnt/x`, '-v', `${dir}:/mnt/x`, '--', 'true'], io())).toBe(125);
    expect(err).toBe('ns: duplicate mount point /mnt/x\n');
    err = '';
    expect(await main(['run', '--dry-run', '-v', `${dir}:/`, '--', 'true'], io())).toBe(125);
    expect(err).toBe(`ns: -v ${dir}:/: the destination cannot be /\n`);
  });

  it('--net: a file that is not a network namespace is refused (125)', async () => {
    expect(await main(['run', '--dry-run', '--net', '/etc/passwd', '--', 'true'], io())).toBe(125);
    expect(err).toBe('ns: --net /etc/passwd: not a network namespace\n');
  });

  it('run without an id ignores a config.json in the working directory', async () => {
    writeFileSync(join(dir, 'config.json'), '{"unrelated": true}');
    expect(await main(['run', '--dry-run', '--', 'echo', 'hi'], io())).toBe(0);
    expect(err).toBe('');
    expect(out).toContain('execve');
    // With an id it is the bundle (and this one is not a valid config).
    out = '';
    expect(await main(['run', '--dry-run', 'box', '--', 'echo', 'hi'], io())).toBe(125);
    expect(err).toMatch(/^ns: .*config\.json/);
  });

  it('no command prints help on stderr and exits 125', async () => {
    expect(await main([], io())).toBe(125);
    expect(err).toMatch(/Usage: ns/);
  });

  it('a bad option value is reported as one ns: line, exit 125', async () => {
    expect(await main(['run', '--cap-add', 'NOPE', '--', 'true'], io())).toBe(125);
    expect(err).toMatch(/^ns: --cap-add: unknown capability "NOPE".*\n$/);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('main: run --dry-run', () => {
  it('prints the plan and starts nothing', async () => {
    const status = await main(['run', '--dry-run', '--hostname', 'box', 'dry1', '--', '/bin/echo', 'hi'], io());
    expect(err).toBe('');
    expect(status).toBe(0);
    expect(out).toMatch(/^clone flags 0x[0-9a-f]+\n/);
    expect(out).toContain('sethostname box');
    expect(out).toContain('execve /bin/echo');
    expect(out).toMatch(/pivot_root/);
  });

  it('shows the volumes and the console in the plan', async () => {
    const status = await main(['run', '--dry-run', '-t', '-v', `${dir}:/data:ro`, '--', 'sh'], io());
    expect(status).toBe(0);
    expect(out).toContain(`bind mount /oldroot${dir} on /newroot/data`);
    expect(out).toContain('/newroot/dev/console');
  });

  it('fails with 125 for a config the plan refuses', async () => {
    expect(await main(['run', '--dry-run', '--cwd', 'relative', '--', 'sh'], io())).toBe(125);
    expect(err).toMatch(/^ns: cwd: must be an absolute path/);
  });
});

describe('exitCodeFor', () => {
  it('maps execve ENOENT to 127, other execve errors to 126, the rest to 125', () => {
    expect(exitCodeFor({ code: 'ENOENT', syscall: 'execve' })).toBe(EXIT.NOT_FOUND);
    expect(exitCodeFor({ code: 'EACCES', syscall: 'execve' })).toBe(EXIT.CANNOT_EXECUTE);
    expect(exitCodeFor({ code: 'ENOEXEC', syscall: 'execve' })).toBe(126);
    expect(exitCodeFor({ code: 'ENOENT', syscall: 'mount' })).toBe(125);
    expect(exitCodeFor({ code: 'ERR_NS_CONFIG' })).toBe(125);
    expect(exitCodeFor(new Error('x'))).toBe(125);
  });
});
