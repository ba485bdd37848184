/**
 * Shape checks of `linux.resources` (config-linux.md "Control groups"), before anything is
 * converted or created. Hand-written rather than a zod schema: they run on every container
 * start, and loading zod costs ~70 ms, far above the cgroup set-up budget (~0.5 ms). A bad
 * field throws ERR_NS_CONFIG naming its JSON path and what was expected. Objects are loose:
 * unknown fields are ignored, as in @ns/namespaces' config.json schema.
 */
import { configError } from './errors.js';
import type { LinuxResources } from './types.js';

const RESOURCES = 'linux.resources';

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The largest value of an OCI int64 field as a JSON number: 2^63-1 reads as 2^63 (written back
 * as 2^63-1 by num()). Past it a value is no int64 (it wrapped modulo 2^64 when written).
 */
const INT64_MAX = 2 ** 63;

/** An integer JSON number (beyond 2^53 it loses precision but stays an integer). */
function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function int(o: Obj, key: string, path: string, min: number, max = INT64_MAX, what?: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (!isInt(v) || v < min || v > max) {
    const range = what ?? (max === INT64_MAX ? `an integer >= ${min}` : `an integer in ${min}..${max}`);
    throw configError(`${path}.${key}`, `expected ${range}${isInt(v) && v > max && max === INT64_MAX ? ' (at most 2^63-1)' : ''}, got ${JSON.stringify(v)}`);
  }
}

function bool(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v !== undefined && typeof v !== 'boolean') throw configError(`${path}.${key}`, `expected a boolean, got ${JSON.stringify(v)}`);
}

function object(v: unknown, path: string): Obj {
  if (!isObject(v)) throw configError(path, `expected an object, got ${JSON.stringify(v)}`);
  return v;
}

function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw configError(path, `expected an array, got ${JSON.stringify(v)}`);
  return v;
}

/** uint32 maximum (classID, priorities, rdma counts). */
const U32 = 0xffff_ffff;

/** A cpuset list: `0-3,7`; the empty string means unset. */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** Check a `cpus`/`mems` list: syntax and ascending ranges. */
function cpuList(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (typeof v !== 'string') throw configError(`${path}.${key}`, `expected a string like "0-3,7", got ${JSON.stringify(v)}`);
  if (v === '') return;
  if (!CPU_LIST.test(v)) throw configError(`${path}.${key}`, `expected a list like "0-3,7", got ${JSON.stringify(v)}`);
  for (const part of v.split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    if (hi !== undefined && lo !== undefined && hi < lo) throw configError(`${path}.${key}`, `range ${part} goes backwards`);
  }
}

function devices(v: unknown, path: string): void {
  array(v, path).forEach((entry, i) => {
    const p = `${path}[${i}]`;
    const d = object(entry, p);
    if (typeof d.allow !== 'boolean') throw configError(`${p}.allow`, `expected a boolean (required), got ${JSON.stringify(d.allow)}`);
    if (d.type !== undefined && !(typeof d.type === 'string' && ['a', 'b', 'c'].includes(d.type))) {
      throw configError(`${p}.type`, `expected "a", "b" or "c", got ${JSON.stringify(d.type)}`);
    }
    // -1 is the wildcard runc uses internally; accept it as "unset".
    int(d, 'major', p, -1, U32);
    int(d, 'minor', p, -1, U32);
    if (d.access !== undefined && !(typeof d.access === 'string' && /^[rwm]+$/.test(d.access))) {
      throw configError(`${p}.access`, `expected a combination of r, w and m, got ${JSON.stringify(d.access)}`);
    }
  });
}

function memory(v: unknown, path: string): void {
  const m = object(v, path);
  for (const key of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP']) int(m, key, path, -1, INT64_MAX, 'bytes (an integer >= -1, -1 for unlimited)');
  int(m, 'swappiness', path, 0, 100);
  for (const key of ['disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) bool(m, key, path);
  const { limit, swap } = m as { limit?: number; swap?: number };
  if (limit !== undefined && swap !== undefined && limit > 0 && swap > 0 && swap < limit) {
    throw configError(`${path}.swap`, `memory+swap limit ${swap} is below the memory limit ${limit} (swap counts memory plus swap)`);
  }
}

function cpu(v: unknown, path: string): void {
  const c = object(v, path);
  int(c, 'shares', path, 0);
  int(c, 'quota', path, -1, INT64_MAX, 'microseconds (an integer >= -1, -1 for unlimited)');
  int(c, 'burst', path, 0);
  int(c, 'period', path, 0);
  int(c, 'realtimeRuntime', path, -1);
  int(c, 'realtimePeriod', path, 0);
  int(c, 'idle', path, 0, 1, '0 or 1');
  cpuList(c, 'cpus', path);
  cpuList(c, 'mems', path);
  const { quota, burst } = c as { quota?: number; burst?: number };
  if (burst !== undefined && quota !== undefined && quota > 0 && burst > quota) {
    throw configError(`${path}.burst`, `burst ${burst} is larger than quota ${quota}`);
  }
}

function device(d: Obj, p: string): void {
  for (const key of ['major', 'minor']) {
    if (d[key] === undefined) throw configError(`${p}.${key}`, 'required');
    int(d, key, p, 0, U32);
  }
}

/** blkio weights: 10..1000 (0 = unset, as runc). */
function weight(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v === undefined || v === 0) return;
  int(o, key, path, 10, 1000);
}

function blockIO(v: unknown, path: string): void {
  const b = object(v, path);
  weight(b, 'weight', path);
  weight(b, 'leafWeight', path);
  if (b.weightDevice !== undefined) {
    array(b.weightDevice, `${path}.weightDevice`).forEach((entry, i) => {
      const p = `${path}.weightDevice[${i}]`;
      const d = object(entry, p);
      device(d, p);
      weight(d, 'weight', p);
      weight(d, 'leafWeight', p);
      if (!d.weight && !d.leafWeight) throw configError(p, 'needs weight or leafWeight');
    });
  }
  for (const key of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice']) {
    if (b[key] === undefined) continue;
    array(b[key], `${path}.${key}`).forEach((entry, i) => {
      const p = `${path}.${key}[${i}]`;
      const d = object(entry, p);
      device(d, p);
      if (d.rate === undefined) throw configError(`${p}.rate`, 'required');
      int(d, 'rate', p, 0);
    });
  }
}

function hugepageLimits(v: unknown, path: string): void {
  array(v, path).forEach((entry, i) => {
    const p = `${path}[${i}]`;
    const h = object(entry, p);
    if (typeof h.pageSize !== 'string' || !/^[1-9]\d*[KMGT]B$/.test(h.pageSize)) {
      throw configError(`${p}.pageSize`, `expected a size like "2MB" or "1GB", got ${JSON.stringify(h.pageSize)}`);
    }
    if (h.limit === undefined) throw configError(`${p}.limit`, 'required');
    int(h, 'limit', p, 0);
  });
}

function network(v: unknown, path: string): void {
  const n = object(v, path);
  int(n, 'classID', path, 0, U32);
  if (n.priorities === undefined) return;
  array(n.priorities, `${path}.priorities`).forEach((entry, i) => {
    const p = `${path}.priorities[${i}]`;
    const e = object(entry, p);
    if (typeof e.name !== 'string' || !/^[^\s/]+$/.test(e.name)) throw configError(`${p}.name`, `expected an interface name, got ${JSON.stringify(e.name)}`);
    if (e.priority === undefined) throw configError(`${p}.priority`, 'required');
    int(e, 'priority', p, 0, U32);
  });
}

function rdma(v: unknown, path: string): void {
  for (const [name, entry] of Object.entries(object(v, path))) {
    const p = `${path}[${JSON.stringify(name)}]`;
    if (!/^[^\s=]+$/.test(name)) throw configError(p, 'expected an RDMA device name (no spaces or "=")');
    const e = object(entry, p);
    int(e, 'hcaHandles', p, 0, U32);
    int(e, 'hcaObjects', p, 0, U32);
    if (e.hcaHandles === undefined && e.hcaObjects === undefined) throw configError(p, 'needs hcaHandles or hcaObjects');
  }
}

function unified(v: unknown, path: string): void {
  for (const [key, value] of Object.entries(object(v, path))) {
    const p = `${path}[${JSON.stringify(key)}]`;
    if (key.includes('/') || key.includes('\0')) throw configError(p, 'the key must be a file name without "/"');
    if (!/^[a-z0-9_]+\.[^.]/.test(key)) throw configError(p, 'the key must have the form CONTROLLER.FILE (e.g. "memory.high")');
    if (typeof value !== 'string') throw configError(p, `expected a string, got ${JSON.stringify(value)}`);
  }
}

/**
 * Check the shape of a `linux.resources` object (config-linux.md "Control groups"): types,
 * integer ranges (memory bytes >= -1, swappiness 0..100, blkio weights 10..1000, uint32 ids),
 * cpuset list syntax, device rule types and access strings, `unified` keys of the form
 * CONTROLLER.FILE. Unknown fields are ignored.
 *
 * @param resources the value of `linux.resources` (anything: it is what is being checked)
 * @param path the JSON path of that value in error messages (default `linux.resources`)
 * @returns the same object, typed
 * @throws CgroupError `ERR_NS_CONFIG` naming the first bad field (`linux.resources.memory.limit: ...`)
 */
export function validateResources(resources: unknown, path = RESOURCES): LinuxResources {
  const r = object(resources, path);
  if (r.devices !== undefined) devices(r.devices, `${path}.devices`);
  if (r.memory !== undefined) memory(r.memory, `${path}.memory`);
  if (r.cpu !== undefined) cpu(r.cpu, `${path}.cpu`);
  if (r.pids !== undefined) {
    const p = object(r.pids, `${path}.pids`);
    if (p.limit === undefined) throw configError(`${path}.pids.limit`, 'required');
    int(p, 'limit', `${path}.pids`, -INT64_MAX, INT64_MAX, 'an integer (-1 for unlimited)');
  }
  if (r.blockIO !== undefined) blockIO(r.blockIO, `${path}.blockIO`);
  if (r.hugepageLimits !== undefined) hugepageLimits(r.hugepageLimits, `${path}.hugepageLimits`);
  if (r.network !== undefined) network(r.network, `${path}.network`);
  if (r.rdma !== undefined) rdma(r.rdma, `${path}.rdma`);
  if (r.unified !== undefined) unified(r.unified, `${path}.unified`);
  return r as LinuxResources;
}

/** A JSON integer as the decimal text cgroup files take (no `1e+21` for big values). */
export function num(n: number): string {
  if (n >= INT64_MAX) return '9223372036854775807';
  return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
}
