// `ns exec --process FILE` (commands/exec-process.ts): an OCI process object as the process;
// what exec cannot set for one process is refused unless it is the container's own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processFromFile } from '../src/commands/exec-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-exec-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (json: unknown) => {
  const f = join(dir, `p${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(json));
  return f;
};
const RL = [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }];

describe('processFromFile', () => {
  it('maps args, env, cwd, user, groups, terminal, no_new_privs and the smallest capability set', () => {
    const p = processFromFile(file({ args: ['sh'], env: ['A=1'], cwd: '/w', user: { uid: 5, gid: 6, additionalGids: [7] }, terminal: true, noNewPrivileges: true, capabilities: { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'] } }), null);
    expect(p).toEqual({ args: ['sh'], env: ['A=1'], cwd: '/w', user: '5:6', additionalGids: [7], terminal: true, noNewPrivileges: true, capabilities: ['CAP_KILL'] });
  });

  it("accepts the container's own rlimits and OOM score, refuses others and an AppArmor profile", () => {
    expect(processFromFile(file({ args: ['sh'], rlimits: RL, oomScoreAdj: 100 }), null, { rlimits: RL, oomScoreAdj: 100 }).args).toEqual(['sh']);
    expect(() => processFromFile(file({ args: ['sh'], rlimits: RL }), null, {})).toThrow(/process\.rlimits: not applied/);
    expect(() => processFromFile(file({ args: ['sh'], oomScoreAdj: 5 }), null, { oomScoreAdj: 100 })).toThrow(/process\.oomScoreAdj/);
    expect(() => processFromFile(file({ args: ['sh'], apparmorProfile: 'x' }), null, {})).toThrow(/process\.apparmorProfile/);
  });

  it('takes scheduler and ioPriority (in place of the container\'s, as runc exec), checked naming the JSON path', () => {
    const p = processFromFile(file({ args: ['sh'], scheduler: { policy: 'SCHED_RR', priority: 9 }, ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 } }), null);
    expect(p).toMatchObject({ scheduler: { policy: 'SCHED_RR', priority: 9 }, ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 } });
    expect(() => processFromFile(file({ args: ['sh'], scheduler: { policy: 'SCHED_OTHER', priority: 9 } }), null)).toThrow(/^--process .*: process\.scheduler\.priority: only SCHED_FIFO and SCHED_RR take a priority/);
    expect(() => processFromFile(file({ args: ['sh'], ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 9 } }), null)).toThrow(/^--process .*: process\.ioPriority\.priority: expected an integer 0\.\.7, got 9$/);
  });

  it('names the file and the JSON path of a bad field, and a file that is not JSON', () => {
    expect(() => processFromFile(file({ args: [1] }), null)).toThrow(/^--process .*: process\.args\[0\]: expected string/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{');
    expect(() => processFromFile(bad, null)).toThrow(/^--process .*bad\.json: /);
    expect(() => processFromFile('rel.json', null)).toThrow(/relative path/);
  });
});
