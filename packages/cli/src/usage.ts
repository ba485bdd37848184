/**
 * Usage errors of `ns` as one line each, with a hint where a command was given to `ns run`
 * without `--` before it (commander's own messages otherwise).
 */
import type { Command } from 'commander';

/** How `ns run` or `ns create` is given a command (`ns create ID -- CMD ARGS...`). */
export function commandUsage(verb: 'run' | 'create'): string {
  return `ns ${verb === 'run' ? 'run [ID]' : 'create ID'} -- CMD ARGS...`;
}

/** What `ns run` and `ns create` say about a command given without `--`, in the words of the verb used. */
function commandAfterDashes(verb: 'run' | 'create'): string {
  return `put the command after --: ${commandUsage(verb)}`;
}

/**
 * For an unknown option `flag` of `ns run` or `ns create`: whether a command seems to have been given
 * without `--` before it (`ns run --rootfs R /bin/sh -c 'echo hi'` fails on `-c`): the
 * positional arguments before `flag` are more than the ID. Returns the hint, or undefined.
 * (`ns exec ID CMD ARGS...` needs no `--`, as runc exec.)
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
  if (sub === undefined || (name !== 'run' && name !== 'create')) return undefined;
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
  // `ns run` takes the ID as optional, `ns create` needs one: a word past it is a command.
  return positionals >= (name === 'create' ? 2 : 1) ? commandAfterDashes(name) : undefined;
}

/**
 * A commander error message as one line, without commander's `error: ` prefix (and without
 * ns's `ns: ` one), with the hint of a command given to `ns run` or `ns create` without `--`.
 * @param args the arguments before `--`, as main() gave them to commander
 */
export function usageMessage(text: string, program: Command, args: readonly string[]): string {
  let line = text.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' ').trim();
  const verb = /too many arguments for '(run|create)'/.exec(line)?.[1] as 'run' | 'create' | undefined;
  if (verb !== undefined) line += ` (${commandAfterDashes(verb)})`;
  const unknown = /^unknown option '([^']+)'/.exec(line);
  const hint = unknown ? (commandHint(program, args, unknown[1]!) ?? limitHint(unknown[1]!)) : undefined;
  // Ours says more than commander's guess (`--memory`: "Did you mean --mem?", a limit in KiB).
  if (hint !== undefined) line = `${line.replace(/\s*\(Did you mean [^)]*\)/, '')} (${hint})`;
  return line;
}

/** Docker's limit flags, which `ns run` does not take: where limits go instead. */
const LIMIT_FLAGS = /^--(memory|memory-swap|memory-reservation|pids-limit|cpus|cpu-shares|cpu-quota|cpu-period|cpuset-cpus|cpuset-mems|blkio-weight)(=|$)/;

/** For an unknown option that is one of Docker's limit flags: the hint. */
function limitHint(flag: string): string | undefined {
  if (!LIMIT_FLAGS.test(flag)) return undefined;
  return (
    'limits go in config.json linux.resources (ns run --bundle), or change a running container with ns update ' +
    flag.replace(/=.*/, '') +
    "; for one run with a verdict, isolate's flags: --time, --mem KiB, --processes ..."
  );
}
