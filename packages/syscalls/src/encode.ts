import type { Plan, Step } from './plan.js';

/** Op numbers of the wire format; must match `enum ns_op` in native/plan.h. */
export const OP_CODES: Readonly<Record<Step['op'], number>> = {
  mount: 1,
  umount2: 2,
  mkdir: 3,
  touch: 4,
  mknod: 5,
  symlink: 6,
  chmod: 7,
  pivotRoot: 8,
  pivotRootKeep: 9,
  chdir: 10,
  sethostname: 11,
  setns: 12,
  unshare: 13,
  writeFile: 14,
  prctl: 15,
  capbsetDrop: 16,
  capset: 17,
  ambientRaise: 18,
  setgroups: 19,
  setresgid: 20,
  setresuid: 21,
  setrlimit: 22,
  umask: 23,
  setsid: 24,
  ioctl: 25,
  stdio: 26,
  closeFrom: 27,
  execve: 28,
  sync: 29,
  cloneParent: 30,
  procRoot: 31,
  waitFifo: 32,
  detach: 33,
  execCheck: 34,
  reexec: 35,
  chown: 36,
  chroot: 37,
  setdomainname: 38,
  fchown: 39,
  seccomp: 40,
  linkUp: 45,
  init: 50,
  hook: 70,
  seccompNotify: 60,
  awaitRun: 80,
  ioprioSet: 90,
  schedSetattr: 91,
  personality: 92,
  joinSessionKeyring: 110,
  moveRoot: 111,
  detachMount: 112,
  openConsole: 140,
};

const MAGIC = 0x4c50534e;
const VERSION = 3;
const HEADER_BYTES = 40;
/** Bytes of one encoded step: u32 op, u32 flags, i64 i[6], u32 s[4], u32 v[3], u32 pad. */
export const STEP_BYTES = 88;
const NONE = 0xffffffff;
/** Step flag: ENOENT counts as success. */
const STEP_IGNORE_MISSING = 1;
/** Step flag: a remount keeps the mount's current flags. */
const STEP_PRESERVE_FLAGS = 2;
/** Step flag: follow no symlink (openat2 RESOLVE_NO_SYMLINKS). */
const STEP_NOFOLLOW = 4;
/** Step flag: EINVAL counts as success. */
const STEP_IGNORE_INVALID = 8;

type Int = number | bigint;

/**
 * Where one step's arguments go, as native/child.cc reads them: integer slot `j` (i64),
 * string slot `j` (offset into the string table), vector slot `j` (offset into the vectors).
 */
interface SlotWriter {
  i(j: number, n: Int): void;
  s(j: number, value: string | null): void;
  v(j: number, value: string[] | number[]): void;
}

/** The argument slots of one step, as native/child.cc reads them. */
function writeSlots(step: Step, w: SlotWriter): void {
  switch (step.op) {
    case 'mount':
      w.i(0, step.flags);
      w.s(0, step.source);
      w.s(1, step.target);
      w.s(2, step.fstype);
      w.s(3, step.data);
      return;
    case 'umount2':
      w.i(0, step.flags);
      w.s(0, step.target);
      return;
    case 'mkdir':
      w.i(0, step.mode);
      w.i(1, step.existOk ? 1 : 0);
      w.s(0, step.path);
      return;
    case 'touch':
    case 'chmod':
      w.i(0, step.mode);
      w.s(0, step.path);
      return;
    case 'mknod':
      w.i(0, step.mode);
      w.i(1, step.major);
      w.i(2, step.minor);
      w.s(0, step.path);
      return;
    case 'symlink':
      w.i(0, step.existOk ? 1 : 0);
      w.s(0, step.target);
      w.s(1, step.path);
      return;
    case 'pivotRoot':
      w.s(0, step.newRoot);
      return;
    case 'pivotRootKeep':
      w.s(0, step.newRoot);
      w.s(1, step.putOld);
      return;
    case 'chown':
      w.i(0, step.uid);
      w.i(1, step.gid);
      w.s(0, step.path);
      return;
    case 'fchown':
      w.i(0, step.fd);
      w.i(1, step.uid);
      w.i(2, step.gid);
      return;
    case 'chdir':
    case 'chroot':
    case 'moveRoot':
    case 'detachMount':
    case 'procRoot':
      w.s(0, step.path);
      return;
    case 'waitFifo':
      w.i(0, step.fd);
      return;
    case 'sethostname':
      w.s(0, step.hostname);
      return;
    case 'setdomainname':
      w.s(0, step.domainname);
      return;
    case 'linkUp':
      w.s(0, step.name);
      return;
    case 'setns':
      w.i(0, step.nstype);
      w.i(1, step.fd ?? -1);
      w.s(0, step.path ?? null);
      return;
    case 'unshare':
      w.i(0, step.flags);
      return;
    case 'writeFile':
      w.s(0, step.path);
      w.s(1, step.data);
      return;
    case 'prctl':
      w.i(0, step.option);
      w.i(1, step.arg2);
      w.i(2, step.arg3);
      w.i(3, step.arg4);
      w.i(4, step.arg5);
      return;
    case 'capbsetDrop':
    case 'ambientRaise':
      w.i(0, step.mask);
      return;
    case 'capset':
      w.i(0, step.effective);
      w.i(1, step.permitted);
      w.i(2, step.inheritable);
      return;
    case 'setgroups':
      w.v(0, step.gids);
      return;
    case 'setresgid':
      w.i(0, step.rgid);
      w.i(1, step.egid);
      w.i(2, step.sgid);
      return;
    case 'setresuid':
      w.i(0, step.ruid);
      w.i(1, step.euid);
      w.i(2, step.suid);
      return;
    case 'setrlimit':
      w.i(0, step.resource);
      w.i(1, step.soft);
      w.i(2, step.hard);
      return;
    case 'ioprioSet':
      w.i(0, step.which);
      w.i(1, step.who);
      w.i(2, step.ioprio);
      return;
    case 'schedSetattr':
      // Seven values in six slots: policy and priority (both u32) share the first.
      w.i(0, (BigInt(step.priority >>> 0) << 32n) | BigInt(step.policy >>> 0));
      w.i(1, step.flags);
      w.i(2, step.nice);
      w.i(3, step.runtime);
      w.i(4, step.deadline);
      w.i(5, step.period);
      return;
    case 'personality':
      w.i(0, step.persona);
      return;
    case 'joinSessionKeyring':
      w.s(0, step.name);
      w.i(0, step.perm ? 1 : 0);
      w.i(1, step.perm?.mask ?? 0);
      w.i(2, step.perm?.set ?? 0);
      return;
    case 'umask':
      w.i(0, step.mask);
      return;
    case 'ioctl':
      w.i(0, step.fd);
      w.i(1, step.request);
      w.i(2, step.arg);
      return;
    case 'stdio':
      w.v(0, step.fds);
      return;
    case 'closeFrom':
      w.i(0, step.first);
      return;
    case 'execve':
      w.v(0, step.paths);
      w.v(1, step.argv);
      w.v(2, step.envp);
      return;
    case 'sync':
      w.s(0, step.name);
      return;
    case 'execCheck':
      w.v(0, step.paths);
      return;
    case 'seccomp':
      w.i(0, step.flags);
      w.v(0, step.filter);
      return;
    case 'seccompNotify':
      w.i(0, step.flags);
      w.v(0, step.filter);
      w.s(0, step.name);
      return;
    case 'openConsole':
      w.i(0, step.cols);
      w.i(1, step.rows);
      w.i(2, step.uid);
      w.i(3, step.gid);
      w.s(0, step.ptmx);
      w.s(1, step.console);
      w.s(2, step.name);
      return;
    case 'detach':
      w.i(0, step.keepFds ?? 0);
      return;
    case 'init':
      w.i(0, step.tty ?? -1);
      return;
    case 'hook':
      w.i(0, step.timeout);
      w.i(1, step.output);
      w.s(0, step.path);
      w.s(1, step.cwd);
      w.s(2, step.root);
      w.v(0, step.argv);
      w.v(1, step.envp);
      w.v(2, step.state);
      return;
    case 'awaitRun':
      w.i(0, step.recordFd);
      w.i(1, step.replyFd);
      w.i(2, step.idleTimeoutMs);
      w.i(3, step.receiveStdio ? 1 : 0);
      return;
    case 'setsid':
    case 'cloneParent':
    case 'reexec':
      return;
  }
}

/** A string with no NUL byte, as every C string of a plan must be. */
function checkString(value: string, k: number, op: string): string {
  if (value.includes('\0')) {
    const err = new TypeError(`step ${k} (${op}) contains a NUL byte`) as TypeError & { code: string };
    err.code = 'ERR_NS_CONFIG';
    throw err;
  }
  return value;
}

/** A growable little-endian byte area. */
class Area {
  buf: Buffer;
  view: DataView;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  /** Make room for `need` bytes in all, keeping the first `used`. */
  reserve(need: number, used: number): void {
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, used);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
}

// Scratch areas reused by every encodePlan() call (one thread, no re-entry): the result is
// copied out, so callers never share memory with them.
let stepArea: Area | undefined;
let vecArea: Area | undefined;
let strArea: Area | undefined;

/**
 * Encode a plan into the flat buffer the native child walks (layout in native/plan.h).
 * Strings are laid out once each, NUL-terminated; vectors are u32 counts followed by u32
 * elements (string offsets, or raw numbers for `setgroups`/`stdio`/`seccomp`).
 *
 * @throws TypeError with code `ERR_NS_CONFIG` when a string holds a NUL byte; RangeError when
 *   an integer argument is not an integer.
 */
export function encodePlan(plan: Plan): Buffer {
  const n = plan.steps.length;
  const steps = (stepArea ??= new Area(128 * STEP_BYTES));
  const vecs = (vecArea ??= new Area(4096));
  const strs = (strArea ??= new Area(16384));
  steps.reserve(n * STEP_BYTES, 0);
  steps.buf.fill(0, 0, n * STEP_BYTES);
  const strings = new Map<string, number>();
  let strLen = 0;
  let vecLen = 0;
  let k = 0;
  let at = 0;

  const str = (value: string | null): number => {
    if (value === null) return NONE;
    const known = strings.get(value);
    if (known !== undefined) return known;
    checkString(value, k, plan.steps[k]!.op);
    // At most 3 bytes per UTF-16 unit, plus the NUL.
    strs.reserve(strLen + value.length * 3 + 1, strLen);
    const id = strLen;
    strLen += strs.buf.write(value, strLen, 'utf8');
    strs.buf[strLen++] = 0;
    strings.set(value, id);
    return id;
  };
  const w: SlotWriter = {
    i(j, value) {
      const off = at + 8 + 8 * j;
      if (typeof value === 'number' && Number.isSafeInteger(value)) {
        // Two's complement halves of a safe integer: exact, no BigInt.
        steps.view.setUint32(off, value >>> 0, true);
        steps.view.setInt32(off + 4, Math.floor(value / 0x1_0000_0000) | 0, true);
      } else {
        steps.view.setBigInt64(off, BigInt.asIntN(64, BigInt(value)), true);
      }
    },
    s(j, value) {
      steps.view.setUint32(at + 56 + 4 * j, str(value), true);
    },
    v(j, value) {
      const id = vecLen;
      vecs.reserve(vecLen + 4 * (value.length + 1), vecLen);
      vecs.view.setUint32(vecLen, value.length, true);
      vecLen += 4;
      for (const e of value) {
        vecs.view.setUint32(vecLen, typeof e === 'number' ? e >>> 0 : str(e), true);
        vecLen += 4;
      }
      steps.view.setUint32(at + 72 + 4 * j, id, true);
    },
  };

  for (k = 0; k < n; k++) {
    const step = plan.steps[k]!;
    at = k * STEP_BYTES;
    const v = steps.view;
    v.setUint32(at, OP_CODES[step.op], true);
    v.setUint32(at + 4, (step.ignoreMissing ? STEP_IGNORE_MISSING : 0) | (step.preserveFlags ? STEP_PRESERVE_FLAGS : 0) | (step.nofollow ? STEP_NOFOLLOW : 0) | (step.ignoreInvalid ? STEP_IGNORE_INVALID : 0), true);
    // Unused string and vector slots say NONE; unused integers stay 0.
    for (let j = 0; j < 7; j++) v.setUint32(at + 56 + 4 * j, NONE, true);
    writeSlots(step, w);
  }

  const stepsOff = HEADER_BYTES;
  const vecOff = stepsOff + n * STEP_BYTES;
  const strOff = vecOff + vecLen;
  const total = strOff + strLen;
  const out = Buffer.allocUnsafe(total);
  const pdeathsig = plan.parentDeathSignal ?? 9;
  const header = [MAGIC, VERSION, plan.cloneFlags >>> 0, n, stepsOff, vecOff, strOff, total, pdeathsig >>> 0, 0];
  for (let j = 0; j < header.length; j++) out.writeUInt32LE(header[j]! >>> 0, j * 4);
  steps.buf.copy(out, stepsOff, 0, n * STEP_BYTES);
  vecs.buf.copy(out, vecOff, 0, vecLen);
  strs.buf.copy(out, strOff, 0, strLen);
  return out;
}
