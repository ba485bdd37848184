/**
 * @ns/cli: the `ns` command. `main(argv, io)` parses the arguments (commander) and runs one
 * command; it never calls process.exit, it returns the exit status.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help, Option } from 'commander';
import { capsCommand, type CapsOptions } from './commands/caps.js';
import { deleteCommand, type DeleteOptions } from './commands/delete.js';
import { execCommand, type ExecCommandOptions } from './commands/exec.js';
import { killCommand, type KillOptions } from './commands/kill.js';
import { listCommand, type ListOptions } from './commands/list.js';
import { psCommand, type PsOptions } from './commands/ps.js';
import { runCommand, type RunOptions } from './commands/run.js';
import { specCommand, type SpecOptions } from './commands/spec.js';
import { stateCommand } from './commands/state.js';
import { startCommand } from './commands/start.js';
import { EXIT, reportDebug, reportError, reportWarning } from './errors.js';
import { addGlobalOptions, setupGlobals } from './global.js';
import { refuseEmptyPaths, resolveIo, type CliIo } from './io.js';
import { openStore, type GlobalOptions } from './store.js';
import { usageMessage } from './usage.js';
import { addCgroupVerbs } from './cgroup-verbs.js';
import { addServeCommand } from './serve/command.js';
import { collect, containerOptions, parseCount } from './options.js';
import { OCI_VERSION, runtimeFeatures } from '@ns/namespaces';

export type { CliIo } from './io.js';
export { EXIT, exitCodeFor } from './errors.js';
export { buildContainer, runCommand, selectSource, type BuildContext, type ContainerSource, type RunOptions } from './commands/run.js';
export { applyEnv, applyNetwork, bridgeOf, parseVolume } from './flags.js';
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
export { SYSTEMD_CGROUP_REFUSED, addGlobalOptions, parseRootless, setupGlobals } from './global.js';
export { LOG_FORMATS, RuntimeLog, formatLogLine, openRuntimeLog, type LogFormat, type LogLevel, type RuntimeLogOptions } from './log.js';
export { reportDebug, reportError, reportWarning } from './errors.js';
export { LOG_AFTER_VERB } from './commands/run.js';
export { formatTable } from './table.js';
export { runAttached, runForeground, startContainer, FORWARDED_SIGNALS, type ForegroundOptions, type Launcher } from './start.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The command `ns exec` runs, as runc exec takes it: every word after the ID (`words`), a
 * `--` among them and what follows included (`ns exec ID grep -- -v x` runs `grep -- -v x`);
 * or, with no word between the ID and the first `--`, what follows that `--`
 * (`ns exec ID -- CMD ARGS...`).
 * @param afterDashes what main() found after the first `--` of the command line, if any
 */
export function execWords(words: readonly string[], afterDashes: readonly string[] | undefined): string[] | undefined {
  if (words.length === 0) return afterDashes === undefined ? undefined : [...afterDashes];
  return afterDashes === undefined ? [...words] : [...words, '--', ...afterDashes];
}

/**
 * Run `ns` with `argv` (without the node and script paths, as `process.argv.slice(2)`).
 * Everything after the first `--` is the command to run (`ns run [ID] -- CMD ARGS...`,
 * `ns exec ID -- CMD ARGS...`); `ns exec ID CMD ARGS...` also takes every word after the ID
 * as the command, as runc exec (its options go before the ID). runc's global options
 * (`--root`, `--log`, `--log-format`, `--debug`, `--systemd-cgroup`, `--rootless`; see
 * setupGlobals()) come before the verb; `--root DIR` (state root) may also come after it.
 * ns's own errors go to stderr and to the `--log` file, its warnings to the log only.
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
  // The global options, with a `--root` given after the verb winning (optsWithGlobals).
  let globals: GlobalOptions = {};
  const store = () => openStore(globals, io);
  program
    .description('Run Linux containers straight from Node.js, without a daemon (runc-like).')
    // As commander's .version(), but package.json is read only when asked (a ms of every start).
    .option('-V, --version', 'print the version');
  addGlobalOptions(program, io.env)
    .helpOption('-h, --help', 'show help')
    .configureHelp({
      showGlobalOptions: true,
      // `pause <ID>`, not `pause [options] <ID>` for a verb whose only option is the hidden --root.
      subcommandTerm(this: Help, cmd: Command): string {
        const term = Help.prototype.subcommandTerm.call(this, cmd);
        return cmd.options.every((o) => o.hidden) ? term.replace(' [options]', '') : term;
      },
    })
    // Options of the program before the verb only (as runc's global flags): after `exec ID`
    // every word is the command's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s) => {
        // An unknown verb fails before the preSubcommand hook opened the log: open it now, so
        // the error reaches --log as every other one (runc's Before runs before the lookup).
        if (io.log === undefined) {
          try {
            setupGlobals(program.opts<GlobalOptions>(), '', io, (log) => (io.log = log));
          } catch {
            // a bad global option: reported on stderr below, as runc does before its log exists
          }
        }
        reportError(io, new Error(usageMessage(s, program, head)));
      },
    });
  // runc's `Before`: check the global options, open the log, before the verb parses its own.
  program.hook('preSubcommand', (_program, sub) => {
    refuseEmptyPaths(program);
    setupGlobals(program.opts<GlobalOptions>(), sub.name(), io, (log) => (io.log = log));
    reportDebug(io, `ns ${argv.join(' ')}`);
  });
  program.hook('preAction', (_program, action) => {
    for (let c: Command | null = action; c !== null; c = c.parent) refuseEmptyPaths(c);
    globals = action.optsWithGlobals<GlobalOptions>();
  });
  // runc's form (`runc version X` / `spec: ...` / `go: ...`), which clients show the first line of.
  program.on('option:version', () => {
    const v = version();
    io.stdout(`ns version ${v}\nspec: ${OCI_VERSION}\nnode: ${process.version}\n`);
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
        '126 when the command cannot be executed; 127 when it is not found.\n' +
        'With a limit flag (--time ... --meta, as isolate\'s): 0 for the verdict OK, 1 for RE, SG, TO, OOM, OLE\n' +
        '(one `ns: STATUS: message` line on stderr), 125 when it could not run (XX, a bad flag).\n' +
        'Limit mode takes no container ID (as isolate: the run is not in ns list); for a bundle, --bundle DIR.\n\n' +
        'Examples:\n' +
        "  ns run -- /bin/sh -c 'echo $$'\n" +
        '  ns run -t --rootfs ./rootfs --hostname box -v "$PWD:/src:ro" web1 -- sh\n' +
        '  ns run --bundle ./bundle mycontainer\n' +
        "  ns run -d --stdout ./web1.log --stderr ./web1.log --rootfs ./rootfs web1 -- sh -c 'while :; do date; sleep 1; done'\n" +
        '  ns run --rootfs ./rootfs --time 1 --wall-time 3 --mem 262144 --stdin in.txt --stdout out.txt --meta meta.txt -- /box/prog\n',
    )
    .usage('[options] [ID] [-- CMD ARGS...]')
    .argument('[ID]', 'container id (default: a generated ns-XXXXXXXXXXXX)');
  containerOptions(runCmd)
    .option('--dry-run', 'print the plan of system calls and exit without starting anything')
    .option('-d, --detach', "start the container in the background and exit 0 once it runs (it keeps ns's stdin, stdout and stderr)")
    .option('--stdout <file>', "append the container's stdout to FILE (default: ns's own stdout, also with -d; limit mode: FILE truncated first, as isolate's)")
    .option('--stderr <file>', "append the container's stderr to FILE (default: ns's own stderr, also with -d; limit mode: FILE truncated first)")
    .option('--time <seconds>', 'limit mode (isolate): cpu time of the whole run, fractions allowed; over it: TO')
    .option('--wall-time <seconds>', 'limit mode: wall-clock time; killed at it: TO')
    .option('--extra-time <seconds>', 'limit mode: grace past --time before the kill (still TO, the real time reported)')
    .option('--mem <KiB>', "limit mode: memory of the whole run (cgroup limit, isolate's --cg-mem); over it: OOM")
    .addOption(new Option('--cg-mem <KiB>', 'limit mode: the same as --mem').hideHelp())
    .option('--processes [n]', 'limit mode: processes and threads at once (without n: no limit)')
    .option('--fsize <KiB>', 'limit mode: largest file the command may write (RLIMIT_FSIZE; 0: none)')
    .option('--open-files <n>', 'limit mode: open descriptors per process (RLIMIT_NOFILE)')
    .option('--stack <KiB>', 'limit mode: stack per process (RLIMIT_STACK)')
    .option('--stdin <file>', "limit mode: the command's standard input (default /dev/null)")
    .option('--output-limit <KiB>', 'limit mode: output kept per stream (default 65536); past it the run is killed: OLE. 0: no output allowed (the first byte is OLE)')
    .option('--cgroup-parent <path>', 'limit mode: the cgroup under which the run makes its own (default /ns-sandbox)')
    .option('--meta <file>', "limit mode: write isolate's meta file (time, time-wall, max-rss, cg-mem, exitcode, exitsig, killed, status, message)")
    .addOption(new Option('--log <file>', "refused: was the container's output; see --stdout, --stderr and ns --log").hideHelp())
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
        "sources and options as ns run; it keeps ns create's own stdin, stdout and stderr (runc's pass-through), " +
        'or writes to --stdout / --stderr FILE.',
    )
    .usage('[options] ID [-- CMD ARGS...]')
    .argument('<ID>', 'container id');
  containerOptions(createCmd)
    .option('--stdout <file>', "append the container's stdout to FILE (default: ns create's own stdout)")
    .option('--stderr <file>', "append the container's stderr to FILE (default: ns create's own stderr)")
    .addOption(new Option('--log <file>', "refused: was the container's output; see --stdout, --stderr and ns --log").hideHelp())
    .action(async (idArgument: string, opts: Omit<RunOptions, 'idArgument' | 'command'>) => {
      const options: RunOptions = { ...opts, idArgument, detach: true, createOnly: true };
      if (command !== undefined) options.command = command;
      status = await runCommand(options, io, store());
    });

  program
    .command('features')
    .summary("what this runtime supports, as JSON (runtime-spec features.md, as runc features)")
    .action(() => {
      io.stdout(`${JSON.stringify(runtimeFeatures(version()), null, 2)}\n`);
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
        '  ns exec web1 ps\n' +
        "  ns exec web1 sh -c 'echo $$'\n" +
        '  ns exec -t -u alice -e TERM=xterm --cwd /tmp web1 -- sh\n' +
        '  ns exec -u 1000:1000 -g 10 -g 100 web1 -- id\n',
    )
    .usage('[options] ID CMD ARGS... (or ID -- CMD ARGS...)')
    .argument('<ID>', 'container id')
    .argument('[CMD...]', 'the command: every word after the ID (options go before the ID, as runc exec)')
    // Stop at the ID: `ns exec box ls -l` runs `ls -l`.
    .passThroughOptions()
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-u, --user <user[:group]>', 'user to run as: name or uid, optional group or gid')
    .option('-g, --additional-gids <gid>', "add a supplementary group id to the container's (repeatable)", collect)
    .option('-e, --env <key=value>', 'set an environment variable; KEY alone copies it from ns (repeatable)', collect)
    .option('--cwd <dir>', 'working directory inside the container')
    .option('--cap-add <cap>', 'add a capability, or ALL (repeatable)', collect)
    .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect)
    .option('-c, --cap <cap>', "add a capability to the process's bounding, effective and permitted sets, as runc exec (repeatable)", collect)
    .option('--preserve-fds <n>', "pass ns's descriptors 3 .. 3+N-1 on to the process (as runc exec)", parseCount)
    .option('-p, --process <file>', 'the process as an OCI process JSON object (args, env, cwd, user ...), as runc exec --process')
    .option('-d, --detach', 'start it and exit 0 without waiting for it')
    .option('--pid-file <file>', "write the process's pid to FILE once it runs")
    .option('--console-socket <path>', 'with -d and -t: send the pty master to the unix socket at PATH (as runc)')
    .option('--ignore-paused', 'exec into a paused container (the process waits until resume), as runc')
    .action(async (id: string, words: string[], opts: Omit<ExecCommandOptions, 'id' | 'command'> & { root?: string }) => {
      const { root: _root, ...rest } = opts;
      const options: ExecCommandOptions = { ...rest, id };
      const cmd = execWords(words, command);
      if (cmd !== undefined) options.command = cmd;
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
    .option('-a, --all', 'send the signal to every process in the container (in its cgroup when it has one; with --init, not to the init, which would forward it to the command a second time)')
    .action((id: string, signal: string, opts: KillOptions) => {
      status = killCommand(id, signal, opts, store(), io);
    });

  addCgroupVerbs(program, { io, store, cliIo, done: (code) => void (status = code) });
  addServeCommand(program, { io, store, main, done: (code) => void (status = code) });

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

  // `--root DIR` is also taken after the verb (ns always did; runc takes it before only).
  for (const sub of program.commands) sub.addOption(new Option('--root <dir>', 'state root (as the global --root)').hideHelp());
  // Process warnings of the libraries (an unknown capability left out ...) are ns's own
  // warnings: to the runtime's log, never printed by Node on a stderr the container may share.
  const nodeWarnings = process.listeners('warning');
  const onWarning = (warning: Error) => reportWarning(io, warning.message);
  process.removeAllListeners('warning');
  process.on('warning', onWarning);
  try {
    await program.parseAsync(head, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) status = err.exitCode === 0 ? 0 : EXIT.FAILURE;
    else {
      reportError(io, err);
      status = EXIT.FAILURE;
    }
  } finally {
    // A warning emitted last is delivered on the next tick: let it reach the log first.
    await new Promise((resolve) => process.nextTick(resolve));
    process.removeListener('warning', onWarning);
    for (const listener of nodeWarnings) process.on('warning', listener);
    reportDebug(io, `exit status ${status}`);
    io.log?.close();
  }
  return status;
}
