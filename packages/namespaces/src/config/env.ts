/**
 * The environment of a container's process, as runc's libcontainer prepares it
 * (`prepareEnv`, from Go's os/exec dedupEnv): each key once, the last entry of a key winning.
 */

/**
 * True for a `KEY=value` entry (OCI `process.env`): an `=`, with a non-empty key before it.
 * The one rule for env entries of a Container and of a config.json (a NUL byte is refused
 * separately, with its own message).
 */
export function isEnvEntry(entry: string): boolean {
  return entry.indexOf('=') > 0;
}

/**
 * `env` with each key once: the last `KEY=value` of a key wins and keeps its place, earlier
 * entries of that key are left out (as runc, and as a shell assigning the same variable
 * twice). `['ONE=two', 'A=1', 'ONE=three']` gives `['A=1', 'ONE=three']`. An entry without
 * `=` counts as a key of its own (validateContainer refuses those before planning).
 *
 * @param env `KEY=value` strings, in order (OCI `process.env`)
 * @returns a new array; the order of the kept entries is unchanged
 * @see execve(2), environ(7), OCI runtime-spec config.md "process.env"
 */
export function dedupEnv(env: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = env.length - 1; i >= 0; i--) {
    const entry = env[i]!;
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(entry);
  }
  return out.reverse();
}
