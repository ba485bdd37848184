/**
 * Shared by the real-client tests (podman.int.test.ts, containerd.int.test.ts; not a test
 * itself): finding a client binary, the `ns` wrapper a client is given as its runtime (it
 * logs the argv the client passes), image tarballs made from the busybox test rootfs, and
 * the clean-up of what a client leaves (mounts under a folder, a cgroup parent).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI bundle under test (built by `pnpm run build` in packages/cli). */
export const NS_BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');

/** The installed form of `ns`: dist/ns, the launcher of the native front (which runs NS_BIN in Node for the rest). */
export const NS_LAUNCHER = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns');

/** The absolute path of `name` on PATH, or undefined (the test then skips, saying so). */
export function which(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path.startsWith('/') ? path : undefined;
}

/** Why a client test skips: the first of `names` not on PATH, or not root, or no test rootfs. */
export function skipReason(names: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (!process.env.NS_TEST_ROOTFS) return 'no NS_TEST_ROOTFS';
  const missing = names.filter((n) => which(n) === undefined);
  return missing.length > 0 ? `${missing.join(', ')} not installed (Debian: apt-get install podman containerd)` : undefined;
}

/**
 * A shell script that runs `ns` as installed (this checkout's dist/ns: the native front, then
 * the bundle in Node) and first appends its argv, one line per call, to `log`: what a client
 * passes its runtime. `extra` go before the client's own arguments (a `--root` for a client
 * that passes none).
 */
export function runtimeWrapper(path: string, log: string, extra: string[] = []): string {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  writeFileSync(
    path,
    `#!/bin/sh\nprintf '%s\\n' "$*" >> ${q(log)}\nexec ${[NS_LAUNCHER, ...extra].map(q).join(' ')} "$@"\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

/**
 * `argv` run on a terminal of its own, with script(1) (`-e`: its exit status is the command's):
 * a client's `-t` needs one, which a test's pipes are not. stdin is empty.
 */
export function onTerminal(argv: string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const line = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return spawnSync('script', ['-qec', line, '/dev/null'], { encoding: 'utf8', timeout: 60_000, input: '', ...(env ? { env } : {}) });
}

/** Every argv logged by {@link runtimeWrapper}, split in words (paths here hold no spaces). */
export function loggedArgv(log: string): string[][] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')) : [];
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * A tarball of `rootfs` (for `podman import`) at `dir/rootfs.tar`, and an OCI image layout
 * archive of it (one uncompressed layer; for `ctr images import`) at `dir/oci.tar`, named
 * `ref` (`localhost/nsbusybox:latest`), whose config's `Cmd` is `cmd` (`/bin/sh` unless given;
 * a pod's sandbox ("pause") image needs one that stays up). Returns both paths.
 * @see OCI image-spec image-layout.md, manifest.md, config.md
 */
export function imageTarballs(rootfs: string, dir: string, ref: string, cmd: string[] = ['/bin/sh']): { rootfsTar: string; ociTar: string } {
  const rootfsTar = join(dir, 'rootfs.tar');
  const tar = spawnSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', rootfsTar, '.'], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`tar ${rootfs}: ${tar.stderr}`);
  const layout = join(dir, 'oci');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer | string) => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest.slice('sha256:'.length)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layer = blob(readFileSync(rootfsTar));
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = blob(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: cmd },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    }),
  );
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: arch, os: 'linux' },
          annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const ociTar = join(dir, 'oci.tar');
  const t = spawnSync('tar', ['-C', layout, '-cf', ociTar, 'oci-layout', 'index.json', 'blobs'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`tar ${layout}: ${t.stderr}`);
  return { rootfsTar, ociTar };
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\040/g, ' '))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Unmount (lazily) every mount at or below `dir`. */
export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
}

/** The cgroup hierarchies' roots here: each v1 controller's and the v2 tree (pure or unified). */
export function cgroupRoots(): string[] {
  const top = '/sys/fs/cgroup';
  if (existsSync(join(top, 'cgroup.controllers'))) return [top];
  return readdirSync(top)
    .map((h) => join(top, h))
    .filter((p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    });
}

/** The cgroup directories named `name` (a parent a client made, `/x`) left in any hierarchy, with what is below them. */
export function cgroupsNamed(name: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    out.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  for (const root of cgroupRoots()) if (existsSync(join(root, name))) walk(join(root, name));
  return out;
}

/** Remove the cgroup parent `name` in every hierarchy, children first (only empty ones can go). */
export function removeCgroupTree(name: string): void {
  for (const d of cgroupsNamed(name).reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // busy: the assertion that nothing is left reports it
    }
  }
}

/** Poll `check` every 50 ms for up to `ms`; true once it held. */
export function waitFor(check: () => boolean, ms = 10_000): boolean {
  for (let waited = 0; waited <= ms; waited += 50) {
    if (check()) return true;
    spawnSync('sleep', ['0.05']);
  }
  return false;
}

/**
 * A limit of a live process's cgroup as the host sees it: v1 `memory.limit_in_bytes` /
 * `pids.max` in the process's memory / pids hierarchy, or v2 `memory.max` / `pids.max`.
 */
export function cgroupLimit(pid: number, what: 'memory' | 'pids'): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean);
  const v1 = lines.find((l) => l.split(':')[1]!.split(',').includes(what));
  if (v1) return readFileSync(join('/sys/fs/cgroup', what, v1.split(':')[2]!, what === 'memory' ? 'memory.limit_in_bytes' : 'pids.max'), 'utf8').trim();
  const v2 = lines.find((l) => l.startsWith('0::'))!;
  return readFileSync(join('/sys/fs/cgroup', v2.slice(3), `${what}.max`), 'utf8').trim();
}
