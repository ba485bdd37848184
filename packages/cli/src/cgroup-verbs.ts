/**
 * The verbs that act on a container's cgroup, as runc's: `pause`, `resume`, `update`,
 * `events` (their commander definitions; the work is in commands/).
 */
import { Option, type Command } from 'commander';
import type { StateStore } from '@ns/namespaces';
import { eventsCommand, type EventsOptions } from './commands/events.js';
import { pauseCommand } from './commands/pause.js';
import { resumeCommand } from './commands/resume.js';
import { updateCommand, type UpdateOptions } from './commands/update.js';
import type { CliIo, ResolvedIo } from './io.js';

/** What the verbs' actions need from main(). */
export interface VerbContext {
  io: ResolvedIo;
  /** The state store of the global `--root`. */
  store: () => StateStore;
  /** The io main() was given (`events` watches process.stdout only when it is the real one). */
  cliIo: CliIo;
  /** Records the command's exit status. */
  done: (status: number) => void;
}

/** Add `pause`, `resume`, `update` and `events` to `program`. */
export function addCgroupVerbs(program: Command, { io, store, cliIo, done }: VerbContext): void {
  program
    .command('pause')
    .summary('freeze every process of a container (as runc pause)')
    .description("Freeze every process of a running container through its cgroup (v1 freezer, v2 cgroup.freeze); its status is \"paused\" until ns resume. The container needs a cgroup of its own (linux.resources or linux.cgroupsPath in its config).")
    .argument('<ID>', 'container id')
    .action(async (id: string) => {
      done(await pauseCommand(id, store(), io));
    });

  program
    .command('resume')
    .summary('thaw a paused container (as runc resume)')
    .argument('<ID>', 'container id')
    .action((id: string) => {
      done(resumeCommand(id, store(), io));
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
      done(updateCommand(id, opts, store(), io));
    });

  program
    .command('events')
    .summary("stream a container's stats and OOM kills as JSON lines (as runc events)")
    .description(
      'Print a running container\'s cgroup statistics as JSON lines, as runc events: {"type":"stats","id":ID,"data":{...}} every ' +
        '--interval, and {"type":"oom","id":ID} when the OOM killer kills a process in it, until the container stops ' +
        'or the reader of the output goes away (status 0 for both; runc dies of SIGPIPE there). ' +
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
        done(await eventsCommand(id, opts, store(), io, abort.signal));
      } finally {
        stdout?.off('error', onError);
      }
    });
}
