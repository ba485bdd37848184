/** A readable account of a profile's filter, for `ns run --dry-run` and messages. */
import type { Arch } from './arch.js';
import type { ArgCondition, CheckedProfile } from './profile.js';

const OP_TEXT: Record<string, string> = {
  SCMP_CMP_NE: '!=',
  SCMP_CMP_LT: '<',
  SCMP_CMP_LE: '<=',
  SCMP_CMP_EQ: '==',
  SCMP_CMP_GE: '>=',
  SCMP_CMP_GT: '>',
};

/** `arg0 == 0x8`, `(arg0 & 0x7e020000) == 0x0`. */
export function describeCondition(c: ArgCondition): string {
  if (c.op === 'SCMP_CMP_MASKED_EQ') return `(arg${c.index} & 0x${c.value.toString(16)}) == 0x${c.valueTwo.toString(16)}`;
  return `arg${c.index} ${OP_TEXT[c.op]} 0x${c.value.toString(16)}`;
}

/** `SCMP_ACT_ERRNO(EPERM=1)` style: the action with its errno or trace data. */
function actionText(action: string, ret: number): string {
  if (action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE') return `${action}(${ret & 0xffff})`;
  return action;
}

/**
 * The filter in lines: its size, architectures and default, then one line per rule group of
 * the profile (action, names, argument conditions). Rules with the default action are marked
 * as such: the filter leaves them out.
 */
export function describeProfile(p: CheckedProfile, arches: readonly Arch[], length: number): string[] {
  const lines = [
    `${length} instructions, ${length * 8} bytes; architectures ${arches.join(', ')} (any other: SCMP_ACT_KILL_PROCESS)${p.flagNames.length ? `; flags ${p.flagNames.join(', ')}` : ''}`,
    `default ${actionText(p.defaultAction, p.defaultRet)}`,
  ];
  for (const s of p.syscalls) {
    const cond = s.args.length ? ` if ${s.args.map(describeCondition).join(' && ')}` : '';
    const same = s.ret === p.defaultRet ? ' (the default: left out)' : '';
    lines.push(`${actionText(s.action, s.ret)}${same}: ${s.names.join(' ')}${cond}`);
  }
  return lines;
}
