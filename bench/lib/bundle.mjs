// OCI bundles for the reference runtimes: `runc spec`'s config.json, edited.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Write `runc spec`'s default config.json into `dir` (made if missing), let `edit` change the
 * parsed config in place, and write it back. Throws when runc spec fails. Returns `dir`.
 */
export function specBundle(dir, edit) {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('runc', ['spec', '--bundle', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`runc spec: ${r.stderr}`);
  const file = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  edit(config);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return dir;
}
