/**
 * Issue 22, bad input on the path a Kubernetes pod takes: containerd's runc shim writes the
 * pod's config.json and calls `ns --root R --log B/log.json --log-format json create --bundle B
 * --pid-file P ID` with a read-only /dev/null as stdin, stdout and stderr. A config ns cannot
 * honour (an unknown namespace type, a namespace path of another type or none, an AppArmor or
 * SELinux label ns does not apply, an rlimit the host refuses) ends with exit status 125 and one
 * JSON error line in the log naming the field (what containerd shows in `OCI runtime create
 * failed: ...`), and leaves nothing: no state entry, cgroup, mount or process.
 *
 * The configs have a cgroupsPath under a parent of this file's own (as containerd gives one
 * per pod), removed at the end; processes are found by an environment marker, never by name.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostMounts, markedProcesses, stateEntries } from './leftovers.js';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'packages/cli/dist/ns.cjs');
const isRoot = process.getuid?.() === 0;
const ROOTFS = process.env.NS_TEST_ROOTFS;
const TAG = randomBytes(6).toString('hex');
const MARK = `NS_TEST_MARK=pod-bad-input-${TAG}`;
/** The cgroup parent of this file's containers, in every hierarchy (as containerd's `/k8s.io/ID`). */
const PARENT = `ns-pod-bad-${TAG}`;

type Namespace = { type: string; path?: string };
type Spec = { process: { env: string[]; [k: string]: unknown }; linux: { namespaces: Namespace[]; [k: string]: unknown }; [k: string]: unknown };

/** Every cgroup directory named `id` under this file's parent, in any hierarchy. */
function cgroupsOf(id: string): string[] {
  const top = '/sys/fs/cgroup';
  const hierarchies = [top, ...readdirSync(top, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(top, e.name))];
  return hierarchies.map((h) => join(h, PARENT, id)).filter((d) => existsSync(d));
}

/** Remove this file's cgroup parent (empty by then) from every hierarchy. */
function removeParent(): void {
  const top = '/sys/fs/cgroup';
  for (const h of [top, ...readdirSync(top).map((n) => join(top, n))]) {
    const d = join(h, PARENT);
    if (!existsSync(d)) continue;
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirSync(join(d, e.name));
    rmdirSync(d);
  }
}

/** The index of the entry of `type` in the spec's namespaces. */
const indexOf = (s: Spec, type: string) => s.linux.namespaces.findIndex((n) => n.type === type);

/** Replace the namespace entry of `type` with one joining `path`. */
function join_(s: Spec, type: string, path: string): void {
  s.linux.namespaces[indexOf(s, type)] = { type, path };
}

interface Case {
  name: string;
  edit: (s: Spec) => void;
  /** What the log's error line says: the field and the cause. */
  says: (s: Spec) => RegExp;
}

const CASES: Case[] = [
  {
    name: 'an unknown namespace type',
    edit: (s) => void s.linux.namespaces.push({ type: 'foo' }),
    says: (s) => new RegExp(`linux\\.namespaces\\[${s.linux.namespaces.length - 1}\\]\\.type: expected one of .*received "foo"`),
  },
  {
    // A CRI container joins its sandbox's ipc and uts namespaces by path: the two swapped.
    name: 'a uts namespace file given as ipc',
    edit: (s) => join_(s, 'ipc', `/proc/${process.pid}/ns/uts`),
    says: (s) => new RegExp(`^/\\S+/config\\.json: linux\\.namespaces\\[${indexOf(s, 'ipc')}\\]\\.path: /proc/${process.pid}/ns/uts is a uts namespace, not ipc$`),
  },
  {
    name: 'a network namespace path that is no namespace',
    edit: (s) => join_(s, 'network', '/etc/hostname'),
    says: (s) => new RegExp(`^/\\S+/config\\.json: linux\\.namespaces\\[${indexOf(s, 'network')}\\]\\.path: /etc/hostname is not a namespace$`),
  },
  {
    // CNI's network namespace of a pod removed meanwhile.
    name: 'a network namespace path that does not exist',
    edit: (s) => join_(s, 'network', `/run/netns/cni-${TAG}-gone`),
    says: (s) => new RegExp(`^/\\S+/config\\.json: linux\\.namespaces\\[${indexOf(s, 'network')}\\]\\.path: /run/netns/cni-${TAG}-gone: no such namespace file$`),
  },
  {
    name: 'process.apparmorProfile (containerd sets cri-containerd.apparmor.d where AppArmor is on)',
    edit: (s) => void (s.process.apparmorProfile = 'cri-containerd.apparmor.d'),
    says: () => /process\.apparmorProfile: ns applies no AppArmor profile \(apparmor is (not )?active on this kernel\)/,
  },
  {
    name: 'process.selinuxLabel',
    edit: (s) => void (s.process.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2'),
    says: () => /process\.selinuxLabel: ns applies no SELinux label \(selinux is (not )?active on this kernel\)/,
  },
  {
    name: 'linux.mountLabel',
    edit: (s) => void (s.linux.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2'),
    says: () => /linux\.mountLabel: ns applies no SELinux label/,
  },
  {
    // Fails late, in the container's set-up, after its state and cgroup were made.
    name: "an rlimit above the host's hard limit",
    edit: (s) => {
      const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
      s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: hard + 1, hard: hard + 1 }];
    },
    says: () => /^setrlimit RLIMIT_NOFILE \(rlimit type 7\) \d+\/\d+ \(process\.rlimits\[0\]\): EPERM \(operation not permitted\)$/,
  },
];

describe.skipIf(!isRoot || !ROOTFS)("a pod's config ns cannot honour, through create as containerd's shim calls it (root)", () => {
  let dir: string;
  let state: string;
  let valid: Spec;
  const ours = () => hostMounts().filter((m) => m.startsWith(dir) || m.startsWith(ROOTFS!));
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const ns = (args: string[], redirects = '') => {
    const line = [process.execPath, BIN, '--root', state, ...args].map(q).join(' ');
    return spawnSync('bash', ['-c', `exec ${line} ${redirects}`], { encoding: 'utf8', timeout: 30_000, cwd: dir });
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-pod-bad-'));
    state = join(dir, 'state');
    expect(ns(['spec', '--bundle', dir, '--rootfs', ROOTFS!, '--no-terminal', '--', 'sleep', '1000']).status).toBe(0);
    valid = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
    valid.process.env.push(MARK);
    valid.linux.resources = { ...(valid.linux.resources as object), memory: { limit: 64 * 1024 * 1024 } };
  });

  afterAll(() => {
    try {
      for (const id of stateEntries(state)) ns(['delete', '-f', id]);
      expect(markedProcesses(MARK)).toEqual([]);
      expect(ours()).toEqual([]);
    } finally {
      removeParent();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** `ns create` of `spec` as the shim calls it: status, and the log's lines. */
  function create(id: string, spec: Spec) {
    const b = join(dir, id);
    mkdirSync(b);
    spec.linux.cgroupsPath = `/${PARENT}/${id}`;
    writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
    const log = join(b, 'log.json');
    const r = ns(['--log', log, '--log-format', 'json', 'create', '--bundle', b, '--pid-file', join(b, 'pid'), id], '</dev/null 1</dev/null 2</dev/null');
    const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; msg: string; time: string }) : [];
    return { status: r.status, lines, pidFile: existsSync(join(b, 'pid')) };
  }

  it('the valid config is created (so each failure below is the case\'s own), in its cgroup', () => {
    const r = create('valid', structuredClone(valid));
    expect(r).toMatchObject({ status: 0, lines: [], pidFile: true });
    expect(cgroupsOf('valid').length).toBeGreaterThan(0);
    expect(ns(['delete', '-f', 'valid']).status).toBe(0);
    expect(cgroupsOf('valid')).toEqual([]);
  });

  CASES.forEach((c, i) => {
    it(`${c.name}: 125, one error line naming the field, nothing left`, () => {
      const id = `bad${i}`;
      const spec = structuredClone(valid);
      c.edit(spec);
      const r = create(id, spec);
      try {
        expect(r.status).toBe(125);
        expect(r.lines.map((l) => l.level)).toEqual(['error']);
        expect(r.lines[0]!.msg).toMatch(c.says(spec));
        expect(r.pidFile).toBe(false);
        expect(stateEntries(state)).not.toContain(id);
        expect(cgroupsOf(id)).toEqual([]);
        expect(markedProcesses(MARK)).toEqual([]);
        expect(ours()).toEqual([]);
      } finally {
        if (stateEntries(state).includes(id)) ns(['delete', '-f', id]);
      }
    });
  });
});
