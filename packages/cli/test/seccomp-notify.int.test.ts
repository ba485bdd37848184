/**
 * SCMP_ACT_NOTIFY through `ns run --bundle` (issue 11): the runtime hands the seccomp listener
 * and the container process state to the agent at linux.seccomp.listenerPath, as runc; the
 * agent here is this test (the addon's raw calls). An agent that is not there fails the run
 * with 125 naming the field, and nothing is left: no state, cgroup, mount or process.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recvFd, seccompNotifRecv, seccompNotifSend, unixAccept, unixListen } from '@ns/syscalls';
import { start } from './run-command.js';
import { hostMounts, nsCgroups, stateEntries } from './leftovers.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = process.env.NS_TEST_BIN ?? join(REPO, 'packages/cli/dist/ns.cjs');
const RUNC_SPEC = join(REPO, 'packages/namespaces/test/fixtures/runc-spec-config.json');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
const EACCES = 13;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ns-cli-notify-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ns = (args: string[]) => start(process.execPath, [BIN, '--root', join(tmp, 'state'), ...args]);

/** A bundle of runc's default spec (read-only root, a cgroup) running `args`, mkdir sent to the agent at `listenerPath`. */
function bundle(name: string, args: string[], listenerPath: string): string {
  const dir = join(tmp, name);
  const spec = JSON.parse(readFileSync(RUNC_SPEC, 'utf8')) as Record<string, any>;
  spec.root = { path: ROOTFS, readonly: true };
  spec.process.terminal = false;
  spec.process.args = args;
  spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath, listenerMetadata: 'from-config', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

describe.skipIf(!isRoot || !ROOTFS)('ns run with a seccomp agent (as root)', () => {
  it('the agent gets the listener and the state, and its answer is what mkdir returns', async () => {
    const sock = join(tmp, 'agent.sock');
    const listening = unixListen(sock);
    const fds = [listening];
    try {
      // The root is read-only: a mkdir the kernel ran would say EROFS, the agent says EACCES.
      const run = ns(['run', '--bundle', bundle('b1', ['sh', '-c', 'mkdir /x; echo rc=$?'], sock), 'notify1']);
      const conn = unixAccept(listening, 15_000);
      expect(conn).not.toBeNull();
      fds.push(conn!);
      const msg = recvFd(conn!, 65536)!;
      fds.push(msg.fd);
      const state = JSON.parse(msg.data.toString());
      expect(state).toMatchObject({ ociVersion: '1.2.0', fds: ['seccompFd'], metadata: 'from-config', state: { id: 'notify1', status: 'creating', bundle: join(tmp, 'b1') } });
      expect(state.state.pid).toBe(state.pid);
      const n = seccompNotifRecv(msg.fd, 15_000);
      expect(n).not.toBeNull();
      seccompNotifSend(msg.fd, n!.id, { error: EACCES });
      const r = await run.done;
      expect(r.stdout).toBe('rc=1\n');
      expect(r.stderr).toMatch(/Permission denied/);
      expect(r.code).toBe(0);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });

  it('an agent that is not there: 125 naming linux.seccomp.listenerPath, nothing left', async () => {
    const mounts = hostMounts();
    const stale = join(tmp, 'stale.sock');
    closeSync(unixListen(stale)); // a socket file whose listener is gone
    const r = await ns(['run', '--bundle', bundle('b2', ['true'], stale), 'notify2']).done;
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/linux\.seccomp\.listenerPath: cannot connect to the seccomp agent at .*stale\.sock: nobody listens there/);
    const missing = await ns(['run', '--bundle', bundle('b3', ['true'], join(tmp, 'none.sock')), 'notify3']).done;
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/linux\.seccomp\.listenerPath: .*none\.sock does not exist/);
    expect(stateEntries(join(tmp, 'state')).filter((e) => !e.startsWith('.'))).toEqual([]);
    // Other tests on this machine make ns cgroups meanwhile: only these containers' count.
    expect(nsCgroups().filter((c) => /notify[23]/.test(c))).toEqual([]);
    expect(hostMounts()).toEqual(mounts);
  });
});
