/**
 * containerd with its CRI plugin on, as a Kubernetes node runs it, for the pod tests
 * (cri.int.test.ts; not a test itself). Everything is the test's own, under one temporary
 * folder: root, state, sockets, opt, the CRI plugin's pod logs, the CNI config (a bridge
 * network from containernetworking-plugins, its own bridge and a private subnet no host link
 * uses, host-local IPAM data) and each runtime handler's runtime root. Two handlers: `runc`
 * (the reference, /usr/sbin/runc) and `ns` (this checkout's `ns`, through a wrapper that logs
 * the shim's argv), both `io.containerd.runc.v2` as a cluster configures them
 * (docs/kubernetes.md). Images are imported into the CRI's namespace `k8s.io` from OCI
 * archives of the busybox test rootfs.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageTarballs, runtimeWrapper, waitFor, which } from './clients.js';

/** The image of the pods' containers (its Cmd is /bin/sh). */
export const IMAGE = 'localhost/nsbusybox:latest';
/** The sandbox ("pause") image: the same rootfs, its Cmd a sleep that never ends. */
export const PAUSE_IMAGE = 'localhost/nspause:latest';
/** containerd's namespace for the CRI plugin's containers and images. */
export const K8S_NAMESPACE = 'k8s.io';

/** Why the pod tests skip: a missing binary or plugin folder, or undefined. */
export function criSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (!process.env.NS_TEST_ROOTFS) return 'no NS_TEST_ROOTFS';
  const missing = ['containerd', 'ctr', 'containerd-shim-runc-v2', 'runc'].filter((n) => which(n) === undefined);
  if (!existsSync('/usr/lib/cni/bridge') || !existsSync('/usr/lib/cni/host-local') || !existsSync('/usr/lib/cni/loopback')) missing.push('/usr/lib/cni/{bridge,host-local,loopback}');
  return missing.length > 0 ? `${missing.join(', ')} not installed (Debian: apt-get install containerd runc containernetworking-plugins)` : undefined;
}

/** A private IPv4 /24 that no address of a host link falls in (10.213.N.0/24). */
export function freeSubnet(): string {
  const used = spawnSync('ip', ['-o', '-4', 'addr'], { encoding: 'utf8' }).stdout;
  const routes = spawnSync('ip', ['-4', 'route'], { encoding: 'utf8' }).stdout;
  for (let n = 1; n < 255; n++) {
    const prefix = `10.213.${n}.`;
    if (!used.includes(prefix) && !routes.includes(prefix) && !routes.includes('10.213.0.0/16') && !routes.includes('10.0.0.0/8')) return `${prefix}0/24`;
  }
  throw new Error('no free subnet in 10.213.0.0/16');
}

/** A running containerd of the test's own. */
export interface CriDaemon {
  dir: string;
  socket: string;
  /** The bridge the CNI config names (removed by {@link stopCri}). */
  bridge: string;
  subnet: string;
  /** Runtime root of each handler (the shim's `--root` for runc and ns is `<root>/k8s.io`). */
  roots: { runc: string; ns: string };
  /** The argv log of the `ns` wrapper, one line per call. */
  argvLog: string;
  process: ChildProcess;
  /** `ctr` against this daemon, in the k8s.io namespace. */
  ctr(args: string[]): SpawnSyncReturns<string>;
  /** containerd's log so far. */
  log(): string;
}

/** The containerd config.toml of a CRI node in `dir` (version 2 format of containerd 1.6). */
export function criConfig(d: { dir: string; socket: string; roots: { runc: string; ns: string }; nsBinary: string; restrictOomScoreAdj: boolean }): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = "${join(d.dir, 'root')}"`,
    `state = "${join(d.dir, 'state')}"`,
    '[grpc]',
    `  address = "${d.socket}"`,
    '[ttrpc]',
    `  address = "${d.socket}.ttrpc"`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${join(d.dir, 'opt')}"`,
    `[${cri}]`,
    `  sandbox_image = "${PAUSE_IMAGE}"`,
    // The runtime cannot raise a process's oom_score_adj without CAP_SYS_RESOURCE (this host).
    `  restrict_oom_score_adj = ${d.restrictOomScoreAdj}`,
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '  enable_selinux = false',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  BinaryName = "/usr/sbin/runc"',
    `  Root = "${d.roots.runc}"`,
    `[${cri}.containerd.runtimes.ns]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.ns.options]`,
    `  BinaryName = "${d.nsBinary}"`,
    `  Root = "${d.roots.ns}"`,
    // The same binary with containerd's systemd cgroup driver: ns refuses --systemd-cgroup.
    `[${cri}.containerd.runtimes.ns-systemd]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.ns-systemd.options]`,
    `  BinaryName = "${d.nsBinary}"`,
    `  Root = "${d.roots.ns}"`,
    '  SystemdCgroup = true',
    `[${cri}.cni]`,
    '  bin_dir = "/usr/lib/cni"',
    `  conf_dir = "${join(d.dir, 'cni')}"`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}

/** Whether this process has CAP_SYS_RESOURCE in its effective set (not on this machine kind). */
export function hasSysResource(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'))!;
  return (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << 24n)) !== 0n;
}

/**
 * Start containerd with the CRI plugin in `dir` (an empty temporary folder) and import the
 * two images. Throws with the end of containerd's log when it does not come up.
 */
export function startCri(dir: string, rootfs: string): CriDaemon {
  const socket = join(dir, 'containerd.sock');
  const roots = { runc: join(dir, 'runc-root'), ns: join(dir, 'ns-root') };
  const argvLog = join(dir, 'ns-argv.log');
  const nsBinary = runtimeWrapper(join(dir, 'ns'), argvLog);
  const subnet = freeSubnet();
  const bridge = `nscri${process.pid % 100000}`;
  mkdirSync(join(dir, 'cni'));
  writeFileSync(
    join(dir, 'cni', '10-nscri.conflist'),
    JSON.stringify({
      cniVersion: '0.4.0',
      name: 'nscri',
      plugins: [
        // No gateway and no masquerade: nothing of the host's (ip_forward, iptables) is changed.
        { type: 'bridge', bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: join(dir, 'ipam') } },
      ],
    }),
  );
  writeFileSync(join(dir, 'config.toml'), criConfig({ dir, socket, roots, nsBinary, restrictOomScoreAdj: !hasSysResource() }));
  const logFile = join(dir, 'containerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const ctr = (args: string[]) => spawnSync('ctr', ['--address', socket, '--namespace', K8S_NAMESPACE, ...args], { encoding: 'utf8', timeout: 60_000 });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const daemon: CriDaemon = { dir, socket, bridge, subnet, roots, argvLog, process: child, ctr, log };
  if (!waitFor(() => child.exitCode === null && ctr(['version']).status === 0, 20_000)) throw new Error(`containerd did not start:\n${log().slice(-3000)}`);
  for (const [ref, cmd, sub] of [
    [IMAGE, ['/bin/sh'], 'image'],
    [PAUSE_IMAGE, ['/bin/sleep', 'infinity'], 'pause'],
  ] as const) {
    mkdirSync(join(dir, sub));
    const { ociTar } = imageTarballs(rootfs, join(dir, sub), ref, [...cmd]);
    const r = ctr(['images', 'import', ociTar]);
    if (r.status !== 0) throw new Error(`ctr images import ${ref}: ${r.stderr}`);
  }
  return daemon;
}

/** Stop the daemon (TERM, KILL after 10 s), by its pid. */
export async function stopCri(d: CriDaemon): Promise<void> {
  const child = d.process;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
}

/** Remove the CNI bridge (the bridge plugin makes it and leaves it). */
export function removeBridge(d: CriDaemon): void {
  if (existsSync(`/sys/class/net/${d.bridge}`)) spawnSync('ip', ['link', 'del', d.bridge]);
}

/** Entries of /run/netns (where containerd 1.6 mounts pod network namespaces). */
export function netnsEntries(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').sort() : [];
}

/** Remove the folders containerd made under /run that were not there before and are empty now. */
export function removeEmptyRunDirs(made: string[]): void {
  for (const d of made) {
    try {
      rmdirSync(d);
    } catch {
      // not empty (another daemon's), or gone
    }
  }
}

/**
 * Pids of the runc shims of this daemon (`containerd-shim-runc-v2 ... -address <socket>`):
 * each one a pod left running.
 */
export function shimsOf(d: CriDaemon): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('containerd-shim-runc-v2') && argv.includes(d.socket)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}
