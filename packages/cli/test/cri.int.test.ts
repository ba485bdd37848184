/**
 * Kubernetes pods through containerd's CRI plugin with `ns` as a runtime handler (issue 22),
 * driven over the CRI gRPC API as the kubelet drives it (cri-client.ts), with the same pods
 * under the `runc` handler first as the reference. The daemon is the test's own (cri-daemon.ts:
 * its root, state, socket, CNI bridge network, images from the busybox test rootfs). Each pod
 * runs under a cgroup parent below `/ns-cri-<pid>`, which the test makes and removes.
 *
 * Per handler: a pod whose containers have their own pid namespace and one with
 * shareProcessNamespace (pid mode POD); the containers share ipc, uts and network with the
 * sandbox and get its hostname; ExecSync (output, exit code, a missing command) and Exec (its
 * stream, as kubectl exec reads it: k8s-stream.ts); stats; UpdateContainerResources; security
 * contexts (privileged, ids, read-only rootfs, capabilities, seccomp: compared with runc); exit code and
 * reason Completed / Error / OOMKilled; StopContainer with a grace period (TERM), then KILL
 * for a process that ignores TERM; RemoveContainer, StopPodSandbox, RemovePodSandbox; then
 * nothing is left (shim, mount, network namespace, cgroup, runtime state). See
 * docs/kubernetes.md. Skipped with the reason when containerd, runc or the CNI plugins are not
 * installed (scripts/test.sh installs them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupRoots, cgroupsNamed, loggedArgv, mountsUnder, removeCgroupTree, unmountUnder } from './clients.js';
import { criClient, rejection, type CriClient } from './cri-client.js';
import { runExecStream } from './k8s-stream.js';
import { IMAGE, criSkipReason, netnsEntries, removeBridge, removeEmptyRunDirs, shimsOf, startCri, stopCri, type CriDaemon } from './cri-daemon.js';

const skip = criSkipReason();
const PARENT = `ns-cri-${process.pid}`;
const HANDLERS = ['runc', 'ns'] as const;
/** What the security-context pod's container saw, per handler (ns is compared with runc). */
const securityOutputs: Record<string, unknown> = {};

let d: CriDaemon | undefined;
let cri: CriClient;
let dir: string;
let netnsBefore: string[];
/**
 * Host folders containerd and its CNI library make outside the test's own folder, whatever the
 * config says (the shims' sockets, pod network namespaces, libcni's result cache): removed
 * afterwards when the test made them and they are empty again.
 */
const runDirsMade = ['/run/containerd/s', '/run/containerd/runc', '/run/containerd', '/run/netns', '/var/lib/cni/results', '/var/lib/cni'].filter((p) => !existsSync(p));

type Msg = Record<string, any>;
type PidMode = 'CONTAINER' | 'POD';

interface Pod {
  id: string;
  config: Msg;
  pidMode: PidMode;
}

/**
 * RunPodSandbox as the kubelet calls it: a hostname, a log folder, the pod's cgroup under the
 * test's parent, made first in every hierarchy (the kubelet makes a pod's cgroup before its
 * sandbox, where it sets the pod's limits).
 */
async function runPod(handler: string, name: string, pidMode: PidMode): Promise<Pod> {
  const logDirectory = join(dir, 'logs', name);
  mkdirSync(logDirectory, { recursive: true });
  for (const root of cgroupRoots()) mkdirSync(join(root, PARENT, name), { recursive: true });
  const config = {
    metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 },
    hostname: name,
    logDirectory,
    linux: {
      cgroupParent: `/${PARENT}/${name}`,
      securityContext: { namespaceOptions: { network: 'POD', pid: pidMode, ipc: 'POD' } },
    },
  };
  const r = await cri.runtime('RunPodSandbox', { config, runtimeHandler: handler });
  return { id: r.podSandboxId, config, pidMode };
}

/** CreateContainer + StartContainer of `args` in `pod`; `memory` a limit in bytes. */
async function startContainer(pod: Pod, name: string, args: string[], memory = 0): Promise<string> {
  const config = {
    metadata: { name, attempt: 0 },
    image: { image: IMAGE },
    command: args,
    logPath: `${name}.log`,
    linux: {
      resources: memory ? { memoryLimitInBytes: memory } : {},
      securityContext: { namespaceOptions: { network: 'POD', pid: pod.pidMode, ipc: 'POD' } },
    },
  };
  const { containerId } = await cri.runtime('CreateContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
  await cri.runtime('StartContainer', { containerId });
  return containerId;
}

async function containerStatus(id: string): Promise<Msg> {
  return (await cri.runtime('ContainerStatus', { containerId: id })).status;
}

/** The container's status once it has exited (polled every 100 ms, up to `ms`). */
async function exited(id: string, ms = 20_000): Promise<Msg> {
  for (let waited = 0; ; waited += 100) {
    const s = await containerStatus(id);
    if (s.state === 'CONTAINER_EXITED' || waited > ms) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function execSync(id: string, cmd: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await cri.runtime('ExecSync', { containerId: id, cmd, timeout: 20 });
  return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exitCode: r.exitCode };
}

/** The pid of the sandbox's process on the host (PodSandboxStatus verbose info). */
async function sandboxPid(pod: Pod): Promise<number> {
  const r = await cri.runtime('PodSandboxStatus', { podSandboxId: pod.id, verbose: true });
  return JSON.parse(r.info.info).pid;
}

/** The namespace links of a host pid (`ipc:[4026...]`). */
function nsLinks(pid: number): Record<string, string> {
  return Object.fromEntries(['ipc', 'uts', 'net', 'pid'].map((t) => [t, readlinkSync(`/proc/${pid}/ns/${t}`)]));
}

/** The same links as seen from inside a container (ExecSync readlink). */
async function containerNsLinks(id: string): Promise<Record<string, string>> {
  const r = await execSync(id, ['sh', '-c', 'for t in ipc uts net pid; do echo "$t $(readlink /proc/self/ns/$t)"; done']);
  expect(r.exitCode, r.stderr).toBe(0);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string]));
}

/** A v1 cgroup file of a host pid's cgroup in the hierarchy of `controller` (this hybrid host's limits are v1). */
function v1Limit(pid: number, controller: string, file: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller))!;
  expect(line.split(':')[2]).toMatch(new RegExp(`^/${PARENT}/`));
  return readFileSync(join('/sys/fs/cgroup', controller, line.split(':')[2]!, file), 'utf8').trim();
}

/**
 * The cgroups of a host pid (/proc/PID/cgroup) that are not below the pod's cgroup: none, as
 * with runc, so that limits the kubelet sets on the pod's cgroup reach every process of the
 * pod (the named systemd hierarchy aside: no runtime places a container there without systemd).
 */
function outsidePod(pid: number, pod: string): string[] {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .filter((l) => l && !l.includes(':name=') && !l.split(':')[2]!.startsWith(`/${PARENT}/${pod}/`));
}

/** Stop, remove every container of the pod, stop and remove the pod. */
async function removePod(pod: Pod): Promise<void> {
  const { containers } = await cri.runtime('ListContainers', { filter: { podSandboxId: pod.id } });
  for (const c of containers) {
    await cri.runtime('StopContainer', { containerId: c.id, timeout: 0 });
    await cri.runtime('RemoveContainer', { containerId: c.id });
  }
  await cri.runtime('StopPodSandbox', { podSandboxId: pod.id });
  await cri.runtime('RemovePodSandbox', { podSandboxId: pod.id });
}

/** The cgroups left below the test's parent deeper than a pod's own cgroup parent. */
function cgroupsLeft(): string[] {
  return cgroupsNamed(PARENT).filter((c) => c.split(`/${PARENT}`)[1]!.split('/').filter(Boolean).length > 1);
}

describe.skipIf(skip !== undefined)(`pods through containerd's CRI${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-cri-'));
    netnsBefore = netnsEntries();
    for (const root of cgroupRoots()) mkdirSync(join(root, PARENT), { recursive: true });
    d = startCri(dir, process.env.NS_TEST_ROOTFS!);
    cri = criClient(d.socket);
  }, 120_000);

  afterAll(async () => {
    try {
      if (d) {
        try {
          const { items } = await cri.runtime('ListPodSandbox', {});
          for (const p of items) {
            await cri.runtime('StopPodSandbox', { podSandboxId: p.id }).catch(() => undefined);
            await cri.runtime('RemovePodSandbox', { podSandboxId: p.id }).catch(() => undefined);
          }
          for (const ref of (await cri.image('ListImages', {})).images) await cri.image('RemoveImage', { image: { image: ref.id } }).catch(() => undefined);
        } finally {
          cri.close();
          await stopCri(d);
          removeBridge(d);
        }
      }
    } finally {
      if (dir) {
        if (process.env.NS_CRI_KEEP) spawnSync('cp', ['-r', dir, process.env.NS_CRI_KEEP]);
        unmountUnder(dir);
        rmSync(dir, { recursive: true, force: true });
      }
      removeCgroupTree(PARENT);
      removeEmptyRunDirs(runDirsMade);
    }
    expect(mountsUnder(dir)).toEqual([]);
    expect(cgroupsNamed(PARENT)).toEqual([]);
    expect(netnsEntries()).toEqual(netnsBefore);
  }, 120_000);

  it('serves the CRI v1 API', async () => {
    const v = await cri.runtime('Version', { version: 'v1' });
    expect(v).toMatchObject({ runtimeName: 'containerd', runtimeApiVersion: 'v1' });
  });

  describe.each(HANDLERS)('handler %s', (handler) => {
    it('a pod whose containers have their own pid namespace: shared ipc/uts/net, hostname, ExecSync, Exec, stop with KILL', async () => {
      const pod = await runPod(handler, `${handler}-own`, 'CONTAINER');
      try {
        const sandbox = nsLinks(await sandboxPid(pod));
        const main = await startContainer(pod, 'main', ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
        const mainPid = JSON.parse((await cri.runtime('ContainerStatus', { containerId: main, verbose: true })).info.info).pid;
        expect(outsidePod(await sandboxPid(pod), `${handler}-own`)).toEqual([]);
        expect(outsidePod(mainPid, `${handler}-own`)).toEqual([]);
        const links = await containerNsLinks(main);
        expect(links).toMatchObject({ ipc: sandbox.ipc, uts: sandbox.uts, net: sandbox.net });
        expect(links.pid).not.toBe(sandbox.pid);
        expect(await execSync(main, ['hostname'])).toMatchObject({ stdout: `${handler}-own\n`, exitCode: 0 });
        // Its own pid namespace: pid 1 is the container's command, not the sandbox's.
        expect((await execSync(main, ['cat', '/proc/1/cmdline'])).stdout).toMatch(/^sh\0-c\0trap/);
        expect(await execSync(main, ['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
        // Exec: a URL, and over it (as kubectl exec) the output and the exit code.
        const exec = await cri.runtime('Exec', { containerId: main, cmd: ['sh', '-c', 'echo streamed; echo e >&2; exit 4'], stdout: true, stderr: true });
        expect(exec.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\//);
        expect(await runExecStream(exec.url)).toMatchObject({ stdout: 'streamed\n', stderr: 'e\n', exitCode: 4 });
        const ok = await cri.runtime('Exec', { containerId: main, cmd: ['hostname'], stdout: true, stderr: true });
        expect(await runExecStream(ok.url)).toMatchObject({ stdout: `${handler}-own\n`, exitCode: 0 });
        // A missing command: the runtime's message, as with runc.
        expect((await rejection(execSync(main, ['nonexistent']))).details).toMatch(/OCI runtime exec failed: .*executable file not found in \$PATH/);
        // The pod's network: an address of the CNI bridge's subnet on eth0.
        const { status } = await cri.runtime('PodSandboxStatus', { podSandboxId: pod.id });
        expect(status.network.ip.startsWith(d!.subnet.slice(0, -'0/24'.length))).toBe(true);
        expect((await execSync(main, ['ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(`inet ${status.network.ip}/24`);
        // What the kubelet also calls: stats, a resources update (runc's `update`), an ExecSync past its timeout.
        const { stats } = await cri.runtime('ContainerStats', { containerId: main });
        expect(stats.memory.workingSetBytes.value).toBeGreaterThan(0);
        // (cpu shares and a cpuset as the CPU manager sets them: ns made the cgroup only in the hierarchies it used).
        await cri.runtime('UpdateContainerResources', { containerId: main, linux: { memoryLimitInBytes: 64 * 1024 * 1024, cpuShares: 512, cpusetCpus: '0' } });
        const pid = JSON.parse((await cri.runtime('ContainerStatus', { containerId: main, verbose: true })).info.info).pid;
        expect(v1Limit(pid, 'memory', 'memory.limit_in_bytes')).toBe(`${64 * 1024 * 1024}`);
        expect(v1Limit(pid, 'cpu', 'cpu.shares')).toBe('512');
        expect(v1Limit(pid, 'cpuset', 'cpuset.cpus')).toBe('0');
        expect((await rejection(cri.runtime('ExecSync', { containerId: main, cmd: ['sleep', '30'], timeout: 1 }))).details).toMatch(/timeout 1s exceeded/);
        // TERM is ignored: after the grace period, KILL.
        await cri.runtime('StopContainer', { containerId: main, timeout: 2 });
        expect(await containerStatus(main)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137, reason: 'Error' });
        await cri.runtime('RemoveContainer', { containerId: main });
      } finally {
        await removePod(pod);
      }
    }, 120_000);

    it('a pod with shareProcessNamespace: shared pid namespace, TERM then exit, exit reasons Completed / Error / OOMKilled', async () => {
      const pod = await runPod(handler, `${handler}-shared`, 'POD');
      try {
        const sandbox = nsLinks(await sandboxPid(pod));
        const main = await startContainer(pod, 'main', ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 1; done']);
        expect(await containerNsLinks(main)).toEqual(sandbox);
        expect(await execSync(main, ['hostname'])).toMatchObject({ stdout: `${handler}-shared\n`, exitCode: 0 });
        // The sandbox's process is pid 1 of the pod.
        expect((await execSync(main, ['cat', '/proc/1/cmdline'])).stdout).toBe('/bin/sleep\0infinity\0');
        const ok = await startContainer(pod, 'ok', ['true']);
        const bad = await startContainer(pod, 'bad', ['sh', '-c', 'exit 3']);
        const oom = await startContainer(pod, 'oom', ['sh', '-c', 'x=0123456789; while :; do x="$x$x"; done'], 32 * 1024 * 1024);
        expect(await exited(ok)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 0, reason: 'Completed' });
        expect(await exited(bad)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 3, reason: 'Error' });
        expect(await exited(oom)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137, reason: 'OOMKilled' });
        const ignorer = await startContainer(pod, 'ignorer', ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
        await cri.runtime('StopContainer', { containerId: main, timeout: 30 });
        expect(await containerStatus(main)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 7 });
        await cri.runtime('StopContainer', { containerId: ignorer, timeout: 2 });
        expect(await containerStatus(ignorer)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137 });
        for (const id of [main, ok, bad, oom, ignorer]) await cri.runtime('RemoveContainer', { containerId: id });
      } finally {
        await removePod(pod);
      }
    }, 120_000);

    it('security contexts: privileged, runAsUser/runAsGroup, readOnlyRootFilesystem, capabilities, RuntimeDefault seccomp, noNewPrivs', async () => {
      const name = `${handler}-sec`;
      mkdirSync(join(dir, 'logs', name), { recursive: true });
      for (const root of cgroupRoots()) mkdirSync(join(root, PARENT, name), { recursive: true });
      const nsOpts = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' };
      const config = {
        metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 },
        hostname: name,
        logDirectory: join(dir, 'logs', name),
        linux: { cgroupParent: `/${PARENT}/${name}`, securityContext: { namespaceOptions: nsOpts, privileged: true } },
      };
      const pod: Pod = { id: (await cri.runtime('RunPodSandbox', { config, runtimeHandler: handler })).podSandboxId, config, pidMode: 'CONTAINER' };
      try {
        const start = async (cname: string, securityContext: Msg) => {
          const c = { metadata: { name: cname, attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], logPath: `${cname}.log`, linux: { securityContext: { namespaceOptions: nsOpts, ...securityContext } } };
          const { containerId } = await cri.runtime('CreateContainer', { podSandboxId: pod.id, config: c, sandboxConfig: config });
          await cri.runtime('StartContainer', { containerId });
          return containerId;
        };
        const capEff = async (id: string) => (await execSync(id, ['grep', '^CapEff', '/proc/self/status'])).stdout.trim().split(/\s+/)[1];
        const priv = await start('priv', { privileged: true });
        // Privileged: every capability of the runtime's bounding set (CAP_SYS_ADMIN among them), the host's devices.
        expect(BigInt(`0x${await capEff(priv)}`) & (1n << 21n)).not.toBe(0n);
        expect(await execSync(priv, ['test', '-c', '/dev/kmsg'])).toMatchObject({ exitCode: 0 });
        const plain = await start('plain', {
          runAsUser: { value: 1000 },
          runAsGroup: { value: 1000 },
          supplementalGroups: [2000],
          readonlyRootfs: true,
          noNewPrivs: true,
          capabilities: { dropCapabilities: ['ALL'], addCapabilities: ['NET_BIND_SERVICE'] },
          seccompProfilePath: 'runtime/default',
        });
        const seen = {
          id: (await execSync(plain, ['sh', '-c', 'id -u; id -g; id -G'])).stdout,
          status: (await execSync(plain, ['grep', '-E', '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):', '/proc/self/status'])).stdout,
          touch: await execSync(plain, ['touch', '/x']),
          // The RuntimeDefault profile refuses unshare(2) of a user namespace (EPERM).
          unshare: (await execSync(plain, ['sh', '-c', 'unshare -U true 2>/dev/null; echo $?'])).stdout,
        };
        expect(seen.id).toBe('1000\n1000\n1000 10 100 2000\n'); // containerd adds the image's /etc/group entries of uid 1000
        expect(seen.status).toBe('CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n');
        expect(seen.touch.exitCode).not.toBe(0);
        expect(seen.touch.stderr).toMatch(/Read-only file system/);
        expect(seen.unshare).not.toBe('0\n');
        // The same as under runc, field by field.
        securityOutputs[handler] = seen;
        if (handler === 'ns') expect(seen).toEqual(securityOutputs.runc);
        // StopPodSandbox with its containers running (the kubelet's forced path): they are killed.
        await cri.runtime('StopPodSandbox', { podSandboxId: pod.id });
        for (const id of [priv, plain]) expect(await containerStatus(id)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137 });
      } finally {
        await removePod(pod);
      }
    }, 120_000);

    it("a pod on the host's network, pid and ipc namespaces (hostNetwork, hostPID, hostIPC)", async () => {
      const name = `${handler}-host`;
      mkdirSync(join(dir, 'logs', name), { recursive: true });
      for (const root of cgroupRoots()) mkdirSync(join(root, PARENT, name), { recursive: true });
      const nsOpts = { network: 'NODE', pid: 'NODE', ipc: 'NODE' };
      const config = {
        metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 },
        hostname: '', // the kubelet gives a hostNetwork pod none: it has the host's UTS namespace
        logDirectory: join(dir, 'logs', name),
        linux: { cgroupParent: `/${PARENT}/${name}`, securityContext: { namespaceOptions: nsOpts } },
      };
      const pod: Pod = { id: (await cri.runtime('RunPodSandbox', { config, runtimeHandler: handler })).podSandboxId, config, pidMode: 'CONTAINER' };
      try {
        const c = { metadata: { name: 'main', attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], logPath: 'main.log', linux: { securityContext: { namespaceOptions: nsOpts } } };
        const { containerId } = await cri.runtime('CreateContainer', { podSandboxId: pod.id, config: c, sandboxConfig: config });
        await cri.runtime('StartContainer', { containerId });
        const host = nsLinks(process.pid);
        const links = await containerNsLinks(containerId);
        expect(links).toMatchObject({ net: host.net, pid: host.pid, ipc: host.ipc });
        // The host's network: the container sees this host's address.
        const hostAddr = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' }).stdout.match(/inet (\S+)/)?.[1];
        if (hostAddr) expect((await execSync(containerId, ['ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(hostAddr);
      } finally {
        await removePod(pod);
      }
    }, 120_000);

    it('leaves nothing once its pods are removed: no shim, mount, network namespace, cgroup or runtime state', () => {
      expect(shimsOf(d!)).toEqual([]);
      expect(mountsUnder(dir)).toEqual([]);
      expect(netnsEntries()).toEqual(netnsBefore);
      expect(cgroupsLeft()).toEqual([]);
      const root = join(d!.roots[handler], 'k8s.io');
      expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
      // The shim ran the handler's binary: ns only for the ns pods (runc's come first), with
      // runc's global flags and the handler's Root.
      const creates = loggedArgv(d!.argvLog).filter((a) => a.includes('create'));
      if (handler === 'runc') expect(creates).toEqual([]);
      else {
        expect(creates.length).toBe(4 + 1 + 5 + 2 + 1); // four sandboxes, their containers
        for (const a of creates) expect(a.slice(0, 5)).toEqual(['--root', root, '--log', expect.stringMatching(/\/log\.json$/), '--log-format']);
      }
    });
  });

  it("containerd's systemd cgroup driver (SystemdCgroup = true): RunPodSandbox fails with ns's message, nothing is left", async () => {
    const name = 'ns-systemd';
    mkdirSync(join(dir, 'logs', name), { recursive: true });
    const config = {
      metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 },
      hostname: name,
      logDirectory: join(dir, 'logs', name),
      linux: { cgroupParent: 'nscri.slice' },
    };
    const err = await rejection(cri.runtime('RunPodSandbox', { config, runtimeHandler: 'ns-systemd' }));
    // ns's message reaches containerd only through the --log file, which a usage error of the
    // global flags does not reach yet (the runtime's own log is another part of issue 22); the
    // shim then says "unable to retrieve OCI runtime error". Tighten to the first form once it does.
    expect(err.details).toMatch(/OCI runtime create failed: (.*--systemd-cgroup: ns has no systemd cgroup driver|unable to retrieve OCI runtime error .*\/ns did not terminate successfully)/);
    expect((await cri.runtime('ListPodSandbox', {})).items).toEqual([]);
    expect(shimsOf(d!)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(netnsEntries()).toEqual(netnsBefore);
    expect(readdirSync(join(d!.roots.ns, 'k8s.io'))).toEqual([]);
  });

  describe.each(HANDLERS)('bad input, handler %s', (handler) => {
    it('a sysctl that is not namespaced: RunPodSandbox fails with the runtime\'s message, nothing is left', async () => {
      const name = `${handler}-sysctl`;
      mkdirSync(join(dir, 'logs', name), { recursive: true });
      const config = {
        metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 },
        hostname: name,
        logDirectory: join(dir, 'logs', name),
        linux: { cgroupParent: `/${PARENT}/${name}`, sysctls: { 'vm.swappiness': '10' } },
      };
      const err = await rejection(cri.runtime('RunPodSandbox', { config, runtimeHandler: handler }));
      expect(err.details).toMatch(handler === 'ns' ? /linux\.sysctl.*vm\.swappiness.*not a namespaced sysctl/ : /sysctl "vm.swappiness" is not in a separate kernel namespace/);
      expect((await cri.runtime('ListPodSandbox', {})).items).toEqual([]);
      expect(shimsOf(d!)).toEqual([]);
      expect(mountsUnder(dir)).toEqual([]);
      expect(netnsEntries()).toEqual(netnsBefore);
      expect(cgroupsLeft()).toEqual([]);
      const root = join(d!.roots[handler], 'k8s.io');
      expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
    });

    it('a container limit the host cannot honour (a cgroup v2 key on this v1 memory controller): StartContainer fails with the runtime\'s message, nothing is left', async () => {
      const pod = await runPod(handler, `${handler}-unified`, 'CONTAINER');
      try {
        const config = {
          metadata: { name: 'v2key', attempt: 0 },
          image: { image: IMAGE },
          command: ['true'],
          logPath: 'v2key.log',
          linux: { resources: { unified: { 'memory.high': '10000000' } } },
        };
        const { containerId } = await cri.runtime('CreateContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
        const err = await rejection(cri.runtime('StartContainer', { containerId }));
        expect(err.details).toMatch(handler === 'ns' ? /linux\.resources\.unified\["memory\.high"\]: the memory controller is on a cgroup v1 hierarchy here/ : /cannot use unified on cgroup v1/);
        await cri.runtime('RemoveContainer', { containerId });
      } finally {
        await removePod(pod);
      }
      expect(shimsOf(d!)).toEqual([]);
      expect(mountsUnder(dir)).toEqual([]);
      expect(cgroupsLeft()).toEqual([]);
      const root = join(d!.roots[handler], 'k8s.io');
      expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
    });
  });
});
