/**
 * The cgroup that accounts for one run. The container gets its own cgroup with the limits
 * (`resources`, made and removed by @ns/namespaces) one level below this one:
 *
 *     <parent>/<run id>        this file: no limits, read during and after the run
 *     <parent>/<run id>/box    the container's, with the limits, removed when it exits
 *
 * A parent cgroup's counters include its children's, also once they are removed (v1
 * cpuacct charges every ancestor, v1 memory counters are hierarchical, v2 cpu.stat and
 * memory.peak are recursive), so the run's cpu time and peak memory are read here after the
 * container's own cgroup is gone, and everything still in it (nothing should be) is killed
 * when it is destroyed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroup, parseKeyValues, readOomKills } from '@ns/cgroups';
import { claimCgroup, hostCgroupLayout } from '@ns/namespaces';

/** What is read of the run at its end. */
export interface Usage {
  /** user + system CPU time, ns. */
  cpuNs: number;
  /** Peak memory, bytes (0 when the host does not say). */
  peakBytes: number;
  /** Processes the OOM killer killed below this cgroup. */
  oomKills: number;
}

/** The accounting cgroup of one run (see the module note). */
export class RunCgroup {
  readonly path: string;
  private readonly cg: Cgroup;
  private readonly cpuFile: { file: string; v2: boolean } | null;
  private readonly peakFile: string | null;
  private readonly release: () => void;

  private constructor(path: string, cg: Cgroup, release: () => void) {
    this.path = path;
    this.cg = cg;
    this.release = release;
    const { v1, unified } = cg.dirs;
    this.cpuFile = v1.cpuacct !== undefined ? { file: join(v1.cpuacct, 'cpuacct.usage'), v2: false } : unified !== undefined ? { file: join(unified, 'cpu.stat'), v2: true } : null;
    this.peakFile = v1.memory !== undefined ? join(v1.memory, 'memory.max_usage_in_bytes') : unified !== undefined ? join(unified, 'memory.peak') : null;
  }

  /**
   * Make the run's cgroup at `path` (no limits, no device rules; on v1 only in the memory,
   * pids, cpuacct and freezer hierarchies). It is claimed first (@ns/namespaces claimCgroup()):
   * if this process is killed before destroy(), the next cgroup an ns process makes removes it.
   * @throws CgroupError (errno code or `ERR_NS_STATE`) when it cannot be made
   */
  static create(path: string): RunCgroup {
    const release = claimCgroup(path);
    try {
      return new RunCgroup(path, Cgroup.create(path, {}, { layout: hostCgroupLayout(), devices: false, hierarchies: 'needed' }), release);
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The container's cgroup path, one level below. */
  get boxPath(): string {
    return `${this.path}/box`;
  }

  /** CPU time used so far by every process of the run, ns (one file read; 0 when unreadable). */
  cpuNs(): number {
    if (!this.cpuFile) return 0;
    try {
      const text = readFileSync(this.cpuFile.file, 'utf8');
      return this.cpuFile.v2 ? (parseKeyValues(text).usage_usec ?? 0) * 1000 : Number(text.trim()) || 0;
    } catch {
      return 0;
    }
  }

  /**
   * CPU time, peak memory (v1 memory.max_usage_in_bytes, v2 memory.peak: 0 before Linux 5.19,
   * which lacks it) and OOM kills of the run so far: three file reads, never throws.
   */
  usage(): Usage {
    let peakBytes = 0;
    try {
      if (this.peakFile !== null) peakBytes = Number(readFileSync(this.peakFile, 'utf8').trim()) || 0;
    } catch {
      // no memory controller here, or a kernel without memory.peak
    }
    return { cpuNs: this.cpuNs(), peakBytes, oomKills: readOomKills(this.cg.dirs, this.cg.sys) };
  }

  /**
   * Kill whatever is left in it and below, and remove it from every hierarchy it is in
   * (including those the container's cgroup made levels in, as devices on v1).
   * @throws CgroupError `ERR_NS_STATE` when it is still busy after `timeoutMs`
   */
  async destroy(timeoutMs = 5000): Promise<void> {
    await Cgroup.open(this.path, { layout: hostCgroupLayout() }).destroy(timeoutMs);
    this.release();
  }
}
