/**
 * The parent's part of the openConsole step (plan/console.ts): take the master of the pty the
 * container made in its own devpts with pidfd_getfd(2), and hand it to the start
 * (SyncContext.takeConsole: the console socket, or the process's terminal streams).
 */
import { NsError, pidfdGetfd } from '@ns/syscalls';
import { CONSOLE_SYNC } from '../plan/console.js';
import { registerSyncHandler } from './sync.js';

registerSyncHandler(CONSOLE_SYNC, (ctx) => {
  if (ctx.step.op !== 'openConsole' || !ctx.takeConsole) {
    throw new NsError('ERR_NS_CONFIG', `sync step ${JSON.stringify(CONSOLE_SYNC)}: not an openConsole step of a start that takes a console`);
  }
  ctx.takeConsole(pidfdGetfd(ctx.pid, ctx.value));
});
