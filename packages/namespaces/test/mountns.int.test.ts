// A config without a mount namespace (issue 19): the caller's is inherited, as config-linux.md
// says, and the process runs chroot(2)ed into the rootfs, as runc does, with no mount made
// anywhere; what needs a mount namespace of its own is refused before anything starts. As root;
// only processes these tests start are signalled, by pid.
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACES, StateStore, exec, execIn, rootfsContainer, runContainer, type Container, type ContainerProcess } from '../src/index.js';
import { ROOTFS, gone, hostMounts, isRoot } from './helpers.js';

async function output(p: ContainerProcess): Promise<{ out: string; exitCode: number | null }> {
  let out = '';
  p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const [{ exitCode }] = await Promise.all([p.wait(), new Promise((r) => p.once('close', r))]);
  return { out, exitCode };
}

/** The default namespaces but mount, and nothing that needs a mount namespace. */
const withoutMountNs = (extra: Partial<Container> = {}): Container =>
  rootfsContainer(ROOTFS, { namespaces: DEFAULT_NAMESPACES.filter((n) => n.type !== 'mount'), mounts: [], maskedPaths: [], readonlyPaths: [], cwd: '/tmp', ...extra });

const started: ContainerProcess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    p.kill('SIGKILL');
    await p.wait();
  }
});

describe.skipIf(!isRoot || !ROOTFS)('exec() without a mount namespace (as root)', () => {
  it("runs in the caller's mount namespace, chroot()ed into the rootfs, and mounts nothing", async () => {
    const before = hostMounts();
    const p = exec(withoutMountNs({ args: ['sh', '-c', 'cat /.ns-test-rootfs; pwd; read x'] }), { stdio: ['pipe', 'pipe', 'inherit'] });
    started.push(p);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('/tmp\n')) await new Promise((r) => setTimeout(r, 10));
    // Seen from the host while it runs: the host's mount namespace, the rootfs as its root.
    expect(readlinkSync(`/proc/${p.pid}/ns/mnt`)).toBe(readlinkSync('/proc/self/ns/mnt'));
    expect(readlinkSync(`/proc/${p.pid}/root`)).toBe(ROOTFS);
    expect(readlinkSync(`/proc/${p.pid}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
    p.stdin!.end('\n');
    expect((await p.wait()).exitCode).toBe(0);
    expect(out).toBe(`${readFileSync(join(ROOTFS, '.ns-test-rootfs'), 'utf8')}/tmp\n`);
    expect(gone(p.pid)).toBe(true);
    expect(hostMounts()).toEqual(before);
  });

  it('execIn into it takes the same root (chroot to the container process\'s)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ns-mountns-'));
    try {
      const store = new StateStore(root);
      const { process: p, state } = runContainer(withoutMountNs({ id: 'nomnt', args: ['sleep', '60'] }), { store, stdio: 'ignore' });
      started.push(p);
      const r = await output(execIn(state, { args: ['sh', '-c', 'cat /.ns-test-rootfs; pwd'] }, { stdio: ['ignore', 'pipe', 'inherit'] }));
      expect(r.exitCode).toBe(0);
      expect(r.out).toBe(`${readFileSync(join(ROOTFS, '.ns-test-rootfs'), 'utf8')}/tmp\n`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses what needs a mount namespace of its own, naming the field, before anything starts', () => {
    const before = hostMounts();
    const refuse = (extra: Partial<Container>, path: string, message: RegExp) =>
      expect(() => exec(withoutMountNs({ args: ['true'], ...extra }), { stdio: 'ignore' })).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path, message: expect.stringMatching(message) }));
    refuse({ maskedPaths: ['/proc/kcore'] }, 'maskedPaths', /^maskedPaths: unable to restrict sys entries without a private mount namespace/);
    refuse({ readonlyPaths: ['/proc/sys'] }, 'readonlyPaths', /^readonlyPaths: unable to restrict sys entries/);
    refuse({ mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }] }, 'mounts', /^mounts: mounts need a mount namespace of the container's own/);
    refuse({ readonly: true }, 'readonly', /^readonly: a read-only root needs a mount namespace/);
    expect(hostMounts()).toEqual(before);
  });
});
