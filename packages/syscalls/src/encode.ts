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
};

const MAGIC = 0x4c50534e;
const VERSION = 2;
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

type Int = number | bigint;

interface Slots {
  i: Int[];
  s: (string | null)[];
  v: (string[] | number[] | null)[];
}

/** The argument slots of one step, as native/child.cc reads them. */
function slots(step: Step): Slots {
  switch (step.op) {
    case 'mount':
      return { i: [step.flags], s: [step.source, step.target, step.fstype, step.data], v: [] };
    case 'umount2':
      return { i: [step.flags], s: [step.target], v: [] };
    case 'mkdir':
      return { i: [step.mode, step.existOk ? 1 : 0], s: [step.path], v: [] };
    case 'touch':
      return { i: [step.mode], s: [step.path], v: [] };
    case 'mknod':
      return { i: [step.mode, step.major, step.minor], s: [step.path], v: [] };
    case 'symlink':
      return { i: [step.existOk ? 1 : 0], s: [step.target, step.path], v: [] };
    case 'chmod':
      return { i: [step.mode], s: [step.path], v: [] };
    case 'pivotRoot':
      return { i: [], s: [step.newRoot], v: [] };
    case 'pivotRootKeep':
      return { i: [], s: [step.newRoot, step.putOld], v: [] };
    case 'chdir':
      return { i: [], s: [step.path], v: [] };
    case 'sethostname':
      return { i: [], s: [step.hostname], v: [] };
    case 'setns':
      return { i: [step.nstype, step.fd ?? -1], s: [step.path ?? null], v: [] };
    case 'unshare':
      return { i: [step.flags], s: [], v: [] };
    case 'writeFile':
      return { i: [], s: [step.path, step.data], v: [] };
    case 'prctl':
      return { i: [step.option, step.arg2, step.arg3, step.arg4, step.arg5], s: [], v: [] };
    case 'capbsetDrop':
    case 'ambientRaise':
      return { i: [step.mask], s: [], v: [] };
    case 'capset':
      return { i: [step.effective, step.permitted, step.inheritable], s: [], v: [] };
    case 'setgroups':
      return { i: [], s: [], v: [step.gids] };
    case 'setresgid':
      return { i: [step.rgid, step.egid, step.sgid], s: [], v: [] };
    case 'setresuid':
      return { i: [step.ruid, step.euid, step.suid], s: [], v: [] };
    case 'setrlimit':
      return { i: [step.resource, step.soft, step.hard], s: [], v: [] };
    case 'umask':
      return { i: [step.mask], s: [], v: [] };
    case 'setsid':
      return { i: [], s: [], v: [] };
    case 'ioctl':
      return { i: [step.fd, step.request, step.arg], s: [], v: [] };
    case 'stdio':
      return { i: [], s: [], v: [step.fds] };
    case 'closeFrom':
      return { i: [step.first], s: [], v: [] };
    case 'execve':
      return { i: [], s: [], v: [step.paths, step.argv, step.envp] };
    case 'sync':
      return { i: [], s: [step.name], v: [] };
    case 'cloneParent':
      return { i: [], s: [], v: [] };
    case 'procRoot':
    case 'waitFifo':
      return { i: [], s: [step.path], v: [] };
    case 'detach':
      return { i: [], s: [], v: [] };
    case 'execCheck':
      return { i: [], s: [], v: [step.paths] };
  }
}

/** A string with no NUL byte, as every C string of a plan must be. */
function checkString(value: string, where: string): string {
  if (value.includes('\0')) {
    const err = new TypeError(`${where} contains a NUL byte`) as TypeError & { code: string };
    err.code = 'ERR_NS_CONFIG';
    throw err;
  }
  return value;
}

/**
 * Encode a plan into the flat buffer the native child walks (layout in native/plan.h).
 * Strings are laid out once each, NUL-terminated; vectors are u32 counts followed by u32
 * elements (string offsets, or raw numbers for `setgroups`/`stdio`).
 *
 * @throws TypeError with code `ERR_NS_CONFIG` when a string holds a NUL byte.
 */
export function encodePlan(plan: Plan): Buffer {
  const strings = new Map<string, number>();
  const strChunks: Buffer[] = [];
  let strLen = 0;
  const str = (value: string | null, where: string): number => {
    if (value === null) return NONE;
    const known = strings.get(value);
    if (known !== undefined) return known;
    const bytes = Buffer.from(checkString(value, where) + '\0', 'utf8');
    const id = strLen;
    strings.set(value, id);
    strChunks.push(bytes);
    strLen += bytes.length;
    return id;
  };
  const vecWords: number[] = [];
  const vec = (value: string[] | number[], where: string): number => {
    const id = vecWords.length * 4;
    vecWords.push(value.length);
    for (const e of value) vecWords.push(typeof e === 'number' ? e >>> 0 : str(e, where));
    return id;
  };

  const steps = Buffer.alloc(plan.steps.length * STEP_BYTES);
  plan.steps.forEach((step, k) => {
    const at = k * STEP_BYTES;
    const { i, s, v } = slots(step);
    steps.writeUInt32LE(OP_CODES[step.op], at);
    steps.writeUInt32LE((step.ignoreMissing ? STEP_IGNORE_MISSING : 0) | (step.preserveFlags ? STEP_PRESERVE_FLAGS : 0) | (step.nofollow ? STEP_NOFOLLOW : 0), at + 4);
    i.forEach((n, j) => steps.writeBigInt64LE(BigInt.asIntN(64, BigInt(n)), at + 8 + 8 * j));
    for (let j = 0; j < 4; j++) steps.writeUInt32LE(str(s[j] ?? null, `step ${k} (${step.op})`), at + 56 + 4 * j);
    for (let j = 0; j < 3; j++) {
      const value = v[j];
      steps.writeUInt32LE(value ? vec(value, `step ${k} (${step.op})`) : NONE, at + 72 + 4 * j);
    }
  });
  const vecs = Buffer.alloc(vecWords.length * 4);
  vecWords.forEach((w, j) => vecs.writeUInt32LE(w, j * 4));

  const stepsOff = HEADER_BYTES;
  const vecOff = stepsOff + steps.length;
  const strOff = vecOff + vecs.length;
  const total = strOff + strLen;
  const header = Buffer.alloc(HEADER_BYTES);
  const pdeathsig = plan.parentDeathSignal ?? 9;
  [MAGIC, VERSION, plan.cloneFlags >>> 0, plan.steps.length, stepsOff, vecOff, strOff, total, pdeathsig, 0].forEach((w, j) =>
    header.writeUInt32LE(w >>> 0, j * 4),
  );
  return Buffer.concat([header, steps, vecs, ...strChunks], total);
}
