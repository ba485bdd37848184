/**
 * Option definitions shared by several verbs of `ns` (commander): the options that say what
 * container to make (`run`, `create`) and the value parsers they use.
 */
import { InvalidArgumentError, type Command } from 'commander';

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The options that say what container to make, shared by `run` and `create`. */
export function containerOptions(cmd: Command): Command {
  return cmd
      .option('--id <id>', 'container id (same as the ID argument)')
      .option('-b, --bundle <dir>', 'OCI bundle: read DIR/config.json (root.path relative to DIR)')
      .option('--rootfs <dir>', 'use this directory as the root filesystem, with default settings')
      .option('--hostname <name>', 'hostname inside the container (new UTS namespace)')
      .option('-u, --user <user[:group]>', 'user to run as: name or uid, optional group or gid')
      .option('--cwd <dir>', 'working directory inside the container')
      .option('-e, --env <key=value>', 'set an environment variable; KEY alone copies it from ns (repeatable)', collect)
      .option('-t, --tty', 'allocate a pseudo-terminal')
      .option('--readonly', 'mount the root filesystem read-only')
      .option('--init', 'run an init as pid 1 that forwards signals to the command and reaps orphans (as docker run --init)')
      .option('--no-pivot', 'make the new root without pivot_root(2), for a host running from an initramfs (as runc; less isolated: the old root stays under it)')
      .option('--no-new-keyring', "keep ns's session keyring instead of a new one named _ses.ID for the container (as runc)")
      .option('--net <mode>', 'network: none (new namespace with only lo, default), host, bridge[:NAME] (a veth on bridge NAME, made when missing: ns0 with 10.89.0.0/24 by default, another name a 10.89.N.0/24 of its own), or PATH of a netns to join')
      .option('--cap-add <cap>', 'add a capability, or ALL (repeatable)', collect)
      .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect)
      .option('-v, --volume <host:container[:ro]>', 'bind mount a host path (repeatable)', collect)
      .option('--security-opt <opt>', 'seccomp=unconfined, seccomp=default or seccomp=PROFILE.json; no-new-privileges (repeatable)', collect)
      .option('--pid-file <file>', "write the container process's pid to FILE once it runs (as runc; also without -d)")
      .option('--preserve-fds <n>', "with -d or create: pass ns's descriptors 3 .. 3+N-1 on to the container (as runc)", parseCount)
      .option('--console-socket <path>', "with -d or create and a terminal: send the pty master to the unix socket at PATH (as runc)");
}

/** A count option (`--preserve-fds 2`): a whole number >= 0. */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number of descriptors');
  return Number(value);
}

