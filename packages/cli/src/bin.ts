#!/usr/bin/env node
/** The `ns` executable: `main()` with the process's arguments; its result is the exit status. */
import { main } from './index.js';

// A failed write of ns's own output never changes its exit status: `ns list | head -1`
// (EPIPE), a closed descriptor (EBADF), or a read-only one (containerd's shim gives `ns
// create` a /dev/null opened O_RDONLY as stdin, stdout and stderr: EBADF). Without a listener
// the stream's 'error' event would kill Node with status 1 and the message would be lost; ns's
// errors and warnings are written to the runtime's log (`--log`) before stderr, so they stay
// there. A terminal run also handles the errors of its output itself (another listener; see
// start.ts), as `ns events` does (cgroup-verbs.ts).
function guard(stream: NodeJS.WriteStream): void {
  stream.on('error', () => {
    // ignored: the command's own result stands (see above)
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
