/**
 * The record of the native front (issue 17, docs/cli-start.md "The design we build"):
 * `<root>/<id>/state.front`, written with every state.json (StateStore.write()). The front
 * (packages/syscalls/front/, record.h documents the format) carries out `ns state`, `kill`,
 * `start` and `delete` from it in about a millisecond, without Node, and falls back to Node
 * for anything it does not cover. Every decision stays here: the record holds the results
 * (the state document for each live status, the files start writes, the cgroup directories
 * delete removes, which verbs need Node), and the front only checks the process and acts.
 */
import { join } from 'node:path';
import { constants } from 'node:os';
import { openContainerCgroup } from './cgroup.js';
import { EXEC_FIFO, liveStatus, ociDocument, stateFileText, type ContainerState } from './state.js';

/** The record's file name, beside state.json. */
export const FRONT_RECORD = 'state.front';

/** First line: the format and its version (the front refuses any other). */
export const FRONT_RECORD_HEADER = 'ns-front-record 1';

/**
 * The record for `state` (in folder `dir`), or null when the front has nothing to do for it
 * (a container still `creating`, no process). A value holding a newline or a tab is never
 * written as a line: such a container gets no record, and the front leaves it to Node.
 *
 * What Node must still do itself is marked `node VERB`: `start` with poststart hooks,
 * `delete` with poststop hooks or a bridge network to release.
 *
 * @param dir the container's folder (StateStore.dir(id))
 * @returns the record's text, or null
 * @see packages/syscalls/front/record.h for the format
 */
export function frontRecord(state: ContainerState, dir: string): string | null {
  if ((state.status !== 'created' && state.status !== 'running') || !(state.pid > 0) || !/^\d+$/.test(state.startTime)) return null;
  let cg: ReturnType<typeof openContainerCgroup> = null;
  let cgroupUnknown = false;
  try {
    cg = openContainerCgroup(state.config);
  } catch {
    cgroupUnknown = true; // delete must not skip a cgroup it cannot name
  }
  const lines: string[] = [FRONT_RECORD_HEADER, `pid ${state.pid}`, `start-time ${state.startTime}`];
  if (state.status === 'created') lines.push(`fifo ${join(dir, EXEC_FIFO)}`);
  // Only a running container reads as paused when frozen (liveStatus()).
  // With the v1 freezer cgroup a first pause makes (not there yet at create or start).
  if (state.status === 'running' && cg) for (const p of cg.freezerProbes()) lines.push(`frozen-if ${p.file}\t${p.line}`);
  if (cg) for (const d of cg.removalDirs()) lines.push(`rmdir ${d}`);
  const hooks = state.config.hooks;
  if (hooks?.poststart?.length) lines.push('node start');
  if (hooks?.poststop?.length || state.config.bridge || cgroupUnknown) lines.push('node delete');
  for (const [name, n] of Object.entries(constants.signals)) lines.push(`signal ${name} ${n}`);
  if (lines.some((l) => /[\n\r]/.test(l) || (l.startsWith('frozen-if ') ? l.split('\t').length !== 2 : l.includes('\t')))) return null;

  const doc = (alive: boolean, frozen: boolean) => `${JSON.stringify(ociDocument(state, liveStatus(state.status as 'created' | 'running', alive, () => frozen)), null, 2)}\n`;
  const blocks: string[] = [];
  const block = (head: string, text: string) => blocks.push(`${head} ${Buffer.byteLength(text)}\n${text}\n`);
  block('text alive', doc(true, false));
  if (state.status === 'running') block('text frozen', doc(true, true));
  block('text stopped', doc(false, false));
  if (state.status === 'created') {
    // What startCreatedContainer() writes once the process took its byte.
    const running: ContainerState = { ...state, status: 'running' };
    block('file start state.json', stateFileText(running));
    const next = frontRecord(running, dir);
    if (next !== null) block(`file start ${FRONT_RECORD}`, next);
  }
  return `${lines.join('\n')}\n${blocks.join('')}end\n`;
}
