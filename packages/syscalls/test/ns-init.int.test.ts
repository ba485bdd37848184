// ns-init, the set-up helper every plan runs in: what the breaker found (issue 21 follow-ups).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NsError, native, spawn, spawnAsync, type Plan, type Step } from '../src/index.js';

const root = process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), 'ns-init-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TRUE: Step = { op: 'execve', paths: ['/bin/true'], argv: ['true'], envp: [] };
const paused = (): Plan => ({ cloneFlags: 0, steps: [{ op: 'sync', name: 'probe' }, { op: 'closeFrom', first: 3 }, TRUE] });

/** Gone, or a zombie (exited), within `ms`. */
async function dies(pid: number, ms = 3000): Promise<boolean> {
  for (let t = 0; t < ms; t += 50) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe.skipIf(!root)('ns-init (as root)', () => {
  it('every spawn execs its own ns-init image: one a container reached and changed is never used again', async () => {
    // What a container that raced a #!/proc/self/exe exec could do to the memfd: no write
    // (sealed), but its mode through an ACL, which F_SEAL_EXEC does not stop.
    const acl = join(work, 'acl');
    const cc = spawnSync('cc', ['-x', 'c', '-o', acl, '-'], {
      input: `#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/xattr.h>
int main(int c, char** v) {
  /* an access ACL of mode 0444: user::r, group::r, other::r */
  unsigned char b[4 + 3 * 8] = {2, 0, 0, 0};
  uint16_t tags[3] = {1, 4, 0x20};
  for (int k = 0; k < 3; k++) { memcpy(b + 4 + 8 * k, &tags[k], 2); b[6 + 8 * k] = 4; memset(b + 8 + 8 * k, 0xff, 4); }
  return setxattr(v[1], "system.posix_acl_access", b, sizeof b, 0) ? 1 : 0;
}`,
    });
    const inodes: number[] = [];
    const child = spawn(paused(), {
      onSync: (_s, _i, pid) => {
        inodes.push(statSync(`/proc/${pid}/exe`).ino);
        expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toMatch(/^ns-init\0\d+\0$/);
        if (cc.status === 0) execFileSync(acl, [`/proc/${pid}/exe`]); // the file, through the magic link
      },
    });
    expect((await child.exited).exitCode).toBe(0);
    const next = spawn(paused(), { onSync: (_s, _i, pid) => inodes.push(statSync(`/proc/${pid}/exe`).ino) });
    expect((await next.exited).exitCode).toBe(0);
    expect(inodes[0]).not.toBe(inodes[1]);
  });

  it('a set-up stopped past its deadline is killed and reported (spawn and spawnAsync)', async () => {
    // A container can SIGSTOP the process that joins it: the caller must not hang for ever.
    const stop = (_s: unknown, _i: number, pid: number) => process.kill(pid, 'SIGSTOP');
    const t0 = Date.now();
    let err: unknown;
    try {
      spawn(paused(), { onSync: stop, setupTimeout: 300 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NsError);
    expect((err as NsError).code).toBe('ETIMEDOUT');
    expect((err as NsError).message).toMatch(/did not finish within 300 ms and was killed/);
    expect(Date.now() - t0).toBeLessThan(5000);
    await expect(spawnAsync(paused(), { onSync: stop, setupTimeout: 300 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(() => spawn(paused(), { setupTimeout: -1 })).toThrow(/setupTimeout: expected milliseconds/);
  });

  it('keeps the parent-death signal across a change of uid (the kernel clears it)', async () => {
    // A Node process that starts `sleep` as uid 1000, then dies by SIGKILL: the sleep goes too.
    const script = join(work, 'pdeath.mjs');
    writeFileSync(
      script,
      `import { spawn } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
const c = spawn({ cloneFlags: 0, steps: [
  { op: 'setgroups', gids: [] }, { op: 'setresgid', rgid: 1000, egid: 1000, sgid: 1000 },
  { op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }, { op: 'closeFrom', first: 3 },
  { op: 'execve', paths: ['/bin/sleep'], argv: ['sleep', '60'], envp: [] }] });
console.log(c.pid);
setInterval(() => {}, 1000);`,
    );
    const { spawn: cpSpawn } = await import('node:child_process');
    const node = cpSpawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => node.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+1000\b/m);
    node.kill('SIGKILL');
    expect(await dies(pid)).toBe(true);
  });

  it('waitFifo writes only to the FIFO it was given, not to a file planted where /proc should be', () => {
    // A rootfs without a /proc mount could plant <proc>/self/fd/N as a plain file.
    const fifo = join(work, 'exec.fifo');
    native().mkfifo(fifo, 0o600);
    const fd = native().openPath(fifo);
    try {
      const fake = join(work, 'fakeproc');
      mkdirSync(join(fake, 'self/fd'), { recursive: true });
      writeFileSync(join(fake, `self/fd/${fd}`), '');
      expect(() => spawn({ cloneFlags: 0, steps: [{ op: 'procRoot', path: fake }, { op: 'waitFifo', fd }, TRUE] })).toThrow(/EXDEV/);
      expect(readFileSync(join(fake, `self/fd/${fd}`), 'utf8')).toBe('');
    } finally {
      closeSync(fd);
    }
  });

  it('a namespace descriptor is closed once joined', async () => {
    const fd = openSync('/proc/self/ns/uts', 'r');
    try {
      let open: boolean | undefined;
      const child = spawn(
        { cloneFlags: 0, steps: [{ op: 'setns', fd, nstype: 0 }, { op: 'sync', name: 'probe' }, { op: 'closeFrom', first: 3 }, TRUE] },
        { onSync: (_s, _i, pid) => (open = existsSync(`/proc/${pid}/fd/${fd}`)) },
      );
      expect((await child.exited).exitCode).toBe(0);
      expect(open).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  it('a descriptor a later step names (setns, waitFifo) survives a stdio step with more slots than its number', async () => {
    // The stdio step fills 0 .. n-1 (here closing every slot past 2): a namespace or FIFO
    // descriptor numbered below n was overwritten or closed before its step (EBADF).
    const nsFd = openSync('/proc/self/ns/uts', 'r');
    const fifo = join(work, 'low.fifo');
    native().mkfifo(fifo, 0o600);
    const fifoFd = native().openPath(fifo);
    try {
      const slots = Math.max(nsFd, fifoFd) + 2;
      const stdio: Step = { op: 'stdio', fds: [0, 1, 2, ...Array<number>(slots - 3).fill(-1)] };
      const joined = spawn({ cloneFlags: 0, steps: [stdio, { op: 'setns', fd: nsFd, nstype: 0 }, { op: 'closeFrom', first: 3 }, TRUE] });
      expect((await joined.exited).exitCode).toBe(0);
      // What `ns start` does: open the FIFO for reading (here first, and not blocking), read the byte.
      const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        const waiting = await spawnAsync({ cloneFlags: 0, steps: [stdio, { op: 'waitFifo', fd: fifoFd }, { op: 'closeFrom', first: 3 }, TRUE] });
        expect((await waiting.exited).exitCode).toBe(0);
        expect(readFileSync(reader, 'utf8')).toBe('0');
      } finally {
        closeSync(reader);
      }
    } finally {
      closeSync(nsFd);
      closeSync(fifoFd);
    }
  });

  it('fchown hands a stdio pipe to a uid; EPERM, EINVAL and EROFS are not errors (runc fixStdioPermissions)', async () => {
    const [r, w] = native().pipe();
    const nullFd = openSync('/dev/null', 'r');
    try {
      // stdio: 0 the pipe's read end, 1 its write end; 2 /dev/null, whose owner must stay.
      const stdio: Step = { op: 'stdio', fds: [r, w, nullFd] };
      const child = spawn({ cloneFlags: 0, steps: [stdio, { op: 'fchown', fd: 1, uid: 1000, gid: -1 }, { op: 'closeFrom', first: 3 }, TRUE] });
      expect((await child.exited).exitCode).toBe(0);
      expect([statSync(`/proc/self/fd/${w}`).uid, statSync(`/proc/self/fd/${w}`).gid]).toEqual([1000, 0]);
      expect(statSync('/dev/null').uid).toBe(0);
      // As uid 1000 without CAP_CHOWN, giving the pipe back to root is EPERM: the step goes on.
      const unprivileged = spawn({
        cloneFlags: 0,
        steps: [stdio, { op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }, { op: 'fchown', fd: 1, uid: 0, gid: -1 }, { op: 'closeFrom', first: 3 }, TRUE],
      });
      expect((await unprivileged.exited).exitCode).toBe(0);
      expect(statSync(`/proc/self/fd/${w}`).uid).toBe(1000);
      // Another errno (a descriptor that is not open) fails the step, naming it.
      expect(() => spawn({ cloneFlags: 0, steps: [{ op: 'fchown', fd: 999, uid: 0, gid: -1 }, TRUE] })).toThrow(/fchown fd 999 0:-1: EBADF/);
    } finally {
      for (const fd of [r, w, nullFd]) closeSync(fd);
    }
  });
});
