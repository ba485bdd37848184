/**
 * isolate's meta file (isolate(1) "META-FILES"): one `key:value` per line, times in seconds
 * with three decimals, memory in KiB. Graders written for isolate (CMS, Judge0, DOMjudge's
 * isolate mode) read it as is: `status` only holds isolate's own RE, SG, TO or XX (none for
 * OK); the statuses isolate lacks (OOM, OLE) are written as isolate would end them (SG or RE,
 * with `cg-oom-killed:1` for OOM) and kept in an extra `ns-status` line, which such parsers
 * skip as an unknown key.
 */
import { writeFile } from 'node:fs/promises';
import { signalNumberOf, type Status, type Verdict } from './verdict.js';

/** isolate's status for one of ours (OK has none). */
export function isolateStatus(v: Pick<Verdict, 'status' | 'signal'>): Exclude<Status, 'OK' | 'OOM' | 'OLE'> | null {
  switch (v.status) {
    case 'OK':
      return null;
    case 'OOM':
    case 'OLE':
      return v.signal !== null ? 'SG' : 'RE';
    default:
      return v.status;
  }
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** A message on one line, as isolate writes it (no newline may break the key:value format). */
const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();

/**
 * The meta file of a verdict, in isolate's format and key order: `time`, `time-wall`,
 * `max-rss`, `cg-mem`, `cg-oom-killed` (only when 1), `exitcode` (when it exited) or
 * `exitsig` (when a signal ended it), `killed` (only when the sandbox killed it), `status`
 * (not for OK), `message` (when there is one), then `ns-status` when isolate has no word for
 * ours. `max-rss` is the largest single process's resident set (the init's rusage of what it
 * reaped, as isolate's from wait4; Verdict.maxRssKiB), `cg-mem` the cgroup's peak of the whole run
 * (Verdict.cgroupMemKiB).
 *
 * @returns the text, ending with a newline
 * @see isolate(1) "META-FILES"
 */
export function formatMeta(v: Verdict): string {
  const lines: [string, string | number][] = [
    ['time', seconds(v.cpuMs)],
    ['time-wall', seconds(v.wallMs)],
    ['max-rss', v.maxRssKiB],
    ['cg-mem', v.cgroupMemKiB ?? v.maxRssKiB],
  ];
  if (v.oomKilled) lines.push(['cg-oom-killed', 1]);
  if (v.exitCode !== null) lines.push(['exitcode', v.exitCode]);
  if (v.signal !== null) lines.push(['exitsig', signalNumberOf(v.signal)]);
  if (v.killed) lines.push(['killed', 1]);
  const status = isolateStatus(v);
  if (status !== null) lines.push(['status', status]);
  if (v.message) lines.push(['message', oneLine(v.message)]);
  if (v.status !== 'OK' && v.status !== status) lines.push(['ns-status', v.status]);
  return lines.map(([k, val]) => `${k}:${val}\n`).join('');
}

/**
 * Write {@link formatMeta} of a verdict to `path` (created or truncated, mode 0644), as
 * `isolate --meta=FILE` does; `-` is not special here (the CLI handles it).
 * @throws the fs error (`ENOENT`, `EACCES` ...) of writing the file
 */
export async function writeMeta(path: string, v: Verdict): Promise<void> {
  await writeFile(path, formatMeta(v), { mode: 0o644 });
}

/**
 * Parse a meta file back into key/value strings (for tests and graders in Node): each
 * `key:value` line, the value after the first colon.
 */
export function parseMeta(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
