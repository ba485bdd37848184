#!/usr/bin/env node
/** The `ns` executable: `main()` with the process's arguments; its result is the exit status. */
import { main } from './index.js';

// `ns run --help | head`: a closed stdout or stderr is not worth a stack trace. A terminal
// run handles the errors of its output itself (another listener; see start.ts).
function guard(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && stream.listenerCount('error') < 2) throw err;
  });
}

// The guard is installed when the stream is first used: making process.stdout loads Node's
// stream modules (tty, net), a few ms that `ns run` with inherited stdio never needs.
function guardOnFirstUse(name: 'stdout' | 'stderr'): void {
  const desc = Object.getOwnPropertyDescriptor(process, name);
  const get = desc?.get;
  if (!desc || !get || !desc.configurable) return guard(process[name]);
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: desc.enumerable,
    get() {
      Object.defineProperty(process, name, desc); // Node's getter makes the stream once
      const stream = get.call(process) as NodeJS.WriteStream;
      guard(stream);
      return stream;
    },
  });
}
guardOnFirstUse('stdout');
guardOnFirstUse('stderr');

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    process.stderr.write(`ns: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 125;
  },
);
