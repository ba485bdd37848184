/**
 * What a command may touch of the outside world, injectable for tests: writers for ns's own
 * messages (the container's output never goes through these), the working directory and the
 * environment `-e KEY` reads from.
 */
export interface CliIo {
  /** Writes ns's own standard output (help text, `--dry-run` plans). Default: process.stdout. */
  stdout?: (text: string) => void;
  /** Writes ns's own diagnostics (`ns: ...` lines). Default: process.stderr. */
  stderr?: (text: string) => void;
  /** Directory relative paths are taken from. Default: process.cwd(). */
  cwd?: string;
  /** Environment `-e KEY` (without `=`) copies values from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/** {@link CliIo} with every field filled in. */
export interface ResolvedIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export function resolveIo(io: CliIo = {}): ResolvedIo {
  return {
    stdout: io.stdout ?? ((text) => void process.stdout.write(text)),
    stderr: io.stderr ?? ((text) => void process.stderr.write(text)),
    cwd: io.cwd ?? process.cwd(),
    env: io.env ?? process.env,
  };
}
