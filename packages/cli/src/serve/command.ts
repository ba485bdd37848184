/** The `ns serve` verb (its definition; the server is in server.ts). */
import type { Command } from 'commander';
import type { StateStore } from '@ns/namespaces';
import type { ResolvedIo } from '../io.js';
import { startServer, type MainFunction } from './server.js';

/** What `ns serve` needs from main(). */
export interface ServeContext {
  io: ResolvedIo;
  /** The state store of the global `--root`: the server listens in its root. */
  store: () => StateStore;
  /** main() itself, run for each call handed over. */
  main: MainFunction;
  /** Records the command's exit status. */
  done: (status: number) => void;
}

/**
 * Add `ns serve` to `program`: listen on `<root>/.server` until SIGTERM or SIGINT, then remove
 * the socket, finish the calls already taken and exit 0.
 */
export function addServeCommand(program: Command, { io, store, main, done }: ServeContext): void {
  program
    .command('serve')
    .summary('run calls handed over by the ns front in this warm process, until SIGTERM (see docs/cli-start.md)')
    .description(
      'Listen on <root>/.server (mode 0600) and run the calls the `ns` front hands over (state, list, kill, start, ' +
        "delete, ps, pause, resume, events --stats, features, --version) in this process, with the caller's descriptors 0, 1, 2, " +
        'working directory, environment and umask, one at a time; create and exec --detach too, the front cloning the ' +
        "container's process (it stays the caller's child). Only for this user (SO_PEERCRED), in this server's " +
        'namespaces and at least as privileged. Other calls, and every call when no server runs, start a Node of ' +
        'their own. Stops on SIGTERM or SIGINT.',
    )
    .action(async () => {
      // The signals are taken before the socket exists: a SIGTERM right after the socket
      // appears (or the line below is read) must stop the server cleanly, never kill it.
      // The listeners stay until the process exits: proper-lockfile's signal-exit (loaded by
      // the first call that takes a lock) re-raises a signal it finds no other listener for,
      // which killed the server (143) before it removed its socket.
      let stop = (): void => {};
      const stopped = new Promise<void>((resolve) => {
        stop = (): void => resolve();
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      let server;
      try {
        server = startServer(store().root, main, io);
      } catch (err) {
        stop();
        throw err;
      }
      io.stdout(`ns serve: listening on ${server.path}\n`);
      await stopped;
      await server.close();
      done(0);
    });
}
