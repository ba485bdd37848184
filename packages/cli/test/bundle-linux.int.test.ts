/**
 * `ns run --bundle` with the config.json parts of issue 19, as a user would run them beside
 * runc: linux.devices, namespaces joined by path, no mount namespace, rootfsPropagation, a
 * read-only /dev, an empty HOME; and bad input, refused by JSON path before anything starts.
 * Each run must leave no mount, state or process behind. As root; only processes these tests
 * start are signalled, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { start, type Result } from './run-command.js';
import { hostMountPoints } from '../../../scripts/testing/host-mounts.mjs';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
/** What `runc spec` writes (checked in with the namespaces tests). */
const RUNC_SPEC = join(REPO, 'packages/namespaces/test/fixtures/runc-spec-config.json');

type Spec = Record<string, any>;

let tmp: string;
let n = 0;
const mountPoints = hostMountPoints;
let mountsBefore: string[];
const others: ChildProcess[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ns-bundle-linux-'));
  mountsBefore = mountPoints();
});
afterEach(() => {
  for (const c of others.splice(0)) c.kill('SIGKILL');
});
afterAll(() => {
  try {
    expect(mountPoints()).toEqual(mountsBefore);
    if (existsSync(join(tmp, 'state'))) expect(readdirSync(join(tmp, 'state'))).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** A bundle of runc's default spec on the test rootfs, with `args`, changed by `edit`. */
function bundle(args: string[], edit: (spec: Spec) => void = () => {}): string {
  const dir = join(tmp, `b${n++}`);
  const spec = JSON.parse(readFileSync(RUNC_SPEC, 'utf8')) as Spec;
  spec.root = { path: ROOTFS, readonly: true };
  spec.process.terminal = false;
  spec.process.args = args;
  edit(spec);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/** `ns run --bundle DIR ID`, with the warnings left out of stderr. */
async function run(dir: string): Promise<Result & { errors: string }> {
  const r = await start(process.execPath, [BIN, '--root', join(tmp, 'state'), 'run', '--bundle', dir, `t${n++}`]).done;
  return { ...r, errors: r.stderr.split('\n').filter((l) => l && !l.startsWith('ns: warning:')).join('\n') };
}

/** `unshare ARGS sleep 60`: the pid of the process in the new namespaces (no --fork). */
async function unshare(args: string[]): Promise<number> {
  const child = spawn('unshare', [...args, 'sleep', '60'], { stdio: 'ignore' });
  others.push(child);
  for (let i = 0; i < 100 && !readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 20));
  return child.pid!;
}

describe.skipIf(!isRoot || !ROOTFS)('ns run --bundle: issue 19 (as root)', () => {
  it('linux.devices: made after the default nodes, as asked (a devices cgroup: runc spec has linux.resources)', async () => {
    const r = await run(bundle(['stat', '-c', '%n %A %u %g %t:%T', '/dev/fuse', '/dev/null'], (s) => {
      s.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 5, gid: 6 }];
    }));
    expect(r.errors).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('/dev/fuse crw------- 5 6 a:e5\n/dev/null crw-rw-rw- 0 0 1:3\n');
  });

  it('linux.namespaces with paths: ipc and uts joined (readlink /proc/self/ns/TYPE is the target)', async () => {
    const pid = await unshare(['--ipc', '--uts']);
    const r = await run(bundle(['sh', '-c', 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts'], (s) => {
      s.hostname = '';
      s.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'network' }, { type: 'ipc', path: `/proc/${pid}/ns/ipc` }, { type: 'uts', path: `/proc/${pid}/ns/uts` }];
    }));
    expect(r.errors).toBe('');
    expect(r.stdout).toBe(`${readlinkSync(`/proc/${pid}/ns/ipc`)}\n${readlinkSync(`/proc/${pid}/ns/uts`)}\n`);
  });

  it('no mount namespace: runs chroot()ed into the rootfs, as runc; masked paths then refused with runc\'s reason', async () => {
    const noMount = (s: Spec) => {
      s.linux.namespaces = s.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'mount');
      s.root.readonly = false;
      s.mounts = [];
      delete s.linux.maskedPaths;
      delete s.linux.readonlyPaths;
    };
    const r = await run(bundle(['cat', '/.ns-test-rootfs'], noMount));
    expect(r.errors).toBe('');
    expect(r.stdout).toBe(readFileSync(join(ROOTFS!, '.ns-test-rootfs'), 'utf8'));
    const maskedDir = bundle(['true'], (s) => {
      noMount(s);
      s.linux.maskedPaths = ['/proc/kcore'];
    });
    const masked = await run(maskedDir);
    expect(masked.code).toBe(125);
    expect(masked.errors).toBe(`ns: ${join(maskedDir, 'config.json')}: linux.maskedPaths: unable to restrict sys entries without a private mount namespace (as runc)`);
  });

  it('rootfsPropagation shared (was pivot_root EINVAL) and slave run; / has that propagation', async () => {
    for (const [value, want] of [['shared', / shared:\d+ /], ['rslave', /^(?!.* shared:)/]] as const) {
      const r = await run(bundle(['sh', '-c', 'grep -E "^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / " /proc/self/mountinfo'], (s) => (s.linux.rootfsPropagation = value)));
      expect(r.errors).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(want);
    }
  });

  it('a read-only /dev: populated, then read-only; and HOME="" is the home from passwd', async () => {
    const r = await run(bundle(['sh', '-c', 'ls /dev/pts/ptmx /dev/null /dev/shm >/dev/null && echo populated; touch /dev/x 2>/dev/null || echo read-only; echo "HOME=$HOME"'], (s) => {
      const dev = s.mounts.find((m: { destination: string }) => m.destination === '/dev');
      dev.options.push('ro');
      s.process.env.push('HOME=');
    }));
    expect(r.errors).toBe('');
    expect(r.stdout).toBe('populated\nread-only\nHOME=/root\n');
  });

  it.each([
    ['a namespace path that does not exist', (s: Spec) => (s.linux.namespaces[2] = { type: 'ipc', path: '/var/run/netns/ns-no-such-ns' }), 'linux.namespaces[2].path: /var/run/netns/ns-no-such-ns: no such namespace file'],
    ['a namespace path that is not a namespace', (s: Spec) => (s.linux.namespaces[2] = { type: 'ipc', path: '/etc/passwd' }), 'linux.namespaces[2].path: /etc/passwd is not a namespace'],
    ['a namespace of another type', (s: Spec) => (s.linux.namespaces[2] = { type: 'ipc', path: '/proc/self/ns/net' }), /^linux\.namespaces\[2\]\.path: \/proc\/self\/ns\/net is a network namespace, not ipc$/],
    ['a device of a bad type', (s: Spec) => (s.linux.devices = [{ path: '/dev/x', type: 'x', major: 1, minor: 3 }]), /linux\.devices\[0\]\.type: expected one of "c", "b", "u", "p", received "x"$/],
    ['a device outside /dev', (s: Spec) => (s.linux.devices = [{ path: '/etc/x', type: 'c', major: 1, minor: 3 }]), /^linux\.devices\[0\]\.path: \/etc\/x is outside \/dev/],
    ['a device fileMode past 07777', (s: Spec) => (s.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o10666 }]), 'linux.devices[0].fileMode: expected permission bits 0..0o7777, got 0o10666'],
    ['an unknown rootfsPropagation', (s: Spec) => (s.linux.rootfsPropagation = 'everywhere'), /linux\.rootfsPropagation: expected one of "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable", received "everywhere"$/],
    ['a seccomp profile that denies execve', (s: Spec) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO' }), /^linux\.seccomp: execve fails with errno 1 under this profile/],
    ['a seccomp action that does not exist', (s: Spec) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_DENY' }] }), /^linux\.seccomp\.syscalls\[0\]\.action: unknown action "SCMP_ACT_DENY"/],
    ['an AppArmor profile', (s: Spec) => (s.process.apparmorProfile = 'docker-default'), /^process\.apparmorProfile: ns applies no AppArmor profile/],
  ])('refuses %s by JSON path, before anything starts', async (_what, edit, message) => {
    const dir = bundle(['true'], edit);
    const r = await run(dir);
    expect(r.code).toBe(125);
    // Every message about the file starts with its full path (the schema's, the conversion's and the namespace files' alike).
    const prefix = `ns: ${join(dir, 'config.json')}: `;
    expect(r.errors.startsWith(prefix), r.errors).toBe(true);
    const rest = r.errors.slice(prefix.length);
    if (typeof message === 'string') expect(rest).toBe(message);
    else expect(rest).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
