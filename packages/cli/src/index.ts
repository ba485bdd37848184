/**
 * @ns/cli: the `ns` command. `main(argv, io)` parses the arguments (commander) and runs one
 * command; it never calls process.exit, it returns the exit status.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { defaultStateRoot } from '@ns/namespaces';
import { capsCommand, type CapsOptions } from './commands/caps.js';
import { deleteCommand, type DeleteOptions } from './commands/delete.js';
import { eventsCommand, type EventsOptions } from './commands/events.js';
import { execCommand, type ExecCommandOptions } from './commands/exec.js';
import { killCommand, type KillOptions } from './commands/kill.js';
import { listCommand, type ListOptions } from './commands/list.js';
import { pauseCommand } from './commands/pause.js';
import { psCommand, type PsOptions } from './commands/ps.js';
import { resumeCommand } from './commands/resume.js';
import { runCommand, type RunOptions } from './commands/run.js';
import { specCommand, type SpecOptions } from './commands/spec.js';
import { stateCommand } from './commands/state.js';
import { startCommand } from './commands/start.js';
import { updateCommand, type UpdateOptions } from './commands/update.js';
import { EXIT, errorLine } from './errors.js';
import { resolveIo, type CliIo } from './io.js';
import { openStore, type GlobalOptions } from './store.js';

export type { CliIo } from './io.js';
export { EXIT, exitCodeFor } from './errors.js';
export { buildContainer, runCommand, selectSource, type BuildContext, type ContainerSource, type RunOptions } from './commands/run.js';
export { applyEnv, applyNetwork, parseVolume } from './flags.js';
// Docker's capability rules are the library's (kept here for the CLI's users).
export { applyCapabilities } from '@ns/namespaces';
export { specCommand, writeSpec, type SpecOptions } from './commands/spec.js';
export { execCommand, execProcess, parseAdditionalGids, type ExecCommandOptions } from './commands/exec.js';
export { listCommand, listEntries, type ListEntry, type ListOptions } from './commands/list.js';
export { stateCommand } from './commands/state.js';
export { startCommand } from './commands/start.js';
export { psCommand, type PsOptions } from './commands/ps.js';
export { killCommand, parseSignal, type KillOptions } from './commands/kill.js';
export { deleteCommand, type DeleteOptions } from './commands/delete.js';
export { capsCommand, type CapsOptions } from './commands/caps.js';
export { pauseCommand } from './commands/pause.js';
export { resumeCommand } from './commands/resume.js';
export { UPDATE_FLAGS, updateCommand, updateResources, type UpdateOptions, type UpdateRequest } from './commands/update.js';
export { OOM_POLL_MS, eventsCommand, type EventsOptions } from './commands/events.js';
export { UINT64_MAX, eventLine, runcStats, type RuncEvent, type RuncMemoryEntry, type RuncStats } from './runc-stats.js';
export { parseBytes, parseDuration, parseInteger } from './units.js';
export { openOutputFiles, runDetached, type OpenedOutput, type OutputFiles } from './detach.js';
export { openStore, type GlobalOptions } from './store.js';
export { formatTable } from './table.js';
export { runAttached, runForeground, startContainer, FORWARDED_SIGNALS, type ForegroundOptions, type Launcher } from './start.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The options that say what container to make, shared by `run` and `create`. */
function containerOptions(cmd: Command): Command {
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
      .option('--net <mode>', 'network: none (new namespace with only lo, default), host, or PATH of a netns to join')
      .option('--cap-add <cap>', 'add a capability, or ALL (repeatable)', collect)
      .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect)
      .option('-v, --volume <host:container[:ro]>', 'bind mount a host path (repeatable)', collect);
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const RUN_HINT = 'put the command after --: ns run [ID] -- CMD ARGS...';
const EXEC_HINT = 'put the command after --: ns exec ID -- CMD ARGS...';

/**
 * For an unknown option `flag` of `ns run` / `ns exec`: whether a command seems to have been
 * given without `--` before it (`ns run --rootfs R /bin/sh -c 'echo hi'` fails on `-c`):
 * the positional arguments before `flag` are more than the ID. Returns the hint, or undefined.
 */
function commandHint(program: Command, args: readonly string[], flag: string): string | undefined {
  const takesValue = (cmd: Command, token: string): boolean | undefined => {
    const option = [...cmd.options, ...program.options].find((o) => o.long === token || o.short === token);
    return option === undefined ? undefined : option.required || option.optional;
  };
  let i = 0;
  // The global options before the command name.
  while (i < args.length && args[i]!.startsWith('-')) i += takesValue(program, args[i]!) ? 2 : 1;
  const name = args[i];
  const sub = program.commands.find((c) => c.name() === name);
  if (sub === undefined || (name !== 'run' && name !== 'exec')) return undefined;
  let positionals = 0;
  for (i++; i < args.length && args[i] !== flag; i++) {
    const token = args[i]!;
    if (token.startsWith('-') && token !== '-') {
      if (!token.includes('=') && takesValue(sub, token)) i++;
    } else {
      positionals++;
    }
  }
  if (i >= args.length) return undefined;
  if (name === 'run' && positionals >= 1) return RUN_HINT;
  if (name === 'exec' && positionals >= 2) return EXEC_HINT;
  return undefined;
}

/** A commander error message as one line, without commander's `error: ` prefix. */
function usageLine(text: string, program: Command, args: readonly string[]): string {
  let line = text.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' ').trim();
  if (/too many arguments for 'run'/.test(line)) line += ` (${RUN_HINT})`;
  if (/too many arguments for 'exec'/.test(line)) line += ` (${EXEC_HINT})`;
  const unknown = /^unknown option '([^']+)'/.exec(line);
  const hint = unknown ? commandHint(program, args, unknown[1]!) : undefined;
  if (hint !== undefined) line += ` (${hint})`;
  return `ns: ${line}\n`;
}

/**
 * Run `ns` with `argv` (without the node and script paths, as `process.argv.slice(2)`).
 * Everything after the first `--` is the command to run (`ns run [ID] -- CMD ARGS...`,
 * `ns exec ID -- CMD ARGS...`). The global `--root DIR` (state root) may come before or
 * after the command name.
 *
 * @param io writers for ns's own output and the working directory / environment to use;
 *   the container's own stdio is always the real descriptors 0, 1, 2.
 * @returns the exit status: 0 for `--help`, 125 for a usage or set-up error, else what the
 *   command returns (for `run` and `exec`, the process's exit status).
 */
export async function main(argv: readonly string[], cliIo: CliIo = {}): Promise<number> {
  const io = resolveIo(cliIo);
  const dashes = argv.indexOf('--');
  const head = dashes < 0 ? [...argv] : argv.slice(0, dashes);
  const command = dashes < 0 ? undefined : argv.slice(dashes + 1);
  let status = 0;

  const program = new Command('ns');
  const store = () => openStore(program.opts<GlobalOptions>(), io);
  program
    .description('Run Linux containers straight from Node.js, without a daemon (runc-like).')
    // As commander's .version(), but package.json is read only when asked (a ms of every start).
    .option('-V, --version', 'print the version')
    .option('--root <dir>', `directory for container state (default: ${defaultStateRoot()})`)
    .helpOption('-h, --help', 'show help')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s) => io.stderr(usageLine(s, program, head)),
    });
  program.on('option:version', () => {
    const v = version();
    io.stdout(`${v}\n`);
    throw new CommanderError(0, 'commander.version', v);
  });

  const runCmd = program
    .command('run')
    .summary('create and start a container (in the foreground, or detached with -d)')
    .description(
      'Create and start a container and wait for it; with -d, leave it running in the background ' +
        '(its state under --root until `ns delete`). The config comes from ' +
        '--bundle DIR (DIR/config.json), --rootfs DIR, ./config.json when an ID is given, or else the embedded default: ' +
        "a read-only sandbox of the host's /usr, /bin, /lib*, /etc with a fresh /tmp.",
    )
    .addHelpText(
      'after',
      '\nExit status: the command\'s own; 128+N when killed by signal N; 125 when ns failed;\n' +
        '126 when the command cannot be executed; 127 when it is not found.\n\n' +
        'Examples:\n' +
        "  ns run -- /bin/sh -c 'echo $$'\n" +
        '  ns run -t --rootfs ./rootfs --hostname box -v "$PWD:/src:ro" web1 -- sh\n' +
        '  ns run --bundle ./bundle mycontainer\n' +
        "  ns run -d --log ./web1.log --rootfs ./rootfs web1 -- sh -c 'while :; do date; sleep 1; done'\n",
    )
    .usage('[options] [ID] [-- CMD ARGS...]')
    .argument('[ID]', 'container id (default: a generated ns-XXXXXXXXXXXX)');
  containerOptions(runCmd)
    .option('--dry-run', 'print the plan of system calls and exit without starting anything')
    .option('-d, --detach', 'start the container in the background and exit 0 once it runs (stdio: /dev/null)')
    .option('--stdout <file>', "append the container's stdout to FILE")
    .option('--stderr <file>', "append the container's stderr to FILE")
    .option('--log <file>', "append the container's stdout and stderr to FILE")
    .action(async (idArgument: string | undefined, opts: Omit<RunOptions, 'idArgument' | 'command'>) => {
      const options: RunOptions = { ...opts };
      if (idArgument !== undefined) options.idArgument = idArgument;
      if (command !== undefined) options.command = command;
      status = await runCommand(options, io, store());
    });

  const createCmd = program
    .command('create')
    .summary('create a container, set up and waiting for `ns start` (as runc create)')
    .description(
      'Create a container: namespaces, mounts, capabilities and user are set up, and its process ' +
        'waits just before running the command until `ns start ID` (status "created"). Same ' +
        'sources and options as ns run; its output goes to --stdout/--stderr/--log or /dev/null.',
    )
    .usage('[options] ID [-- CMD ARGS...]')
    .argument('<ID>', 'container id');
  containerOptions(createCmd)
    .option('--stdout <file>', "append the container's stdout to FILE")
    .option('--stderr <file>', "append the container's stderr to FILE")
    .option('--log <file>', "append the container's stdout and stderr to FILE")
    .action(async (idArgument: string, opts: Omit<RunOptions, 'idArgument' | 'command'>) => {
      const options: RunOptions = { ...opts, idArgument, detach: true, createOnly: true };
      if (command !== undefined) options.command = command;
      status = await runCommand(options, io, store());
    });

  program
    .command('start')
    .summary('start a created container (as runc start)')
    .argument('<ID>', 'container id')
    .action(async (id: string) => {
      status = await startCommand(id, store(), io);
    });

  program
    .command('exec')
    .summary('run a process in a running container')
    .description(
      "Run a command in a running container: in its namespaces and root, with the container's " +
        'environment, working directory, user and capabilities unless told otherwise.',
    )
    .addHelpText(
      'after',
      '\nExit status: as ns run (the command\'s own; 125 when ns failed, e.g. the container is\n' +
        'not running; 126 / 127 when the command cannot be executed / is not found).\n\n' +
        'Examples:\n' +
        '  ns exec web1 -- ps\n' +
        '  ns exec -t -u alice -e TERM=xterm --cwd /tmp web1 -- sh\n' +
        '  ns exec -u 1000:1000 -g 10 -g 100 web1 -- id\n',
    )
    .usage('[options] ID -- CMD ARGS...')
    .argument('<ID>', 'container id')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-u, --user <user[:group]>', 'user to run as: name or uid, optional group or gid')
    .option('-g, --additional-gids <gid>', "add a supplementary group id to the container's (repeatable)", collect)
    .option('-e, --env <key=value>', 'set an environment variable; KEY alone copies it from ns (repeatable)', collect)
    .option('--cwd <dir>', 'working directory inside the container')
    .option('--cap-add <cap>', 'add a capability, or ALL (repeatable)', collect)
    .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect)
    .action(async (id: string, opts: Omit<ExecCommandOptions, 'id' | 'command'>) => {
      const options: ExecCommandOptions = { ...opts, id };
      if (command !== undefined) options.command = command;
      status = await execCommand(options, store(), io);
    });

  const formatOption = () => new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table');

  program
    .command('list')
    .alias('ls')
    .summary('list containers')
    .description('List the containers under the state root (PID 0 once stopped), as runc list.')
    .addOption(formatOption())
    .option('-q, --quiet', 'print the container ids only')
    .action((opts: ListOptions) => {
      status = listCommand(opts, store(), io);
    });

  program
    .command('state')
    .summary('print the state of a container (OCI state JSON)')
    .argument('<ID>', 'container id')
    .action((id: string) => {
      status = stateCommand(id, store(), io);
    });

  program
    .command('caps')
    .summary('show capability sets by name (a pid, a container, or --decode HEX)')
    .description('Show the bounding, effective, permitted, inheritable and ambient sets of a process (default: ns itself) or of a container\'s init by name, or decode a mask as /proc/PID/status shows it.')
    .argument('[TARGET]', 'pid, "self" or container id')
    .option('--decode <HEX>', 'decode a capability mask (e.g. 00000000a80425fb)')
    .addOption(formatOption())
    .action((target: string | undefined, opts: CapsOptions) => {
      status = capsCommand(target, opts, store(), io);
    });

  program
    .command('ps')
    .summary('list the processes of a container')
    .description('List the processes of a running container (those in its cgroup when it has one, else those in its pid namespace): UID PID PPID STAT CMD (host pids), or with --format json their pids.')
    .argument('<ID>', 'container id')
    .addOption(formatOption())
    .action((id: string, opts: PsOptions) => {
      status = psCommand(id, opts, store(), io);
    });

  program
    .command('kill')
    .summary("send a signal to a container's init (or with --all, to all its processes)")
    .description(
      'Send SIGNAL (default SIGTERM) to the init process of a running container, as runc kill. ' +
        'SIGNAL is a name (TERM, SIGKILL, kill) or a number.',
    )
    .argument('<ID>', 'container id')
    .argument('[SIGNAL]', 'signal name or number', 'SIGTERM')
    .option('-a, --all', 'send the signal to every process in the container (in its cgroup when it has one)')
    .action((id: string, signal: string, opts: KillOptions) => {
      status = killCommand(id, signal, opts, store(), io);
    });

  program
    .command('pause')
    .summary('freeze every process of a container (as runc pause)')
    .description("Freeze every process of a running container through its cgroup (v1 freezer, v2 cgroup.freeze); its status is \"paused\" until ns resume. The container needs a cgroup of its own (linux.resources or linux.cgroupsPath in its config).")
    .argument('<ID>', 'container id')
    .action(async (id: string) => {
      status = await pauseCommand(id, store(), io);
    });

  program
    .command('resume')
    .summary('thaw a paused container (as runc resume)')
    .argument('<ID>', 'container id')
    .action((id: string) => {
      status = resumeCommand(id, store(), io);
    });

  program
    .command('update')
    .summary("change a running container's cgroup limits (as runc update)")
    .description(
      "Change the cgroup limits of a running container, as runc update: from -r FILE, a JSON object of OCI linux.resources " +
        '({"memory": {"limit": 536870912}, "cpu": {"quota": 50000}, "pids": {"limit": 64}}), and from the flags, which win over ' +
        'the file field by field. Only the fields given change. Sizes take a unit (512m, 1.5g; binary), -1 is unlimited.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ns update --memory 512m --memory-swap 1g web1\n' +
        '  ns update --cpu-quota 50000 --cpu-period 100000 --pids-limit 64 web1\n' +
        '  echo \'{"cpu": {"cpus": "0-1"}}\' | ns update -r - web1\n',
    )
    .argument('<ID>', 'container id')
    .option('-r, --resources <file>', 'JSON linux.resources to apply ("-": standard input)')
    .option('--memory <bytes>', 'memory limit (512m, 1g ...; -1 unlimited)')
    .option('--memory-reservation <bytes>', 'memory soft limit (v1 soft_limit_in_bytes, v2 memory.low)')
    .option('--memory-swap <bytes>', 'memory plus swap limit (-1 unlimited)')
    .addOption(new Option('--kernel-memory <bytes>', 'refused: kernel memory limits are gone (cgroup v2, Linux >= 5.16)').hideHelp())
    .option('--cpu-shares <shares>', 'CPU shares, relative weight (v2: converted to cpu.weight)')
    .addOption(new Option('--cpu-share <shares>', "runc's spelling of --cpu-shares").hideHelp())
    .option('--cpu-period <usecs>', 'CPU CFS period in microseconds')
    .option('--cpu-quota <usecs>', 'CPU CFS quota in microseconds per period (-1 unlimited)')
    .option('--cpu-burst <usecs>', 'CPU CFS burst in microseconds')
    .option('--cpu-rt-period <usecs>', 'CPU realtime period in microseconds (v1 only)')
    .option('--cpu-rt-runtime <usecs>', 'CPU realtime runtime in microseconds per period (v1 only)')
    .option('--cpu-idle <0|1>', 'SCHED_IDLE for the cgroup (1) or not (0)')
    .option('--cpuset-cpus <list>', 'CPUs to run on (0-3,7)')
    .option('--cpuset-mems <list>', 'memory nodes to allocate from (0-1)')
    .option('--blkio-weight <weight>', 'block I/O weight, 10 to 1000')
    .option('--pids-limit <n>', 'maximum number of tasks (-1 unlimited)')
    .action((id: string, opts: UpdateOptions) => {
      status = updateCommand(id, opts, store(), io);
    });

  program
    .command('events')
    .summary("stream a container's stats and OOM kills as JSON lines (as runc events)")
    .description(
      'Print a running container\'s cgroup statistics as JSON lines, as runc events: {"type":"stats","id":ID,"data":{...}} every ' +
        '--interval, and {"type":"oom","id":ID} when the OOM killer kills a process in it, until the container stops. ' +
        'With --stats, one stats line and exit.',
    )
    .argument('<ID>', 'container id')
    .option('--interval <duration>', 'time between stats lines (5s, 500ms, 1m)', '5s')
    .option('--stats', 'print the stats once and exit')
    .action(async (id: string, opts: EventsOptions) => {
      // `ns events ID | head -1`: stop when the reader of ns's stdout goes away.
      const abort = new AbortController();
      const onError = () => abort.abort();
      const stdout = cliIo.stdout === undefined ? process.stdout : undefined;
      stdout?.on('error', onError);
      try {
        status = await eventsCommand(id, opts, store(), io, abort.signal);
      } finally {
        stdout?.off('error', onError);
      }
    });

  program
    .command('delete')
    .alias('rm')
    .summary('delete a stopped container (or with --force, kill and delete a running one)')
    .argument('<ID>', 'container id')
    .option('-f, --force', 'kill the container first when it is still running')
    .action(async (id: string, opts: DeleteOptions) => {
      status = await deleteCommand(id, opts, store(), io);
    });

  program
    .command('spec')
    .summary('write a default config.json (as runc spec)')
    .description('Write a default OCI config.json into the bundle directory (the working directory by default).')
    .usage('[options] [-- CMD ARGS...]')
    .option('-b, --bundle <dir>', 'bundle directory to write config.json into')
    .option('--rootfs <dir>', 'root.path, relative to the bundle', 'rootfs')
    .option('--args <arg...>', 'process.args (or give the command after --)')
    .option('--hostname <name>', 'hostname')
    .addOption(new Option('--no-terminal', 'set process.terminal to false'))
    .option('-f, --force', 'replace an existing config.json')
    .action((opts: Omit<SpecOptions, 'command'>) => {
      const options: SpecOptions = { ...opts };
      if (command !== undefined) options.command = command;
      status = specCommand(options, io);
    });

  try {
    await program.parseAsync(head, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT.FAILURE;
    io.stderr(errorLine(err));
    return EXIT.FAILURE;
  }
  return status;
}
