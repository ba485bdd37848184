/**
 * `ns caps [TARGET]`: show capability sets by name. TARGET is a pid (default: this `ns`
 * process), a container id (its init), or with `--decode HEX` a mask as /proc/PID/status
 * shows it (`00000000a80425fb`). capabilities(7), proc(5).
 */
import { readFileSync } from 'node:fs';
import { fromMask, parseHexMask, parseStatusCapabilities, type ProcessCapabilities } from '@ns/capabilities';
import { ErrorCode, NsError, isAlive, notRunningError, type StateStore } from '@ns/namespaces';
import { EXIT, reportError } from '../errors.js';
import type { ResolvedIo } from '../io.js';

export interface CapsOptions {
  /** `--decode HEX`: decode a mask instead of reading a process. */
  decode?: string;
  /** `--format table|json`. */
  format?: string;
}

const SETS: [keyof ProcessCapabilities, string][] = [
  ['bounding', 'CapBnd'],
  ['effective', 'CapEff'],
  ['permitted', 'CapPrm'],
  ['inheritable', 'CapInh'],
  ['ambient', 'CapAmb'],
];

/** The pid TARGET names: a number, `self`, or a running container's init. */
function targetPid(target: string | undefined, store: StateStore): number {
  if (target === undefined || target === 'self') return process.pid;
  if (/^\d+$/.test(target)) return Number(target);
  const state = store.read(target);
  if (!isAlive(state)) throw notRunningError(target);
  return state.pid;
}

/** `ns caps`: 0 with the sets on stdout; 125 for a bad mask, pid or container. */
export function capsCommand(target: string | undefined, options: CapsOptions, store: StateStore, io: ResolvedIo): number {
  try {
    if (options.decode !== undefined) {
      const names = fromMask(parseHexMask(options.decode));
      io.stdout(options.format === 'json' ? `${JSON.stringify(names)}\n` : `${names.join(',') || '(none)'}\n`);
      return 0;
    }
    const pid = targetPid(target, store);
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      throw new NsError(ErrorCode.NOT_FOUND, `no process ${pid}`);
    }
    const caps = parseStatusCapabilities(status);
    if (options.format === 'json') {
      io.stdout(`${JSON.stringify(Object.fromEntries(SETS.map(([k]) => [k, fromMask(caps[k])])), null, 2)}\n`);
    } else {
      for (const [key, label] of SETS) {
        io.stdout(`${label}\t${caps[key].toString(16).padStart(16, '0')}\t${fromMask(caps[key]).join(',') || '(none)'}\n`);
      }
    }
    return 0;
  } catch (err) {
    reportError(io, err);
    return EXIT.FAILURE;
  }
}
