/**
 * The kubelet's side of a pod for the pod tests (cri.int.test.ts; not a test itself): running
 * a pod sandbox and its containers over the CRI, reading their status, exec, and what the host
 * sees of them (namespaces, cgroups).
 */
import { mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { cgroupRoots, cgroupsNamed } from './clients.js';
import type { CriClient } from './cri-client.js';
import { IMAGE } from './cri-daemon.js';

// A CRI message: the proto's fields in lowerCamelCase.
export type Msg = Record<string, any>;
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE';

/** A running pod sandbox, with the config its containers are created with. */
export interface Pod {
  id: string;
  config: Msg;
  /** Its NamespaceOption (network, pid, ipc), which its containers take as well. */
  namespaceOptions: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode };
}

/** The namespace links of a host pid (`ipc:[4026...]`). */
export function nsLinks(pid: number): Record<string, string> {
  return Object.fromEntries(['ipc', 'uts', 'net', 'pid'].map((t) => [t, readlinkSync(`/proc/${pid}/ns/${t}`)]));
}

/** Pods of one CRI endpoint, their logs in `dir/logs`, their cgroups below `/<parent>`. */
export class Pods {
  constructor(
    readonly cri: CriClient,
    readonly dir: string,
    readonly parent: string,
  ) {}

  /**
   * RunPodSandbox as the kubelet calls it: a hostname, a log folder, the pod's cgroup under the
   * test's parent, made first in every hierarchy (the kubelet makes a pod's cgroup before its
   * sandbox, and sets the pod's limits there).
   */
  async runPod(handler: string, name: string, o: { pid?: NamespaceMode; network?: NamespaceMode; ipc?: NamespaceMode; privileged?: boolean; hostname?: string } = {}): Promise<Pod> {
    const logDirectory = join(this.dir, 'logs', name);
    mkdirSync(logDirectory, { recursive: true });
    for (const root of cgroupRoots()) mkdirSync(join(root, this.parent, name), { recursive: true });
    const namespaceOptions = { network: o.network ?? 'POD', pid: o.pid ?? 'CONTAINER', ipc: o.ipc ?? 'POD' };
    const config = {
      metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 },
      hostname: o.hostname ?? name,
      logDirectory,
      linux: {
        cgroupParent: `/${this.parent}/${name}`,
        securityContext: { namespaceOptions, ...(o.privileged ? { privileged: true } : {}) },
      },
    };
    const r = await this.cri.runtime('RunPodSandbox', { config, runtimeHandler: handler });
    return { id: r.podSandboxId, config, namespaceOptions };
  }

  /** CreateContainer + StartContainer of `args` in `pod`; `memory` a limit in bytes, `securityContext` more of it. */
  async startContainer(pod: Pod, name: string, args: string[], o: { memory?: number; securityContext?: Msg } = {}): Promise<string> {
    const config = {
      metadata: { name, attempt: 0 },
      image: { image: IMAGE },
      command: args,
      logPath: `${name}.log`,
      linux: {
        resources: o.memory ? { memoryLimitInBytes: o.memory } : {},
        securityContext: { namespaceOptions: pod.namespaceOptions, ...o.securityContext },
      },
    };
    const { containerId } = await this.cri.runtime('CreateContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
    await this.cri.runtime('StartContainer', { containerId });
    return containerId;
  }

  async containerStatus(id: string): Promise<Msg> {
    return (await this.cri.runtime('ContainerStatus', { containerId: id })).status;
  }

  /** The host pid of a container's process (ContainerStatus verbose info). */
  async containerPid(id: string): Promise<number> {
    return JSON.parse((await this.cri.runtime('ContainerStatus', { containerId: id, verbose: true })).info.info).pid;
  }

  /** The container's status once it has exited (polled every 100 ms, up to `ms`). */
  async exited(id: string, ms = 20_000): Promise<Msg> {
    for (let waited = 0; ; waited += 100) {
      const s = await this.containerStatus(id);
      if (s.state === 'CONTAINER_EXITED' || waited > ms) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async execSync(id: string, cmd: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.cri.runtime('ExecSync', { containerId: id, cmd, timeout: 20 });
    return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exitCode: r.exitCode };
  }

  /** The pid of the sandbox's process on the host (PodSandboxStatus verbose info). */
  async sandboxPid(pod: Pod): Promise<number> {
    const r = await this.cri.runtime('PodSandboxStatus', { podSandboxId: pod.id, verbose: true });
    return JSON.parse(r.info.info).pid;
  }

  /** The namespace links as seen from inside a container (ExecSync readlink). */
  async containerNsLinks(id: string): Promise<Record<string, string>> {
    const r = await this.execSync(id, ['sh', '-c', 'for t in ipc uts net pid; do echo "$t $(readlink /proc/self/ns/$t)"; done']);
    expect(r.exitCode, r.stderr).toBe(0);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  }

  /** A v1 cgroup file of a host pid's cgroup in the hierarchy of `controller` (this hybrid host's limits are v1). */
  v1Limit(pid: number, controller: string, file: string): string {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller))!;
    expect(line.split(':')[2]).toMatch(new RegExp(`^/${this.parent}/`));
    return readFileSync(join('/sys/fs/cgroup', controller, line.split(':')[2]!, file), 'utf8').trim();
  }

  /**
   * The cgroups of a host pid (/proc/PID/cgroup) that are not below the pod's cgroup: none, as
   * with runc, so that limits the kubelet sets on the pod's cgroup reach every process of the
   * pod (the named systemd hierarchy aside: no runtime places a container there without systemd).
   */
  outsidePod(pid: number, pod: string): string[] {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .filter((l) => l && !l.includes(':name=') && !l.split(':')[2]!.startsWith(`/${this.parent}/${pod}/`));
  }

  /** Stop, remove every container of the pod, stop and remove the pod. */
  async removePod(pod: Pod): Promise<void> {
    const { containers } = await this.cri.runtime('ListContainers', { filter: { podSandboxId: pod.id } });
    for (const c of containers) {
      await this.cri.runtime('StopContainer', { containerId: c.id, timeout: 0 });
      await this.cri.runtime('RemoveContainer', { containerId: c.id });
    }
    await this.cri.runtime('StopPodSandbox', { podSandboxId: pod.id });
    await this.cri.runtime('RemovePodSandbox', { podSandboxId: pod.id });
  }

  /** The cgroups left below the test's parent deeper than a pod's own cgroup. */
  cgroupsLeft(): string[] {
    return cgroupsNamed(this.parent).filter((c) => c.split(`/${this.parent}`)[1]!.split('/').filter(Boolean).length > 1);
  }
}
