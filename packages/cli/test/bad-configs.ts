/**
 * The corpus of malformed config.json files of bad-config.int.test.ts (issue 15): each case
 * makes a bundle's config.json from a valid one (`ns spec`'s, on the busybox rootfs) and says
 * what the error must name. Not a test itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';

/** A config.json value (loosely typed: the cases break it on purpose). */
export type Spec = any;

export interface BadConfig {
  name: string;
  /** Change a deep copy of the valid spec (return a replacement, or change it in place). */
  edit?: (spec: Spec) => Spec | void;
  /** Or write config.json (or what stands in its place) at `file` yourself. */
  write?: (file: string, spec: Spec) => void;
  /** What the one error line must contain (the JSON path, or the file and its problem). */
  names: RegExp;
  /**
   * Seconds it may take (default 15): no hang on /dev/zero, a fifo or a huge file. The run is
   * killed 2 s later (reading /dev/zero, ns grew to 16 GB in 57 s before it aborted: keep it short).
   */
  within?: number;
}

const clone = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
/** `depth` nested arrays around `inner`, as JSON text. */
const nested = (depth: number, inner = '"x"') => '['.repeat(depth) + inner + ']'.repeat(depth);
/** A valid spec's JSON with `marker` (a JSON value) replaced by `raw` (text or bytes). */
function withRaw(file: string, spec: Spec, raw: string | Buffer): void {
  spec.process.args = ['/bin/true', '@@RAW@@'];
  const [head, tail] = JSON.stringify(spec).split('"@@RAW@@"') as [string, string];
  writeFileSync(file, Buffer.concat([Buffer.from(head), Buffer.isBuffer(raw) ? raw : Buffer.from(raw), Buffer.from(tail)]));
}
const ns = (spec: Spec) => spec.linux.namespaces as { type: string; path?: string }[];

export const BAD_CONFIGS: BadConfig[] = [
  // --- the file itself -------------------------------------------------------------------------
  { name: 'empty file', write: (f) => writeFileSync(f, ''), names: /config\.json: invalid JSON/ },
  { name: 'JSON null', write: (f) => writeFileSync(f, 'null'), names: /config\.json: expected object, received null/ },
  { name: 'JSON array', write: (f) => writeFileSync(f, '[]'), names: /config\.json: expected object, received array/ },
  { name: 'JSON string', write: (f) => writeFileSync(f, '"config"'), names: /config\.json: expected object, received string/ },
  { name: 'JSON number', write: (f) => writeFileSync(f, '42'), names: /config\.json: expected object, received number/ },
  { name: 'truncated', write: (f, s) => writeFileSync(f, JSON.stringify(s).slice(0, 200)), names: /config\.json: invalid JSON/ },
  { name: 'trailing garbage', write: (f, s) => writeFileSync(f, `${JSON.stringify(s)} }`), names: /config\.json: invalid JSON/ },
  { name: 'comments (JSON has none)', write: (f, s) => writeFileSync(f, `// hi\n${JSON.stringify(s)}`), names: /config\.json: invalid JSON/ },
  { name: 'invalid UTF-8 in process.args[1]', write: (f, s) => withRaw(f, s, Buffer.from([0x22, 0x61, 0xff, 0xfe, 0x62, 0x22])), names: /config\.json.*(UTF-8|utf-8|utf8)/ },
  { name: 'a lone surrogate escape in process.args[1]', write: (f, s) => withRaw(f, s, '"\\ud800"'), names: /process\.args\[1\]/ },
  { name: 'a directory', write: (f) => mkdirSync(f), names: /config\.json.*(EISDIR|is a directory|not a regular file)/i },
  { name: 'a symlink to /dev/zero', write: (f) => symlinkSync('/dev/zero', f), names: /config\.json.*(not a regular file|too large|character device)/i, within: 3 },
  { name: 'a symlink to /dev/urandom', write: (f) => symlinkSync('/dev/urandom', f), names: /config\.json.*(not a regular file|too large|character device)/i, within: 3 },
  { name: 'a fifo', write: (f) => execFileSync('mkfifo', [f]), names: /config\.json.*(not a regular file|fifo|FIFO)/i, within: 3 },
  { name: 'a symlink loop', write: (f) => symlinkSync('config.json', f), names: /config\.json.*(ELOOP|too many levels of symbolic links)/i },
  { name: 'a dangling symlink', write: (f) => symlinkSync('/nonexistent/config.json', f), names: /config\.json.*(does not exist|no such file|ENOENT)/i },
  { name: '100 MB of invalid JSON', write: (f) => writeFileSync(f, `{"a":"${'x'.repeat(100 * 2 ** 20)}`), names: /config\.json.*(invalid JSON|too large)/, within: 30 },
  { name: '100 MB valid JSON (a huge annotation)', write: (f, s) => writeFileSync(f, JSON.stringify({ ...s, annotations: { big: 'x'.repeat(100 * 2 ** 20) } })), names: /config\.json.*too large/, within: 30 },
  {
    name: 'nesting 100000 deep in linux.sysctl',
    write: (f, s) => writeFileSync(f, JSON.stringify({ ...s, linux: { ...s.linux, sysctl: '@@S@@' } }).replace('"@@S@@"', nested(100_000))),
    names: /linux\.sysctl: expected object/,
  },
  // --- top level -------------------------------------------------------------------------------
  { name: 'ociVersion missing', edit: (s) => void delete s.ociVersion, names: /ociVersion: missing/ },
  { name: 'ociVersion a number', edit: (s) => void (s.ociVersion = 1.2), names: /ociVersion: expected string/ },
  { name: 'ociVersion empty', edit: (s) => void (s.ociVersion = ''), names: /ociVersion: expected a non-empty string/ },
  { name: 'annotations value a number', edit: (s) => void (s.annotations = { a: 1 }), names: /annotations\.a: expected string/ },
  { name: 'hostname a number', edit: (s) => void (s.hostname = 5), names: /hostname: expected string/ },
  { name: 'hostname without a uts namespace', edit: (s) => void (s.linux.namespaces = ns(s).filter((n) => n.type !== 'uts')), names: /hostname: .*UTS/ },
  { name: 'hostname of 65 characters', edit: (s) => void (s.hostname = 'h'.repeat(65)), names: /hostname/ },
  { name: 'hostname with a NUL', edit: (s) => void (s.hostname = 'a\0b'), names: /hostname/ },
  // --- process ---------------------------------------------------------------------------------
  { name: 'process a string', edit: (s) => void (s.process = 'sh'), names: /process: expected object/ },
  { name: 'process missing', edit: (s) => void delete s.process, names: /process: missing/ },
  { name: 'process.args a string', edit: (s) => void (s.process.args = '/bin/true'), names: /process\.args: expected array/ },
  { name: 'process.args empty', edit: (s) => void (s.process.args = []), names: /process\.args: expected a non-empty array/ },
  { name: 'process.args[0] a number', edit: (s) => void (s.process.args = [1]), names: /process\.args\[0\]: expected string/ },
  { name: 'process.args[0] empty', edit: (s) => void (s.process.args = ['']), names: /process\.args\[0\]: expected a non-empty string/ },
  { name: 'process.args[1] null', edit: (s) => void (s.process.args = ['/bin/true', null]), names: /process\.args\[1\]: expected string/ },
  { name: 'process.args[1] with a NUL', edit: (s) => void (s.process.args = ['/bin/true', 'a\0b']), names: /process\.args\[1\]: contains a NUL/ },
  { name: 'process.args nested 1000 deep', write: (f, s) => withRaw(f, s, nested(1000)), names: /process\.args\[1\]: expected string/ },
  { name: 'process.env a string', edit: (s) => void (s.process.env = 'A=1'), names: /process\.env: expected array/ },
  { name: 'process.env null', edit: (s) => void (s.process.env = null), names: /process\.env: expected array, received null/ },
  { name: 'process.env[0] a number', edit: (s) => void (s.process.env = [1]), names: /process\.env\[0\]: expected string/ },
  { name: 'process.env[0] without =', edit: (s) => void (s.process.env = ['NOEQUALS']), names: /process\.env\[0\]: expected KEY=value/ },
  { name: 'process.env[0] with an empty key', edit: (s) => void (s.process.env = ['=x']), names: /process\.env\[0\]: expected KEY=value/ },
  { name: 'process.cwd relative', edit: (s) => void (s.process.cwd = 'tmp'), names: /process\.cwd: expected an absolute path/ },
  { name: 'process.cwd a number', edit: (s) => void (s.process.cwd = 5), names: /process\.cwd: expected string/ },
  { name: 'process.terminal a string', edit: (s) => void (s.process.terminal = 'yes'), names: /process\.terminal: expected boolean/ },
  { name: 'process.noNewPrivileges a string', edit: (s) => void (s.process.noNewPrivileges = 'true'), names: /process\.noNewPrivileges: expected boolean/ },
  { name: 'process.user.uid -1', edit: (s) => void (s.process.user.uid = -1), names: /process\.user\.uid: expected number >= 0/ },
  { name: 'process.user.uid 2^32', edit: (s) => void (s.process.user.uid = 2 ** 32), names: /process\.user\.uid: expected number <= 4294967295/ },
  { name: 'process.user.uid 1.5', edit: (s) => void (s.process.user.uid = 1.5), names: /process\.user\.uid: expected integer/ },
  { name: 'process.user.uid "0"', edit: (s) => void (s.process.user.uid = '0'), names: /process\.user\.uid: expected number/ },
  { name: 'process.user.gid "NaN"', edit: (s) => void (s.process.user.gid = 'NaN'), names: /process\.user\.gid: expected number/ },
  { name: 'process.user.gid 1e400 (Infinity)', write: (f, s) => writeFileSync(f, JSON.stringify(s).replace('"gid":0', '"gid":1e400')), names: /process\.user\.gid/ },
  { name: 'process.user.uid 4294967295 (the invalid id -1)', edit: (s) => void (s.process.user.uid = 0xffff_ffff), names: /process\.user\.uid/ },
  { name: 'process.user.additionalGids[0] -1', edit: (s) => void (s.process.user.additionalGids = [-1]), names: /process\.user\.additionalGids\[0\]/ },
  { name: 'process.user.additionalGids a string', edit: (s) => void (s.process.user.additionalGids = '1'), names: /process\.user\.additionalGids: expected array/ },
  { name: 'process.user.umask 0o10000', edit: (s) => void (s.process.user.umask = 0o10000), names: /process\.user\.umask/ },
  { name: 'process.rlimits a duplicate type', edit: (s) => void s.process.rlimits.push({ type: 'RLIMIT_NOFILE', hard: 10, soft: 10 }), names: /process\.rlimits\[1\]/ },
  { name: 'process.rlimits an unknown type', edit: (s) => void (s.process.rlimits = [{ type: 'RLIMIT_FOO', hard: 1, soft: 1 }]), names: /process\.rlimits\[0\]\.type/ },
  { name: 'process.rlimits soft above hard', edit: (s) => void (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 10, soft: 20 }]), names: /process\.rlimits\[0\]/ },
  { name: 'process.rlimits soft -1', edit: (s) => void (s.process.rlimits[0].soft = -1), names: /process\.rlimits\[0\]\.soft: expected number >= 0/ },
  { name: 'process.rlimits soft "unlimited"', edit: (s) => void (s.process.rlimits[0].soft = 'unlimited'), names: /process\.rlimits\[0\]\.soft: expected number/ },
  { name: 'process.rlimits type missing', edit: (s) => void delete s.process.rlimits[0].type, names: /process\.rlimits\[0\]\.type: missing/ },
  { name: 'process.capabilities.bounding a string', edit: (s) => void (s.process.capabilities.bounding = 'CAP_CHOWN'), names: /process\.capabilities\.bounding: expected array/ },
  { name: 'process.capabilities.effective[0] a number', edit: (s) => void (s.process.capabilities.effective = [5]), names: /process\.capabilities\.effective\[0\]: expected string/ },
  { name: 'process.user.additionalGids[0] 2^32', edit: (s) => void (s.process.user.additionalGids = [2 ** 32]), names: /process\.user\.additionalGids\[0\]: expected number <= 4294967295/ },
  { name: 'process.oomScoreAdj 5000', edit: (s) => void (s.process.oomScoreAdj = 5000), names: /process\.oomScoreAdj/ },
  { name: 'process.oomScoreAdj a string', edit: (s) => void (s.process.oomScoreAdj = 'high'), names: /process\.oomScoreAdj: expected number/ },
  { name: 'process.consoleSize.height -1', edit: (s) => void ((s.process.terminal = true), (s.process.consoleSize = { height: -1, width: 80 })), names: /process\.consoleSize\.height/ },
  { name: 'process.scheduler.priority 0 with SCHED_FIFO', edit: (s) => void (s.process.scheduler = { policy: 'SCHED_FIFO', priority: 0 }), names: /process\.scheduler\.priority: expected an integer 1\.\.99/ },
  { name: 'process.ioPriority.class unknown', edit: (s) => void (s.process.ioPriority = { class: 'IOPRIO_CLASS_NONE', priority: 0 }), names: /process\.ioPriority\.class/ },
  { name: 'linux.personality.domain LINUX64', edit: (s) => void (s.linux.personality = { domain: 'LINUX64' }), names: /linux\.personality\.domain: expected LINUX or LINUX32/ },
  { name: 'process.apparmorProfile (not applied)', edit: (s) => void (s.process.apparmorProfile = 'docker-default'), names: /process\.apparmorProfile/ },
  // --- root ------------------------------------------------------------------------------------
  { name: 'root missing', edit: (s) => void delete s.root, names: /root: missing/ },
  { name: 'root.path empty', edit: (s) => void (s.root.path = ''), names: /root\.path: expected a non-empty string/ },
  { name: 'root.path a number', edit: (s) => void (s.root.path = 7), names: /root\.path: expected string/ },
  { name: 'root.path does not exist', edit: (s) => void (s.root.path = '/nonexistent-rootfs'), names: /nonexistent-rootfs/ },
  { name: 'root.path a file', edit: (s) => void (s.root.path = '/etc/hostname'), names: /\/etc\/hostname/ },
  { name: 'root.readonly a string', edit: (s) => void (s.root.readonly = 'no'), names: /root\.readonly: expected boolean/ },
  // --- mounts ----------------------------------------------------------------------------------
  { name: 'mounts an object', edit: (s) => void (s.mounts = {}), names: /mounts: expected array/ },
  { name: 'mounts[0].destination missing', edit: (s) => void delete s.mounts[0].destination, names: /mounts\[0\]\.destination: missing/ },
  { name: 'mounts[0].destination empty', edit: (s) => void (s.mounts[0].destination = ''), names: /mounts\[0\]\.destination: expected a non-empty string/ },
  { name: 'mounts[1].options a string', edit: (s) => void (s.mounts[1].options = 'ro'), names: /mounts\[1\]\.options: expected array/ },
  { name: 'mounts: a bind of a missing source', edit: (s) => void s.mounts.push({ destination: '/x', type: 'bind', source: '/nonexistent-src', options: ['rbind'] }), names: /mounts\[\d+\]\.source/ },
  { name: 'mounts: an unknown option', edit: (s) => void s.mounts.push({ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['frobnicate'] }), names: /mounts\[\d+\]/ },
  { name: 'mounts: an unknown file system type', edit: (s) => void s.mounts.push({ destination: '/x', type: 'nosuchfs', source: 'x' }), names: /mounts\[\d+\]|nosuchfs/ },
  { name: 'mounts: 100000 entries', edit: (s) => void s.mounts.push(...clone(100_000, (i) => ({ destination: `/tmp/m${i}`, type: 'tmpfs', source: 'tmpfs' }))), names: /mounts/, within: 30 },
  // --- linux -----------------------------------------------------------------------------------
  { name: 'linux a string', edit: (s) => void (s.linux = 'yes'), names: /linux: expected object/ },
  { name: 'linux.namespaces a string', edit: (s) => void (s.linux.namespaces = 'pid'), names: /linux\.namespaces: expected array/ },
  { name: 'linux.namespaces an unknown type', edit: (s) => void ns(s).push({ type: 'foo' }), names: /linux\.namespaces\[\d+\]\.type: expected one of/ },
  { name: 'linux.namespaces a type that is a number', edit: (s) => void ns(s).push({ type: 5 as unknown as string }), names: /linux\.namespaces\[\d+\]\.type/ },
  { name: 'linux.namespaces pid twice', edit: (s) => void ns(s).push({ type: 'pid' }), names: /linux\.namespaces\[\d+\]\.type: duplicate namespace type "pid"/ },
  { name: 'linux.namespaces a relative path', edit: (s) => void (s.linux.namespaces = ns(s).map((n) => (n.type === 'ipc' ? { type: 'ipc', path: 'proc/1/ns/ipc' } : n))), names: /linux\.namespaces\[\d+\]\.path: expected an absolute path/ },
  { name: 'linux.namespaces a missing path', edit: (s) => void (s.linux.namespaces = ns(s).map((n) => (n.type === 'ipc' ? { type: 'ipc', path: '/nonexistent/ns/ipc' } : n))), names: /nonexistent\/ns\/ipc/ },
  { name: 'linux.namespaces a path that is no namespace', edit: (s) => void (s.linux.namespaces = ns(s).map((n) => (n.type === 'ipc' ? { type: 'ipc', path: '/etc/hostname' } : n))), names: /\/etc\/hostname/ },
  { name: 'linux.namespaces 100000 entries', edit: (s) => void ns(s).push(...clone(100_000, () => ({ type: 'pid' }))), names: /linux\.namespaces\[\d+\]/, within: 30 },
  { name: 'linux.uidMappings without a user namespace', edit: (s) => void (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), names: /linux\.uidMappings/ },
  { name: 'linux.uidMappings[0].size a string', edit: (s) => void (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: '1' }]), names: /linux\.uidMappings\[0\]\.size: expected number/ },
  { name: 'linux.maskedPaths relative', edit: (s) => void (s.linux.maskedPaths = ['proc/kcore']), names: /linux\.maskedPaths\[0\]/ },
  { name: 'linux.maskedPaths[0] a number', edit: (s) => void (s.linux.maskedPaths = [5]), names: /linux\.maskedPaths\[0\]: expected string/ },
  { name: 'linux.readonlyPaths relative', edit: (s) => void (s.linux.readonlyPaths = ['proc/sys']), names: /linux\.readonlyPaths\[0\]/ },
  { name: 'linux.maskedPaths 1000000 entries', edit: (s) => void (s.linux.maskedPaths = clone(1_000_000, (i) => `/proc/m${i}`)), names: /linux\.maskedPaths/, within: 30 },
  { name: 'linux.devices[0].path outside /dev', edit: (s) => void (s.linux.devices = [{ path: '/etc/x', type: 'c', major: 1, minor: 3 }]), names: /linux\.devices\[0\]\.path/ },
  { name: 'linux.devices[0].path climbing out of /dev', edit: (s) => void (s.linux.devices = [{ path: '/dev/../etc/passwd', type: 'c', major: 1, minor: 3 }]), names: /linux\.devices\[0\]\.path/ },
  { name: 'linux.devices[0].type "x"', edit: (s) => void (s.linux.devices = [{ path: '/dev/x', type: 'x', major: 1, minor: 3 }]), names: /linux\.devices\[0\]\.type/ },
  { name: 'linux.devices[0].fileMode 0o100000', edit: (s) => void (s.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o100000 }]), names: /linux\.devices\[0\]\.fileMode/ },
  { name: 'linux.devices[0].major -1', edit: (s) => void (s.linux.devices = [{ path: '/dev/x', type: 'c', major: -1, minor: 3 }]), names: /linux\.devices\[0\]\.major/ },
  { name: 'linux.sysctl a host-wide key', edit: (s) => void (s.linux.sysctl = { 'kernel.core_pattern': '|/tmp/pwn' }), names: /linux\.sysctl\["kernel\.core_pattern"\]/ },
  { name: 'linux.sysctl a key climbing out of /proc/sys/net', edit: (s) => void (s.linux.sysctl = { 'net/../../kernel/core_pattern': '|/tmp/pwn' }), names: /linux\.sysctl\[/ },
  { name: 'linux.sysctl a value that is a number', edit: (s) => void (s.linux.sysctl = { 'net.ipv4.ip_forward': 1 }), names: /linux\.sysctl\["net\.ipv4\.ip_forward"\]: expected string/ },
  { name: 'linux.cgroupsPath climbing out', edit: (s) => void (s.linux.cgroupsPath = '../../escape'), names: /linux\.cgroupsPath/ },
  { name: 'linux.cgroupsPath a number', edit: (s) => void (s.linux.cgroupsPath = 5), names: /linux\.cgroupsPath: expected string/ },
  { name: 'linux.resources.memory.limit "1G"', edit: (s) => void (s.linux.resources.memory = { limit: '1G' }), names: /linux\.resources\.memory\.limit: expected number/ },
  { name: 'linux.resources.pids.limit 1.5', edit: (s) => void (s.linux.resources.pids = { limit: 1.5 }), names: /linux\.resources\.pids\.limit/ },
  { name: 'linux.resources.cpu.shares -1', edit: (s) => void (s.linux.resources.cpu = { shares: -1 }), names: /linux\.resources\.cpu\.shares/ },
  { name: 'linux.resources.devices[0].allow a string', edit: (s) => void (s.linux.resources.devices = [{ allow: 'yes' }]), names: /linux\.resources\.devices\[0\]\.allow: expected boolean/ },
  { name: 'linux.rootfsPropagation "bogus"', edit: (s) => void (s.linux.rootfsPropagation = 'bogus'), names: /linux\.rootfsPropagation: expected one of/ },
  { name: 'linux.seccomp (not applied)', edit: (s) => void (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO' }), names: /linux\.seccomp/ },
  { name: 'hooks.prestart[0].path relative', edit: (s) => void (s.hooks = { prestart: [{ path: 'bin/true' }] }), names: /hooks\.prestart\[0\]\.path: must be an absolute path/ },
  { name: 'hooks.createContainer[0] missing', edit: (s) => void (s.hooks = { createContainer: [{ path: '/nonexistent/hook' }] }), names: /hooks\.createContainer\[0\] \(\/nonexistent\/hook\): cannot be run: ENOENT/ },
  { name: 'hooks.startContainer[0] missing in the rootfs', edit: (s) => void (s.hooks = { startContainer: [{ path: '/nonexistent/hook' }] }), names: /hooks\.startContainer\[0\] \(\/nonexistent\/hook\): cannot be run: ENOENT/ },
  // --- huge values -----------------------------------------------------------------------------
  { name: 'process.args of 1000000 entries', edit: (s) => void (s.process.args = ['/bin/true', ...clone(1_000_000, () => 'a')]), names: /process\.args: .*execve/, within: 30 },
  { name: 'process.env of 10000 entries of 1 KB (10 MB, past execve\'s room)', edit: (s) => void s.process.env.push(...clone(10_000, (i) => `K${i}=${'v'.repeat(1024)}`)), names: /process\.env: .*execve/ },
  { name: 'process.env of 100000 entries of 1 KB (100 MB)', edit: (s) => void s.process.env.push(...clone(100_000, (i) => `K${i}=${'v'.repeat(1024)}`)), names: /config\.json: too large/, within: 30 },
  { name: 'process.args[1] of 1 MB', edit: (s) => void (s.process.args = ['/bin/true', 'a'.repeat(2 ** 20)]), names: /process\.args\[1\]: .*MAX_ARG_STRLEN/ },
];
