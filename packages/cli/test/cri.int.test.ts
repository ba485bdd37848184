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
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupRoots, cgroupsNamed, loggedArgv, mountsUnder, removeCgroupTree, unmountUnder } from './clients.js';
import { criClient, rejection, type CriClient } from './cri-client.js';
import { Pods, nsLinks, type Msg } from './cri-pods.js';
import { runExecStream } from './k8s-stream.js';
import { IMAGE, criSkipReason, netnsEntries, removeBridge, removeEmptyRunDirs, shimsOf, startCri, stopCri, type CriDaemon } from './cri-daemon.js';

const skip = criSkipReason();
const PARENT = `ns-cri-${process.pid}`;
const HANDLERS = ['runc', 'ns'] as const;
/** What the security-context pod's container saw, per handler (ns is compared with runc). */
const securityOutputs: Record<string, unknown> = {};

let d: CriDaemon | undefined;
let cri: CriClient;
let pods: Pods;
let dir: string;
let netnsBefore: string[];

/**
 * The host has nothing of `handler`'s pods left: no shim, no mount under the test's folder, no
 * runtime state, and unless left out, no network namespace and no pod cgroup.
 */
function expectNothingLeft(handler: keyof CriDaemon['roots'], { netns = true, cgroups = true } = {}): void {
  expect(shimsOf(d!)).toEqual([]);
  expect(mountsUnder(dir)).toEqual([]);
  if (netns) expect(netnsEntries()).toEqual(netnsBefore);
  if (cgroups) expect(pods.cgroupsLeft()).toEqual([]);
  const root = join(d!.roots[handler], 'k8s.io');
  expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
}
/**
 * Host folders containerd and its CNI library make outside the test's own folder, whatever the
 * config says (the shims' sockets, pod network namespaces, libcni's result cache): removed
 * afterwards when the test made them and they are empty again.
 */
const runDirsMade = ['/run/containerd/s', '/run/containerd/runc', '/run/containerd', '/run/netns', '/var/lib/cni/results', '/var/lib/cni'].filter((p) => !existsSync(p));


describe.skipIf(skip !== undefined)(`pods through containerd's CRI${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-cri-'));
    netnsBefore = netnsEntries();
    for (const root of cgroupRoots()) mkdirSync(join(root, PARENT), { recursive: true });
    d = startCri(dir, process.env.NS_TEST_ROOTFS!);
    cri = criClient(d.socket);
    pods = new Pods(cri, dir, PARENT);
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
      const pod = await pods.runPod(handler, `${handler}-own`, { pid: 'CONTAINER' });
      try {
        const sandbox = nsLinks(await pods.sandboxPid(pod));
        const main = await pods.startContainer(pod, 'main', ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
        const mainPid = await pods.containerPid(main);
        expect(pods.outsidePod(await pods.sandboxPid(pod), `${handler}-own`)).toEqual([]);
        expect(pods.outsidePod(mainPid, `${handler}-own`)).toEqual([]);
        const links = await pods.containerNsLinks(main);
        expect(links).toMatchObject({ ipc: sandbox.ipc, uts: sandbox.uts, net: sandbox.net });
        expect(links.pid).not.toBe(sandbox.pid);
        expect(await pods.execSync(main, ['hostname'])).toMatchObject({ stdout: `${handler}-own\n`, exitCode: 0 });
        // Its own pid namespace: pid 1 is the container's command, not the sandbox's.
        expect((await pods.execSync(main, ['cat', '/proc/1/cmdline'])).stdout).toMatch(/^sh\0-c\0trap/);
        expect(await pods.execSync(main, ['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
        // Exec: a URL, and over it (as kubectl exec) the output and the exit code.
        const exec = await cri.runtime('Exec', { containerId: main, cmd: ['sh', '-c', 'echo streamed; echo e >&2; exit 4'], stdout: true, stderr: true });
        expect(exec.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\//);
        expect(await runExecStream(exec.url)).toMatchObject({ stdout: 'streamed\n', stderr: 'e\n', exitCode: 4 });
        const ok = await cri.runtime('Exec', { containerId: main, cmd: ['hostname'], stdout: true, stderr: true });
        expect(await runExecStream(ok.url)).toMatchObject({ stdout: `${handler}-own\n`, exitCode: 0 });
        // A missing command: the runtime's message, as with runc.
        expect((await rejection(pods.execSync(main, ['nonexistent']))).details).toMatch(/OCI runtime exec failed: .*executable file not found in \$PATH/);
        // The pod's network: an address of the CNI bridge's subnet on eth0.
        const { status } = await cri.runtime('PodSandboxStatus', { podSandboxId: pod.id });
        expect(status.network.ip.startsWith(d!.subnet.slice(0, -'0/24'.length))).toBe(true);
        expect((await pods.execSync(main, ['ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(`inet ${status.network.ip}/24`);
        // What the kubelet also calls: stats, a resources update (runc's `update`), an ExecSync past its timeout.
        const { stats } = await cri.runtime('ContainerStats', { containerId: main });
        expect(stats.memory.workingSetBytes.value).toBeGreaterThan(0);
        // (cpu shares and a cpuset as the CPU manager sets them: ns made the cgroup only in the hierarchies it used).
        await cri.runtime('UpdateContainerResources', { containerId: main, linux: { memoryLimitInBytes: 64 * 1024 * 1024, cpuShares: 512, cpusetCpus: '0' } });
        const pid = await pods.containerPid(main);
        expect(pods.v1Limit(pid, 'memory', 'memory.limit_in_bytes')).toBe(`${64 * 1024 * 1024}`);
        expect(pods.v1Limit(pid, 'cpu', 'cpu.shares')).toBe('512');
        expect(pods.v1Limit(pid, 'cpuset', 'cpuset.cpus')).toBe('0');
        expect((await rejection(cri.runtime('ExecSync', { containerId: main, cmd: ['sleep', '30'], timeout: 1 }))).details).toMatch(/timeout 1s exceeded/);
        // TERM is ignored: after the grace period, KILL.
        await cri.runtime('StopContainer', { containerId: main, timeout: 2 });
        expect(await pods.containerStatus(main)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137, reason: 'Error' });
        await cri.runtime('RemoveContainer', { containerId: main });
      } finally {
        await pods.removePod(pod);
      }
    }, 120_000);

    it('a pod with shareProcessNamespace: shared pid namespace, TERM then exit, exit reasons Completed / Error / OOMKilled', async () => {
      const pod = await pods.runPod(handler, `${handler}-shared`, { pid: 'POD' });
      try {
        const sandbox = nsLinks(await pods.sandboxPid(pod));
        const main = await pods.startContainer(pod, 'main', ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 1; done']);
        expect(await pods.containerNsLinks(main)).toEqual(sandbox);
        expect(await pods.execSync(main, ['hostname'])).toMatchObject({ stdout: `${handler}-shared\n`, exitCode: 0 });
        // The sandbox's process is pid 1 of the pod.
        expect((await pods.execSync(main, ['cat', '/proc/1/cmdline'])).stdout).toBe('/bin/sleep\0infinity\0');
        const ok = await pods.startContainer(pod, 'ok', ['true']);
        const bad = await pods.startContainer(pod, 'bad', ['sh', '-c', 'exit 3']);
        const oom = await pods.startContainer(pod, 'oom', ['sh', '-c', 'x=0123456789; while :; do x="$x$x"; done'], { memory: 32 * 1024 * 1024 });
        expect(await pods.exited(ok)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 0, reason: 'Completed' });
        expect(await pods.exited(bad)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 3, reason: 'Error' });
        expect(await pods.exited(oom)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137, reason: 'OOMKilled' });
        const ignorer = await pods.startContainer(pod, 'ignorer', ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
        await cri.runtime('StopContainer', { containerId: main, timeout: 30 });
        expect(await pods.containerStatus(main)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 7 });
        await cri.runtime('StopContainer', { containerId: ignorer, timeout: 2 });
        expect(await pods.containerStatus(ignorer)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137 });
        for (const id of [main, ok, bad, oom, ignorer]) await cri.runtime('RemoveContainer', { containerId: id });
      } finally {
        await pods.removePod(pod);
      }
    }, 120_000);

    it('security contexts: privileged, runAsUser/runAsGroup, readOnlyRootFilesystem, capabilities, RuntimeDefault seccomp, noNewPrivs', async () => {
      const pod = await pods.runPod(handler, `${handler}-sec`, { privileged: true });
      try {
        const start = (cname: string, securityContext: Msg) => pods.startContainer(pod, cname, ['sleep', '3600'], { securityContext });
        const capEff = async (id: string) => (await pods.execSync(id, ['grep', '^CapEff', '/proc/self/status'])).stdout.trim().split(/\s+/)[1];
        const priv = await start('priv', { privileged: true });
        // Privileged: every capability of the runtime's bounding set (CAP_SYS_ADMIN among them), the host's devices.
        expect(BigInt(`0x${await capEff(priv)}`) & (1n << 21n)).not.toBe(0n);
        expect(await pods.execSync(priv, ['test', '-c', '/dev/kmsg'])).toMatchObject({ exitCode: 0 });
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
          id: (await pods.execSync(plain, ['sh', '-c', 'id -u; id -g; id -G'])).stdout,
          status: (await pods.execSync(plain, ['grep', '-E', '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):', '/proc/self/status'])).stdout,
          touch: await pods.execSync(plain, ['touch', '/x']),
          // The RuntimeDefault profile refuses unshare(2) of a user namespace (EPERM).
          unshare: (await pods.execSync(plain, ['sh', '-c', 'unshare -U true 2>/dev/null; echo $?'])).stdout,
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
        for (const id of [priv, plain]) expect(await pods.containerStatus(id)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137 });
      } finally {
        await pods.removePod(pod);
      }
    }, 120_000);

    it("a pod on the host's network, pid and ipc namespaces (hostNetwork, hostPID, hostIPC)", async () => {
      // The kubelet gives a hostNetwork pod no hostname: it has the host's UTS namespace.
      const pod = await pods.runPod(handler, `${handler}-host`, { network: 'NODE', pid: 'NODE', ipc: 'NODE', hostname: '' });
      try {
        const containerId = await pods.startContainer(pod, 'main', ['sleep', '3600']);
        const host = nsLinks(process.pid);
        const links = await pods.containerNsLinks(containerId);
        expect(links).toMatchObject({ net: host.net, pid: host.pid, ipc: host.ipc });
        // The host's network: the container sees this host's address.
        const hostAddr = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' }).stdout.match(/inet (\S+)/)?.[1];
        if (hostAddr) expect((await pods.execSync(containerId, ['ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(hostAddr);
      } finally {
        await pods.removePod(pod);
      }
    }, 120_000);

    it('leaves nothing once its pods are removed: no shim, mount, network namespace, cgroup or runtime state', () => {
      expectNothingLeft(handler);
      const root = join(d!.roots[handler], 'k8s.io');
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
    // ns's message reaches containerd through the --log file (regression: a refused global flag
    // was not written there, and the shim said "unable to retrieve OCI runtime error").
    expect(err.details).toMatch(/OCI runtime create failed: .*--systemd-cgroup: ns has no systemd cgroup driver/);
    expect((await cri.runtime('ListPodSandbox', {})).items).toEqual([]);
    expectNothingLeft('ns', { cgroups: false });
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
      expectNothingLeft(handler);
    });

    it('a container limit the host cannot honour (a cgroup v2 key on this v1 memory controller): StartContainer fails with the runtime\'s message, nothing is left', async () => {
      const pod = await pods.runPod(handler, `${handler}-unified`);
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
        await pods.removePod(pod);
      }
      expectNothingLeft(handler, { netns: false });
    });
  });
});
