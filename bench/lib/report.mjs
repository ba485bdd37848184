// docs/benchmarks.md from a results object. Everything is generated except the text between
// the `findings` markers, which is kept from the previous file (hand-written analysis).
import { fmt } from './stats.mjs';

const START = '<!-- findings:start -->';
const END = '<!-- findings:end -->';

function keptFindings(previous) {
  const a = previous.indexOf(START);
  const b = previous.indexOf(END);
  if (a >= 0 && b > a) return previous.slice(a + START.length, b).trim();
  return '_No hand-written findings yet._';
}

const md = (s) => String(s).replace(/\|/g, '\\|');

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `|${head.map((h) => (/(^n$|median|p95|ratio|ms$|calls|^children %|^self %|per start|per call|µs|files|MB|containers|fds)/.test(h) ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

export function renderMarkdown(r, rows, previous) {
  const m = r.machine;
  const out = [];
  out.push('# Benchmarks');
  out.push('');
  out.push(
    'How fast @ns starts a container, next to the floor the kernel allows (a C program doing the same ' +
      'clone + mounts + pivot_root + exec, [bench/floor.c](../bench/floor.c)) and the tools people would otherwise use, ' +
      'measured in one run of `pnpm bench` ([bench/run.mjs](../bench/run.mjs)). Every container runs `/bin/true` on ' +
      'the busybox rootfs of `scripts/build-test-rootfs.sh` with new mnt/pid/uts/ipc/net namespaces, /proc, a tmpfs ' +
      '/dev with devices, devpts, shm, mqueue, a read-only /sys, runc\'s masked and read-only paths and the default ' +
      'capabilities. Times are wall-clock milliseconds. The machine is shared and noisy: **ratios are what matter**; ' +
      'the library and the floor run interleaved (chunks of 1/10 of the runs each) and whole processes run in rounds.',
  );
  out.push('');
  out.push('`pnpm bench` (about 5 minutes here; under 10) · `pnpm bench -- --quick` (under a minute, no docs) · `pnpm bench:install` ' + '(apt-get installs the reference tools first) · `--json FILE`. This file is rewritten by every full run except the *Findings* section.');
  out.push('');
  out.push(`![per-run distributions, throughput and memory](benchmarks.svg)`);
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(
    table(
      ['', ''],
      [
        ['date', m.date.replace('T', ' ').slice(0, 16) + ' UTC'],
        ['CPU', `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB`],
        ['kernel / OS', `Linux ${m.kernel}, ${m.os}, cgroups ${m.cgroups}`],
        ['Node', m.node],
        ['commit', `${m.commit}${m.dirtyPackageFiles ? ` + ${m.dirtyPackageFiles} uncommitted files under packages/ (work in progress of others)` : ''}`],
        ['load average', `${m.loadavgStart.join(' ')} at start, ${(m.loadavgEnd ?? []).join(' ')} at end`],
        ['tools', Object.entries(r.tools).filter(([, v]) => v).map(([k, v]) => `${k}: ${v.replace(/^\w+ version /, '')}`).join('; ')],
        ['whole-process timing', `${r.processTool}, ${r.options.counts.procRuns} runs per command in ${r.options.counts.procRounds} rounds`],
        ['run time', `${r.durationS} s${r.options.quick ? ' (quick)' : ''}`],
      ],
    ),
  );
  out.push('');

  out.push('## Results');
  out.push('');
  let section = null;
  const body = [];
  for (const x of rows) {
    if (x.section !== section) {
      section = x.section;
      body.push([`**${section}**`, '', '', '', '', '']);
    }
    body.push([x.label, String(x.n), fmt(x.median), fmt(x.p95), x.ratio ? `${fmt(x.ratio)}×` : '', x.vs]);
  }
  out.push(table(['measurement', 'n', 'median ms', 'p95 ms', 'ratio', 'relative to'], body));
  out.push('');
  const skipped = r.measurements.filter((x) => x.skipped);
  if (skipped.length) {
    out.push('Not measured: ' + skipped.map((x) => `${x.label} (${x.skipped})`).join('; ') + '.');
    out.push('');
  }

  if (r.throughput) {
    out.push('### Throughput and event-loop blocking');
    out.push('');
    out.push(
      'Start + wait of `/bin/true` with N containers in flight in one Node process; *exec() call* is how long each ' +
        'synchronous `exec()` call took (the event loop is blocked for that long); *loop late* is how late a 1 ms timer ' +
        'fired meanwhile (`monitorEventLoopDelay`).',
    );
    out.push('');
    out.push(
      table(
        ['in flight', 'containers/s', 'C floor containers/s', 'exec() call p50 ms', 'p95 ms', 'max ms', 'loop late p99 ms', 'loop late max ms'],
        r.throughput.map((t) => [String(t.conc), fmt(t.perSecond), fmt(t.floorPerSecond), fmt(t.block.median), fmt(t.block.p95), fmt(t.block.max), fmt(t.eventLoopLateMs.p99), fmt(t.eventLoopLateMs.max)]),
      ),
    );
    if (r.floorThroughput) out.push('', `*C floor containers/s*: ${r.floorThroughput.processes} sequential loops of the C floor side by side, run right after each level (median **${fmt(r.floorThroughput.perSecond)}/s**): the machine's ceiling at that moment.`);
    out.push('');
  }

  if (r.rss?.length) {
    out.push('### Memory');
    out.push('');
    out.push(`Node process running ${r.rss[r.rss.length - 1].runs} library starts (4 in flight), sampled every ${r.rss[1]?.runs ?? '?'} runs (\`--expose-gc\`, RSS also after a full gc; V8's young generation pinned at 16 MB semi-spaces, \`--min-semi-space-size=16 --max-semi-space-size=16\`, since its adaptive growth in steps reads like growth of RSS):`);
    out.push('');
    out.push(table(['runs', 'RSS MB', 'RSS after gc MB', 'heap used MB', 'heap committed MB', 'open fds'], r.rss.map((s) => [String(s.runs), fmt(s.rssMb), fmt(s.rssAfterGcMb), fmt(s.heapMb), fmt(s.heapTotalMb), String(s.fds)])));
    out.push('');
    if (r.peakRssKb && Object.keys(r.peakRssKb).length) {
      const label = (id) => r.measurements.find((x) => x.id === id)?.label ?? id;
      out.push('Peak RSS of whole processes (GNU time `%M`, median of runs; includes the process\'s waited-for children):');
      out.push('');
      out.push(table(['process', 'peak RSS MB'], Object.entries(r.peakRssKb).map(([id, kb]) => [label(id), fmt(kb / 1024)])));
      out.push('');
    }
  }

  out.push('## Targets (issue 5)');
  out.push('');
  out.push(table(['target', 'measured', '', 'detail'], r.targets.map((t) => [t.target, t.value === null ? 'n/a' : `${fmt(t.value)} ${t.unit}`, t.met === null ? '?' : t.met ? '✅ met' : '❌ missed', t.detail])));
  out.push('');

  out.push('## Findings');
  out.push('');
  out.push(START);
  out.push(keptFindings(previous));
  out.push(END);
  out.push('');

  const p = r.profiles;
  if (r.phases || p) {
    out.push('## Profiles (generated)');
    out.push('');
  }
  if (r.phases) {
    out.push('### Stages of one start (median of ' + r.options.counts.phases + ' calls each, ms)');
    out.push('');
    out.push(`The plan of a default container has ${r.phases.planSteps} steps (${r.phases.planBytes} bytes encoded).`);
    out.push('');
    out.push(table(['stage', 'ms'], Object.entries(r.phases.stages).map(([k, v]) => [k, fmt(v)])));
    out.push('');
  }
  if (p?.libCpu) {
    out.push(`### V8 CPU profile of ${p.libCpu.runs} library starts (\`node --cpu-prof\`, 100 µs sampling)`);
    out.push('');
    out.push(`JavaScript-visible time under \`exec()\`: ${fmt(p.libCpu.withinMs)} ms of ${fmt(p.libCpu.totalMs)} ms sampled (${fmt(p.libCpu.withinMs / p.libCpu.runs)} ms per start; the native spawn's wait for the child counts under \`spawn\`).`);
    out.push('');
    out.push(table(['function (inclusive, @ns code)', 'ms', 'per start ms'], p.libCpu.inclusiveOurs.map((x) => [x.name, fmt(x.ms), fmt(x.ms / p.libCpu.runs)])));
    out.push('');
    out.push(table(['function (self time, under exec())', 'ms', 'per start ms'], p.libCpu.self.map((x) => [x.name, fmt(x.ms), fmt(x.ms / p.libCpu.runs)])));
    out.push('');
  }
  if (p?.execInCpu) {
    out.push(`### V8 CPU profile of ${p.execInCpu.runs} library execIn calls`);
    out.push('');
    out.push(table(['function (inclusive, @ns code)', 'ms', 'per call ms'], p.execInCpu.inclusiveOurs.map((x) => [x.name, fmt(x.ms), fmt(x.ms / p.execInCpu.runs)])));
    out.push('');
  }
  const straceTable = (s, title, note, { time = true } = {}) => {
    if (!s) return;
    out.push(`### ${title}`);
    out.push('');
    if (note) out.push(note, '');
    if (time) {
      out.push(table(['syscall', 'calls', 'per start', 'errors', 'µs per start'], s.rows.map((x) => [x.syscall, String(x.calls), fmt(x.calls / s.runs), String(x.errors), fmt((x.seconds * 1e6) / s.runs)])));
    } else {
      out.push(table(['syscall', 'calls', 'errors'], s.rows.map((x) => [x.syscall, String(x.calls), String(x.errors)])));
    }
    out.push('');
  };
  straceTable(p?.libStraceMain, `System calls of Node's main thread, ${p?.libStraceMain?.runs} library starts (\`strace -c\`, children not followed)`, 'What the parent side of `exec()` asks of the kernel per start (µs is system time).');
  straceTable(p?.execInStraceMain, `System calls of Node's main thread, ${p?.execInStraceMain?.runs} library execIn calls (\`strace -c\`)`);
  straceTable(p?.floorStrace, `The C floor, ${p?.floorStrace?.runs} starts (\`strace -f -c -w\`: wall time per call, children included)`);
  straceTable(p?.libStraceAll, `The library, ${p?.libStraceAll?.runs} starts (\`strace -f -c -w\`, children and Node's threads included)`);
  if (p?.floorVariants) {
    out.push('### The floor without parts of the work (medians, ms)');
    out.push('');
    out.push(table(['variant', 'clone(2) call ms', 'clone → execve ms', 'start + wait ms'], Object.entries(p.floorVariants).map(([k, v]) => [k, fmt(v.clone), fmt(v.exec), fmt(v.total)])));
    out.push('');
  }
  if (p?.floorPerf) {
    out.push(`### Kernel profile of the C floor (\`perf record -e cpu-clock -g\`, ${p.floorPerf.runs} starts)`);
    out.push('');
    out.push(
      table(
        ['kernel function (inclusive, ≥ 4%)', 'children %', 'self %'],
        p.floorPerf.inclusive.filter((x) => !/^0x/.test(x.symbol)).map((x) => [x.symbol, fmt(x.children), fmt(x.self)]),
      ),
    );
    out.push('');
  }
  if (p?.cliCpu) {
    out.push('### One `ns run` process (`node --cpu-prof`, median of 5 by sampled time)');
    out.push('');
    out.push(`${fmt(p.cliCpu.totalMs)} ms of JavaScript-visible time, by origin (self time of the innermost frame with a known origin):`);
    out.push('');
    out.push(table(['origin', 'ms'], p.cliCpu.byOrigin.map((x) => [x.name, fmt(x.ms)])));
    out.push('');
    out.push(table(['function (self)', 'ms'], p.cliCpu.self.map((x) => [x.name, fmt(x.ms)])));
    out.push('');
  }
  if (p?.imports) {
    out.push('### Loading each layer in a fresh process (whole processes, each line includes its dependencies)');
    out.push('');
    const base = p.imports.find((x) => x.label === 'node -e 0')?.median ?? 0;
    out.push(table(['command', 'median ms', 'p95 ms', 'over node -e 0 ms'], p.imports.map((x) => [x.label, fmt(x.median), fmt(x.p95), x.label === 'node -e 0' ? '' : fmt(x.median - base)])));
    out.push('');
  }
  if (p?.cliFiles) {
    out.push(`### Files one \`ns run\` opens (JavaScript, JSON and addons; \`strace -e openat\`): ${p.cliFiles.total}`);
    out.push('');
    out.push(table(['package', 'files'], p.cliFiles.byPackage.map((x) => [x.name, String(x.count)])));
    out.push('');
  }
  straceTable(p?.cliStrace, 'System calls of one `ns run` (`strace -f -c`, all threads and the container)', null, { time: false });

  if (r.notes.length) {
    out.push('## Notes from this run');
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }

  out.push('## Method');
  out.push('');
  out.push(
    [
      '- **library exec() + wait()**: a warm Node process (`bench/inproc.mjs`) calls `exec(rootfsContainer(R, { args: [\'/bin/true\'] }), { stdio: \'inherit\' })` and awaits `wait()`, one after the other, after 20 warm-up runs.',
      '- **C floor, looped in-process**: `bench/out/floor loop N R`, run by the same worker between chunks of library runs: the same mounts, devices, masked paths, hostname, rlimit, capability drop and exec, with `clone(CLONE_VM)` and an exec pipe as @ns, without plan decoding or @ns\'s staging tmpfs. *clone → execve done* is the synchronous part (what `exec()` blocks for, at best); *clone(2) call alone* is namespace creation in the parent.',
      '- **Throughput**: N async workers each starting and awaiting containers until the level\'s count is reached; right after each level, one sequential C floor loop per core runs the same count side by side.',
      '- **Whole processes**: each command alone, from a shell-less `hyperfine -N` (or a spawnSync loop), in rounds (each command in turn, a few runs per round), warm-up runs in the first round. `unshare` makes the namespaces and mounts /proc but no /dev or /sys; `bwrap` as root without a user namespace; `runc`/`crun` get a bundle from `runc spec` with `terminal: false`, `args: [\'/bin/true\']`, root on R (writable), their own `--root` and an absolute `cgroupsPath` of their own (runc spec keeps only 3 capabilities). `ns run --bundle B` reads a config.json describing the container `ns run --rootfs R` starts (the library\'s default mounts, namespaces, masked and read-only paths), so the two rows differ only in where the config comes from.',
      '- **Exec-in**: a container started with the library (`runContainer`, detached, `/bin/sleep 3600`) in the default state store; `execIn(state, { args: [\'/bin/true\'] })`, `nsenter -t PID -m -u -i -n -p /bin/true`, `floor execin-loop` (setns into the same namespaces, then a CLONE_PARENT clone and exec), `ns exec` when the CLI has it, and `runc exec` into a `runc run -d` container.',
      '- **Memory**: `process.memoryUsage()` of the worker every N runs; peak RSS with GNU time `%M`.',
      '- **Profiles**: `node --cpu-prof` (100 µs), `strace -c` (main thread only, or `-f -w` for wall time per call with children), `perf record -e cpu-clock -g` of the floor.',
    ].join('\n'),
  );
  out.push('');
  return out.join('\n');
}
