#!/usr/bin/env node
/** The `ns` executable: `main()` with the process's arguments; its result is the exit status. */
import { main } from './index.js';

// `ns run --help | head`: a closed stdout or stderr is not worth a stack trace. A terminal
// run handles the errors of its output itself (another listener; see start.ts).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && stream.listenerCount('error') < 2) throw err;
  });
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    process.stderr.write(`ns: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 125;
  },
);
