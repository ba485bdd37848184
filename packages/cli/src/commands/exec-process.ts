/**
 * `ns exec --process FILE`: the process to start, as an OCI `process` object in a JSON file
 * (runc exec `--process`, what containerd's shim writes for `ctr task exec`), instead of the
 * command line's words and options.
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, NsError, checkProcessAttributes, parseOciSpec, processAttributesOf, type Container, type ExecInProcess } from '@ns/namespaces';
import { absolutePath } from '../io.js';

/**
 * Read and check `file` as an OCI `process` (config.md "Process"), and make the process of it:
 * `args`, `env` (the whole environment, as runc), `cwd`, `user.uid`/`gid` (or `username`),
 * `user.additionalGids`, `terminal`, `noNewPrivileges`, `scheduler` and `ioPriority` (in place
 * of the container's, as runc exec; checked as a config.json's), and the capabilities it keeps
 * (its `effective` set, else `permitted`, else `bounding`: the smallest, never more than asked).
 * @param cwd the directory a relative FILE is taken from (null when gone)
 * @throws NsError `ERR_NS_CONFIG` naming the file and the JSON path (`process.args: ...`);
 *   `ERR_NS_CONFIG` for what exec cannot apply (an AppArmor profile, an SELinux label, a
 *   rlimits or an OOM score other than the container's ...), refused, not dropped.
 * @param container the running container's config: its own rlimits and OOM score are accepted
 */
export function processFromFile(file: string, cwd: string | null, container: Pick<Container, 'rlimits' | 'oomScoreAdj'> = {}): ExecInProcess {
  const path = absolutePath(cwd, file, '--process');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new NsError(ErrorCode.CONFIG, `--process ${path}: ${(err as Error).message}`, { path, cause: err });
  }
  let spec;
  try {
    spec = parseOciSpec({ ociVersion: '1.2.0', process: json });
  } catch (err) {
    throw new NsError(ErrorCode.CONFIG, (err as Error).message.replace(/^config\.json: /, `--process ${path}: `), { path, cause: err });
  }
  const p = spec.process!;
  const fail = (field: string, why: string): never => {
    throw new NsError(ErrorCode.CONFIG, `--process ${path}: process.${field}: ${why}`, { path: `process.${field}` });
  };
  if (p.args === undefined || p.args.length === 0) fail('args', 'expected a non-empty array of strings (the command to run)');
  // What exec cannot set for one process: refused, unless it is the container's own (as a
  // client that copies the container's process object, containerd's shim, gives it).
  const sameAsContainer: Record<string, unknown> = {
    rlimits: (container.rlimits ?? []).map((r) => ({ type: r.type, hard: r.hard, soft: r.soft })),
    oomScoreAdj: container.oomScoreAdj,
  };
  for (const field of ['apparmorProfile', 'selinuxLabel', 'rlimits', 'oomScoreAdj'] as const) {
    const v = p[field];
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    if (field in sameAsContainer && JSON.stringify(field === 'rlimits' ? (v as { type: string; hard: number; soft: number }[]).map((r) => ({ type: r.type, hard: r.hard, soft: r.soft })) : v) === JSON.stringify(sameAsContainer[field])) continue;
    fail(field, "not applied to a process started in a running container (only the container's own is accepted): remove it to run with the container's");
  }
  const proc: ExecInProcess = { args: [...p.args!], terminal: p.terminal ?? false };
  if (p.env !== undefined) proc.env = [...p.env];
  if (p.cwd !== undefined && p.cwd !== '') proc.cwd = p.cwd;
  const u = p.user;
  if (u !== undefined) {
    if (u.uid !== undefined) proc.user = `${u.uid}:${u.gid ?? 0}`;
    else if (u.username) proc.user = u.gid === undefined ? u.username : `${u.username}:${u.gid}`;
    if (u.additionalGids !== undefined) proc.additionalGids = [...u.additionalGids];
  }
  if (p.noNewPrivileges !== undefined) proc.noNewPrivileges = p.noNewPrivileges;
  const attrs = processAttributesOf(p);
  try {
    checkProcessAttributes(attrs);
  } catch (err) {
    const at = (err as NsError).path ?? 'scheduler';
    fail(at, (err as Error).message.slice(at.length + 2));
  }
  if (attrs.scheduler !== undefined) proc.scheduler = attrs.scheduler;
  if (attrs.ioPriority !== undefined) proc.ioPriority = attrs.ioPriority;
  const caps = p.capabilities;
  const kept = caps?.effective ?? caps?.permitted ?? caps?.bounding;
  if (kept !== undefined) proc.capabilities = [...kept];
  return proc;
}
