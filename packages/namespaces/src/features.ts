/**
 * What this runtime supports, in the shape of the OCI runtime-spec's features.md (`runc
 * features`): clients such as containerd read it to know what a config may ask for.
 */
import { release } from 'node:os';
import { CAPABILITIES } from '@ns/capabilities';
import { ACTIONS, FLAGS, OCI_ARCHES, OPS } from '@ns/seccomp';
import { NAMESPACE_TYPES } from './config/container.js';
import { knownMountOptions } from './config/mountopts.js';
import { OCI_VERSION } from './container/state.js';

/** The features document (runtime-spec features.md; `ns features` prints it as JSON). */
export interface RuntimeFeatures {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
    seccomp: { enabled: boolean; actions: string[]; operators: string[]; archs: string[]; knownFlags: string[]; supportedFlags: string[] };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
}

/** Whether the running kernel has mount_setattr(2) MOUNT_ATTR_IDMAP (Linux 5.12). */
function idmappedMounts(): boolean {
  const [major = 0, minor = 0] = release().split('.').map((n) => Number.parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 12);
}

/**
 * This runtime's features (runtime-spec features.md): the hooks it runs (all six), the mount
 * options it knows, every namespace type, the capabilities it knows, cgroups v1 and v2 without
 * a systemd driver, seccomp with every action (SCMP_ACT_NOTIFY with a seccomp agent at
 * listenerPath), id-mapped bind mounts (`idmap`, `ridmap`) on a kernel with mount_setattr(2)
 * (5.12), and no AppArmor, SELinux or Intel RDT (a config asking for them is refused).
 */
export function runtimeFeatures(version = '0.0.0'): RuntimeFeatures {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: knownMountOptions(),
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: CAPABILITIES.map((c) => c.name),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: {
        enabled: true,
        actions: Object.keys(ACTIONS),
        operators: [...OPS],
        archs: Object.keys(OCI_ARCHES).filter((a) => OCI_ARCHES[a] !== null),
        knownFlags: Object.keys(FLAGS),
        supportedFlags: Object.keys(FLAGS),
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: idmappedMounts() } },
    },
    annotations: { 'io.github.ns.version': version },
  };
}
