/**
 * Fake cgroupfs trees for the manager's unit tests: a v1 host (every v1 controller, cpu and
 * cpuacct co-mounted), a hybrid one (the same plus a cgroup2 mount) and a v2 one, under /fake,
 * with the files a real kernel puts in a new cgroup directory.
 */
import { dirname } from 'node:path';
import { layoutFromMountInfo, type CgroupLayout } from '../../src/layout.js';
import { FakeSys } from './fake-sys.js';

const V1_MOUNTS: Array<[string, string]> = [
  ['/fake/cpu,cpuacct', 'cpu,cpuacct'],
  ['/fake/cpuset', 'cpuset'],
  ['/fake/memory', 'memory'],
  ['/fake/devices', 'devices'],
  ['/fake/freezer', 'freezer'],
  ['/fake/blkio', 'blkio'],
  ['/fake/pids', 'pids'],
  ['/fake/hugetlb', 'hugetlb'],
  ['/fake/net_cls,net_prio', 'net_cls,net_prio'],
];
const UNLIMITED = '9223372036854771712';

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': UNLIMITED,
    'memory.memsw.limit_in_bytes': UNLIMITED,
    'memory.soft_limit_in_bytes': UNLIMITED,
    'memory.kmem.limit_in_bytes': UNLIMITED,
    'memory.kmem.tcp.limit_in_bytes': UNLIMITED,
    'memory.swappiness': '60',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.use_hierarchy': '1',
    'memory.usage_in_bytes': '0',
    'memory.max_usage_in_bytes': '0',
    'memory.memsw.usage_in_bytes': '0',
    'memory.failcnt': '0',
    'memory.stat': 'cache 0\nrss 0\n',
  },
  cpu: {
    'cpu.shares': '1024',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '-1',
    'cpu.cfs_burst_us': '0',
    'cpu.rt_period_us': '1000000',
    'cpu.rt_runtime_us': '0',
    'cpu.idle': '0',
    'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
    'cpuacct.usage': '0',
    'cpuacct.stat': 'user 0\nsystem 0\n',
  },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
  freezer: { 'freezer.state': 'THAWED' },
  blkio: {
    'blkio.bfq.weight': '100',
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
  },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  hugetlb: { 'hugetlb.2MB.limit_in_bytes': UNLIMITED },
  net_cls: { 'net_cls.classid': '0', 'net_prio.ifpriomap': '' },
};

const V2_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.max': 'max',
    'memory.swap.max': 'max',
    'memory.low': '0',
    'memory.high': 'max',
    'memory.current': '0',
    'memory.peak': '0',
    'memory.swap.current': '0',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
    'memory.stat': 'anon 0\nfile 0\n',
  },
  cpu: { 'cpu.max': 'max 100000', 'cpu.max.burst': '0', 'cpu.weight': '100', 'cpu.idle': '0', 'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  io: { 'io.weight': 'default 100', 'io.max': '' },
  hugetlb: { 'hugetlb.2MB.max': 'max' },
};

export interface FakeHost {
  sys: FakeSys;
  layout: CgroupLayout;
}

function v2Template(sys: FakeSys, dir: string): Record<string, string> {
  const controllers = (sys.files.get(`${dirname(dir)}/cgroup.subtree_control`) ?? '').split(/\s+/).filter(Boolean);
  const files: Record<string, string> = {
    'cgroup.procs': '',
    'cgroup.controllers': controllers.join(' '),
    'cgroup.subtree_control': '',
    'cgroup.freeze': '0',
    'cgroup.events': 'populated 0\nfrozen 0\n',
    'cgroup.kill': '',
    'cgroup.max.descendants': 'max',
  };
  for (const c of controllers) Object.assign(files, V2_FILES[c] ?? {});
  return files;
}

/** The kernel's side of subtree_control writes: "+a +b" adds, "-a" removes. */
function subtreeControl(sys: FakeSys, path: string, value: string, old: string): void {
  if (!path.endsWith('/cgroup.subtree_control')) return;
  const avail = (sys.files.get(`${dirname(path)}/cgroup.controllers`) ?? '').split(/\s+/);
  const prev = new Set(old.split(/\s+/).filter(Boolean));
  for (const tok of value.split(/\s+/)) {
    if (tok.startsWith('+') && avail.includes(tok.slice(1))) prev.add(tok.slice(1));
    if (tok.startsWith('-')) prev.delete(tok.slice(1));
  }
  sys.files.set(path, [...prev].join(' '));
}

/** A v1 host (legacy), or with `hybrid` also a cgroup2 mount at /fake/unified offering `v2Controllers`. */
export function fakeV1(options: { hybrid?: boolean; v2Controllers?: string[] } = {}): FakeHost {
  const sys = new FakeSys();
  const lines = V1_MOUNTS.map(([mp, opts], i) => `${i + 1} 1 0:${i} / ${mp} rw - cgroup cgroup rw,${opts}`);
  for (const [mp, opts] of V1_MOUNTS) {
    sys.addDir(mp);
    sys.files.set(`${mp}/cgroup.procs`, '1\n');
    if (opts === 'cpuset') {
      sys.files.set(`${mp}/cpuset.cpus`, '0-3');
      sys.files.set(`${mp}/cpuset.mems`, '0');
    }
  }
  const v2 = options.v2Controllers ?? ['hugetlb'];
  if (options.hybrid) {
    lines.push('50 1 0:50 / /fake/unified rw - cgroup2 cgroup2 rw');
    sys.addDir('/fake/unified');
    sys.files.set('/fake/unified/cgroup.procs', '1\n');
    sys.files.set('/fake/unified/cgroup.controllers', v2.join(' '));
    sys.files.set('/fake/unified/cgroup.subtree_control', '');
  }
  sys.template = (dir) => {
    if (dir.startsWith('/fake/unified/')) return v2Template(sys, dir);
    const mount = V1_MOUNTS.find(([mp]) => dir.startsWith(`${mp}/`))!;
    const kind = mount[1].split(',')[0]!;
    return { 'cgroup.procs': '', ...V1_FILES[kind] };
  };
  sys.onWrite = (path, value, old) => subtreeControl(sys, path, value, old);
  return { sys, layout: layoutFromMountInfo(lines.join('\n'), options.hybrid ? v2 : []) };
}

/** A v2-only host at /fake/v2 whose root offers and enables `controllers`; the runtime lives in /fake/v2/init.scope. */
export function fakeV2(controllers = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids']): FakeHost {
  const sys = new FakeSys();
  sys.addDir('/fake/v2/init.scope');
  sys.files.set('/fake/v2/cgroup.procs', '');
  sys.files.set('/fake/v2/cgroup.controllers', controllers.join(' '));
  sys.files.set('/fake/v2/cgroup.subtree_control', controllers.join(' '));
  sys.files.set('/fake/v2/init.scope/cgroup.procs', '1\n');
  sys.template = (dir) => v2Template(sys, dir);
  sys.onWrite = (path, value, old) => subtreeControl(sys, path, value, old);
  return { sys, layout: layoutFromMountInfo('30 24 0:26 / /fake/v2 rw - cgroup2 cgroup2 rw', controllers) };
}
