/**
 * The opencontainers runtime-tools validation programs against this tree's `ns`
 * (scripts/runtime-tools.sh; docs/conformance.md has the table of every program). Runs the
 * programs that pass here when they are built (RUNTIME_TOOLS_DIR, default /tmp/runtime-tools:
 * `scripts/runtime-tools.sh build SRC`); skips, saying why, when they are not (CI has no
 * network to fetch them). As root, on the busybox test rootfs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = process.env.RUNTIME_TOOLS_DIR ?? '/tmp/runtime-tools';

/** The programs ns passes on a host like this project's (the others: docs/conformance.md). */
const PASSING = [
  'config_updates_without_affect', 'create', 'default', 'delete_only_create_resources', 'hostname', 'kill', 'kill_no_effect', 'killsig',
  'linux_cgroups_cpus', 'linux_cgroups_relative_cpus', 'linux_devices', 'linux_masked_paths', 'linux_ns_nopath', 'linux_ns_path_type',
  'linux_readonly_paths', 'linux_rootfs_propagation', 'linux_seccomp', 'linux_sysctl', 'linux_uid_mappings', 'mounts',
  'poststart', 'poststart_fail', 'poststop', 'poststop_fail', 'prestart_fail', 'process', 'process_oom_score_adj',
  'process_rlimits_fail', 'process_user', 'root_readonly_true', 'state',
];

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!process.env.NS_TEST_ROOTFS) return 'NS_TEST_ROOTFS is not set';
  if (!existsSync(join(DIR, 'runtimetest'))) return `runtime-tools is not built in ${DIR} (scripts/runtime-tools.sh build SRC, from github.com/opencontainers/runtime-tools)`;
  const missing = PASSING.filter((p) => !existsSync(join(DIR, 'validation', p, `${p}.t`)));
  if (missing.length > 0) return `validation programs missing in ${DIR}: ${missing.join(', ')}`;
  return null;
}

const reason = skipReason();

describe.skipIf(reason !== null)(`runtime-tools validation${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('every program ns passes here still passes', () => {
    const r = spawnSync('bash', [join(REPO, 'scripts/runtime-tools.sh'), 'run', ...PASSING], {
      encoding: 'utf8',
      env: { ...process.env, RUNTIME_TOOLS_DIR: DIR, RT_TIMEOUT: '120' },
      timeout: 900_000,
    });
    const lines = r.stdout.split('\n').filter((l) => /^(not )?ok /.test(l));
    expect(lines.filter((l) => l.startsWith('not ok')), r.stdout + r.stderr).toEqual([]);
    expect(lines).toHaveLength(PASSING.length);
    expect(r.status).toBe(0);
  }, 900_000);
});
