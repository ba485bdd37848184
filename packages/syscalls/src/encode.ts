import type { Plan, Step } from './plan.js';
import { writeSlots, type SlotWriter } from './encode-slots.js';

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
  idmapOpen: 150,
  idmapMove: 151,
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

/** How encodePlan() lays out what the plan alone does not say. */
export interface EncodeOptions {
  /**
   * The index of a `sync` step whose go-ahead the parent writes before the child reaches it
   * (spawn()'s early sync, when no step before it reads a go-ahead): the child sends no
   * message there and only reads the byte (plan.h: a sync step's i[0]).
   */
  answeredSync?: number;
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
export function encodePlan(plan: Plan, options: EncodeOptions = {}): Buffer {
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
    // A sync step the parent answers before the child gets there: the child only reads it.
    if (k === options.answeredSync && step.op === 'sync') w.i(0, 1);
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
