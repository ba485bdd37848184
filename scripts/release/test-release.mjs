#!/usr/bin/env node
// End-to-end release test: the packages as users get them, from a registry, on a machine with
// no compiler. Runs the real release flow against Verdaccio on 127.0.0.1:
//
//  1. stage a copy of the working tree (git's tracked and untracked, non-ignored files) and
//     build it from clean there: pnpm install --offline, pnpm -r build, the linux-x64 prebuild
//     (plus linux-arm64 when aarch64-linux-gnu-g++ is on PATH);
//  2. lint the tarballs (pack-lib.mjs: file lists, ranges, publint, attw);
//  3. `changeset version` (the pending changesets bump the versions) and `changeset publish`
//     (pnpm publish of each package: workspace:^ becomes ^x.y.z) to a Verdaccio started here
//     with a scratch storage; @ns/* is local only, everything else is proxied to the registry
//     npm is configured with;
//  4. in fresh folders whose .npmrc names only that Verdaccio, with PATH holding only node,
//     npm, npx, sh and readlink (no cc, gcc, g++, make, python3):
//       npm install @ns/namespaces, then a 5-line script starts a container that prints ok;
//       npx @ns/cli run -- /bin/sh -c 'echo ok' prints ok;
//       npm install @ns/cli: its `ns` runs the native front (ns-front from the prebuilds);
//       npm install @ns/capabilities installs that package alone (no native addon).
//
// Needs root (containers), the npm registry (Verdaccio proxies zod, commander ... from it),
// and Node's headers for the build. Cleans up on success and failure: Verdaccio is stopped by
// the pid this script started, temp folders are removed (--keep leaves them for a look).
//
//   node scripts/release/test-release.mjs [--keep] [--no-arm64]
// The last line is `test-release: N passed, M failed`.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PACKAGES, ROOT, attwProblems, packPackage, publintProblems, tarballProblems } from './pack-lib.mjs';

const argv = process.argv.slice(2);
const KEEP = argv.includes('--keep');
const ARM64 = !argv.includes('--no-arm64') && which('aarch64-linux-gnu-g++') !== null;
const t0 = Date.now();

const work = mkdtempSync(join(tmpdir(), 'ns-release-'));
const results = [];
let verdaccio;

function log(msg) {
  process.stderr.write(`test-release [${((Date.now() - t0) / 1000).toFixed(1)}s]: ${msg}\n`);
}
function check(name, ok, detail = '') {
  results.push({ name, ok });
  process.stderr.write(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}\n`);
  return ok;
}
function which(cmd, path = process.env.PATH ?? '') {
  for (const dir of path.split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

/** The caller's environment without what pnpm/npm put there for a running script. */
function baseEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|PNPM_|INIT_CWD$|NODE_OPTIONS$|VITEST|TURBO_)/.test(k) && k !== 'npm_config_nodedir') continue;
    env[k] = v;
  }
  env.npm_config_nodedir ??= dirname(dirname(process.execPath));
  return { ...env, TURBO_TELEMETRY_DISABLED: '1', npm_config_update_notifier: 'false', ...extra };
}

/** Run a command; its output goes to a log file, shown (tail) when it fails. */
function run(label, cmd, args, { cwd, env = baseEnv(), allowFail = false, timeout = 600_000 } = {}) {
  log(`${label}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  writeFileSync(join(work, `${label.replace(/[^\w.-]+/g, '_')}.log`), out);
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${label} failed (exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''}):\n${out.split('\n').slice(-40).join('\n')}`);
  }
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', out };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** 1. A copy of the working tree, without node_modules, dist, build, prebuilds ... */
function stage() {
  const copy = join(work, 'repo');
  const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (ls.status !== 0) throw new Error(`git ls-files failed: ${ls.stderr}`);
  const files = ls.stdout.split('\0').filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(ROOT, f))) continue; // deleted in the working tree
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(ROOT, f), join(copy, f));
  }
  log(`staged ${files.length} files in ${copy}`);
  return copy;
}

async function startVerdaccio(port, upstream) {
  const dir = join(work, 'verdaccio');
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      '    max_users: 10',
      'uplinks:',
      '  upstream:',
      `    url: ${upstream}`,
      '    timeout: 60s',
      'packages:',
      "  '@ns/*':", // local only: never asks the public registry about @ns
      '    access: $all',
      '    publish: $authenticated',
      '    unpublish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      '    proxy: upstream',
      'web:',
      '  enable: false',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const bin = join(ROOT, 'node_modules/verdaccio/bin/verdaccio');
  if (!existsSync(bin)) throw new Error('verdaccio is not installed: run pnpm install (root devDependency)');
  const logFile = join(dir, 'verdaccio.log');
  const fd = openSync(logFile, 'a');
  verdaccio = spawn(process.execPath, [bin, '--config', config, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    env: baseEnv(),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  verdaccio.on('exit', (code, signal) => {
    if (verdaccio) verdaccio.exited = { code, signal };
  });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 150; i++) {
    if (verdaccio.exited) throw new Error(`verdaccio exited (${JSON.stringify(verdaccio.exited)}):\n${readFileSync(logFile, 'utf8')}`);
    try {
      const res = await fetch(`${url}-/ping`);
      if (res.ok) {
        log(`verdaccio ${verdaccio.pid} listening on ${url} (proxy for non-@ns packages: the configured npm registry)`);
        return url;
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`verdaccio did not answer on ${url} within 30 s:\n${readFileSync(logFile, 'utf8')}`);
}

async function stopVerdaccio() {
  if (!verdaccio || verdaccio.exited) return;
  const child = verdaccio;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
  log(`verdaccio ${child.pid} stopped`);
}

async function addUser(url) {
  const name = 'ns-release';
  const res = await fetch(`${url}-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: `pw-${process.pid}-${Date.now()}`, type: 'user', roles: [], date: new Date().toISOString() }),
  });
  const body = await res.json();
  if (!res.ok || !body.token) throw new Error(`verdaccio adduser: ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** A folder of symlinks: node, npm, npx, sh, readlink (the `ns` launcher resolves its npm bin link with it). Nothing that compiles. */
function bareBin() {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  const npm = which('npm');
  const npx = which('npx');
  if (!npm || !npx) throw new Error('npm/npx not on PATH');
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(realpathSync(npm), join(bin, 'npm'));
  symlinkSync(realpathSync(npx), join(bin, 'npx'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  const readlink = which('readlink');
  if (readlink) symlinkSync(readlink, join(bin, 'readlink'));
  return bin;
}

/** Environment of a user with only that registry and no compiler. */
function userEnv(bin, home) {
  return {
    PATH: bin,
    HOME: home,
    TMPDIR: join(work, 'tmp'),
    LANG: 'C.UTF-8',
    npm_config_userconfig: join(home, '.npmrc'),
    npm_config_globalconfig: join(home, 'npmrc-global'),
    npm_config_cache: join(home, '.npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
}

async function main() {
  // 1. Clean build of the current sources, in a copy.
  const copy = stage();
  const env = baseEnv();
  const installed = run('pnpm-install', 'pnpm', ['install', '--offline', '--frozen-lockfile'], { cwd: copy, allowFail: true });
  if (installed.status !== 0) run('pnpm-install-online', 'pnpm', ['install', '--frozen-lockfile'], { cwd: copy });
  run('build', 'pnpm', ['-r', 'run', 'build'], { cwd: copy });
  const targets = ARM64 ? ['linux-x64', 'linux-arm64'] : ['linux-x64'];
  run('prebuild', 'bash', [join(copy, 'scripts/release/prebuild.sh'), ...targets], { cwd: copy, env: { ...env, NS_NO_APT: '1' } });
  const syscallsDir = join(copy, 'packages/syscalls');
  rmSync(join(syscallsDir, 'build'), { recursive: true, force: true });
  check(`prebuilds made (${targets.join(', ')}), each with ns-front`, targets.every((t) => existsSync(join(syscallsDir, 'prebuilds', t, '@ns+syscalls.glibc.node')) && existsSync(join(syscallsDir, 'prebuilds', t, 'ns-front'))));

  // 2. The tarballs, as they will be published.
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  for (const p of PACKAGES) {
    const dir = join(copy, 'packages', p);
    const { tarball, entries, manifest } = packPackage(dir, packDir);
    const problems = [...tarballProblems(dir, entries, manifest), ...(await publintProblems(tarball)), ...attwProblems(tarball)];
    check(`${manifest.name}: tarball, publint, attw`, problems.length === 0, problems.join('; ') || `${entries.length} files`);
  }

  // 3. changeset version + changeset publish to Verdaccio.
  const before = Object.fromEntries(PACKAGES.map((p) => [p, JSON.parse(readFileSync(join(copy, 'packages', p, 'package.json'), 'utf8')).version]));
  const pending = readdirSync(join(copy, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
  run('changeset-version', join(copy, 'node_modules/.bin/changeset'), ['version'], { cwd: copy });
  const versions = Object.fromEntries(PACKAGES.map((p) => [p, JSON.parse(readFileSync(join(copy, 'packages', p, 'package.json'), 'utf8')).version]));
  log(`changeset version: ${PACKAGES.map((p) => `@ns/${p} ${before[p]} -> ${versions[p]}`).join(', ')}`);
  if (pending.length) check('changeset version bumped every package', PACKAGES.every((p) => versions[p] !== before[p]), JSON.stringify(versions));

  const upstream = run('npm-registry', 'npm', ['config', 'get', 'registry'], { cwd: ROOT }).stdout.trim();
  const port = await freePort();
  const url = await startVerdaccio(port, upstream);
  const token = await addUser(url);
  const hostPath = url.replace(/^http:/, '');
  writeFileSync(join(copy, '.npmrc'), `registry=${url}\n${hostPath}:_authToken=${token}\nupdate-notifier=false\n`);
  const pubEnv = baseEnv({
    npm_config_registry: url,
    NS_PREBUILDS_REQUIRED: targets.join(','),
    npm_config_userconfig: join(copy, '.npmrc'),
  });
  // The prepublishOnly guard: without prebuilds, publishing @ns/syscalls must refuse.
  renameSync(join(syscallsDir, 'prebuilds'), join(syscallsDir, 'prebuilds.off'));
  const guard = run('publish-without-prebuilds', 'pnpm', ['publish', '--dry-run', '--no-git-checks'], { cwd: syscallsDir, env: pubEnv, allowFail: true });
  renameSync(join(syscallsDir, 'prebuilds.off'), join(syscallsDir, 'prebuilds'));
  check('publishing @ns/syscalls without prebuilds is refused', guard.status !== 0 && /without its binaries/.test(guard.out));
  run('changeset-publish', join(copy, 'node_modules/.bin/changeset'), ['publish', '--no-git-tag'], { cwd: copy, env: pubEnv });
  for (const p of PACKAGES) {
    const res = await fetch(`${url}${encodeURIComponent(`@ns/${p}`).replace('%40', '@')}`);
    const doc = res.ok ? await res.json() : {};
    const v = doc.versions?.[versions[p]];
    check(`@ns/${p}@${versions[p]} is in the registry`, Boolean(v) && doc['dist-tags']?.latest === versions[p]);
    for (const [dep, range] of Object.entries(v?.dependencies ?? {})) {
      if (dep.startsWith('@ns/')) check(`  @ns/${p} depends on ${dep}@${range}`, range === `^${versions[dep.slice(4)]}`);
    }
    if (p === 'syscalls') check('  @ns/syscalls has no install script', !v?.scripts?.install && !v?.scripts?.preinstall && !v?.scripts?.postinstall, JSON.stringify(v?.scripts ?? {}));
  }

  // 4. A user's machine: only that registry, no compiler.
  const bin = bareBin();
  mkdirSync(join(work, 'tmp'));
  const home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.npmrc'), `registry=${url}\n`);
  writeFileSync(join(home, 'npmrc-global'), '');
  const uenv = userEnv(bin, home);
  const tools = spawnSync('/bin/sh', ['-c', 'for t in cc gcc g++ c++ clang make python3 python; do command -v $t; done'], { env: uenv, encoding: 'utf8' });
  check('no compiler, make or python on the user PATH', tools.stdout.trim() === '', tools.stdout.trim());

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, '.npmrc'), `registry=${url}\n`);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2));
  const inst = run('npm-install-namespaces', 'npm', ['install', '--no-audit', '--no-fund', '@ns/namespaces'], { cwd: app, env: uenv, allowFail: true });
  check('npm install @ns/namespaces (no compiler)', inst.status === 0, inst.status === 0 ? '' : inst.out.split('\n').slice(-20).join('\n'));
  check('  no node-gyp at install', !/gyp/i.test(inst.out));
  const sys = join(app, 'node_modules/@ns/syscalls');
  check('  @ns/syscalls installed with prebuilds/linux-x64 and no build/ or sources',
    existsSync(join(sys, 'prebuilds/linux-x64/@ns+syscalls.glibc.node')) && !existsSync(join(sys, 'build')) && !existsSync(join(sys, 'binding.gyp')) && !existsSync(join(sys, 'src')));
  const got = JSON.parse(readFileSync(join(sys, 'package.json'), 'utf8')).version;
  check(`  installed @ns/syscalls is ${versions.syscalls}`, got === versions.syscalls, got);
  writeFileSync(
    join(app, 'run.mjs'),
    [
      "import { exec, embeddedDefault } from '@ns/namespaces';",
      '',
      "const p = exec(embeddedDefault({ args: ['/bin/sh', '-c', 'echo ok'] }), { stdio: 'inherit' });",
      'const { exitCode } = await p.wait();',
      'process.exitCode = exitCode ?? 1;',
      '',
    ].join('\n'),
  );
  const ran = run('app-run', 'node', ['run.mjs'], { cwd: app, env: uenv, allowFail: true, timeout: 60_000 });
  check('a container from the installed @ns/namespaces prints ok', ran.status === 0 && ran.stdout === 'ok\n', JSON.stringify(ran.out));

  const npxDir = join(work, 'npx');
  mkdirSync(npxDir);
  writeFileSync(join(npxDir, '.npmrc'), `registry=${url}\n`);
  const npx = run('npx-cli', 'npx', ['--yes', '@ns/cli', 'run', '--', '/bin/sh', '-c', 'echo ok'], { cwd: npxDir, env: uenv, allowFail: true, timeout: 300_000 });
  check("npx @ns/cli run -- /bin/sh -c 'echo ok' prints ok", npx.status === 0 && npx.stdout.trim().split('\n').at(-1) === 'ok', JSON.stringify(npx.out.slice(-2000)));

  // The installed `ns` runs the native front from @ns/syscalls' prebuilds: a record-only
  // container (a front record for a process of this script, no state.json) reads through the
  // front as the record says, where Node would say it does not exist.
  const cliDir = join(work, 'cli');
  mkdirSync(cliDir);
  writeFileSync(join(cliDir, '.npmrc'), `registry=${url}\n`);
  writeFileSync(join(cliDir, 'package.json'), JSON.stringify({ name: 'cli', private: true }));
  const cliInst = run('npm-install-cli', 'npm', ['install', '--no-audit', '--no-fund', '@ns/cli'], { cwd: cliDir, env: uenv, allowFail: true });
  check('npm install @ns/cli', cliInst.status === 0, cliInst.out.split('\n').slice(-10).join('\n'));
  const frontFile = join(cliDir, 'node_modules/@ns/syscalls/prebuilds/linux-x64/ns-front');
  check('  ns-front installed in @ns/syscalls/prebuilds/linux-x64, executable', existsSync(frontFile) && (statSync(frontFile).mode & 0o111) !== 0);
  const sleeper = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
  try {
    const root = join(work, 'front-root');
    mkdirSync(join(root, 'probe'), { recursive: true });
    const startTime = readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    writeFileSync(join(root, 'probe', 'state.front'), `ns-front-record 1\npid ${sleeper.pid}\nstart-time ${startTime}\ntext alive 6\nfront\n\nend\n`);
    const st = run('ns-front-state', join(cliDir, 'node_modules/.bin/ns'), ['--root', root, 'state', 'probe'], { cwd: cliDir, env: uenv, allowFail: true });
    check('  the installed ns reads a front record through ns-front', st.status === 0 && st.stdout === 'front\n', JSON.stringify(st.out));
  } finally {
    sleeper.kill('SIGKILL');
  }

  const capsDir = join(work, 'caps');
  mkdirSync(capsDir);
  writeFileSync(join(capsDir, '.npmrc'), `registry=${url}\n`);
  writeFileSync(join(capsDir, 'package.json'), JSON.stringify({ name: 'caps', private: true, type: 'module' }));
  const ci = run('npm-install-capabilities', 'npm', ['install', '--no-audit', '--no-fund', '@ns/capabilities'], { cwd: capsDir, env: uenv, allowFail: true });
  const nm = existsSync(join(capsDir, 'node_modules')) ? readdirSync(join(capsDir, 'node_modules')).filter((f) => !f.startsWith('.')) : [];
  const scoped = nm.includes('@ns') ? readdirSync(join(capsDir, 'node_modules/@ns')) : [];
  check('npm install @ns/capabilities installs it alone (no native addon)', ci.status === 0 && nm.join() === '@ns' && scoped.join() === 'capabilities', `node_modules: ${nm.join(' ')} @ns/: ${scoped.join(' ')}`);
  const capRun = run('capabilities-run', 'node', ['-e', "import('@ns/capabilities').then((m) => console.log(m.parseCapability('net_admin')))"], { cwd: capsDir, env: uenv, allowFail: true });
  check('  @ns/capabilities works: parseCapability("net_admin") = 12', capRun.stdout.trim() === '12', capRun.out.trim());

  // Other platforms, as npm sees them: npm checks `os` / `cpu` of required packages against
  // process.platform / process.arch (its --os / --cpu flags only filter optional ones), so a
  // preloaded script makes npm's process report another platform.
  const shim = join(work, 'fake-platform.cjs');
  writeFileSync(shim, [
    "if (process.env.NS_FAKE_PLATFORM) Object.defineProperty(process, 'platform', { value: process.env.NS_FAKE_PLATFORM });",
    "if (process.env.NS_FAKE_ARCH) Object.defineProperty(process, 'arch', { value: process.env.NS_FAKE_ARCH });",
    '',
  ].join('\n'));
  const other = (label, platform, arch, pkg) => {
    const dir = join(work, label);
    mkdirSync(dir);
    writeFileSync(join(dir, '.npmrc'), `registry=${url}\n`);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: label, private: true }));
    const env = { ...uenv, NODE_OPTIONS: `--require ${shim}`, NS_FAKE_PLATFORM: platform, NS_FAKE_ARCH: arch };
    return run(label, 'npm', ['install', '--no-audit', '--no-fund', pkg], { cwd: dir, env, allowFail: true });
  };
  const mac = other('macos-capabilities', 'darwin', 'arm64', '@ns/capabilities');
  check('npm on darwin-arm64: @ns/capabilities installs', mac.status === 0, mac.status === 0 ? '' : mac.out.slice(-800));
  const macNs = other('macos-namespaces', 'darwin', 'arm64', '@ns/namespaces');
  check('npm on darwin-arm64: @ns/namespaces is refused (EBADPLATFORM)', macNs.status !== 0 && /EBADPLATFORM/.test(macNs.out), macNs.out.slice(-400));
  const riscv = other('riscv64-syscalls', 'linux', 'riscv64', '@ns/syscalls');
  check('npm on linux-riscv64: @ns/syscalls is refused (EBADPLATFORM)', riscv.status !== 0 && /EBADPLATFORM/.test(riscv.out), riscv.out.slice(-400));
}

let fatal;
const onSignal = (sig) => {
  fatal = new Error(`interrupted by ${sig}`);
  cleanup().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await stopVerdaccio().catch((e) => log(`stopping verdaccio: ${e.message}`));
  if (KEEP) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

try {
  if (process.getuid?.() !== 0) throw new Error('needs root (it starts containers)');
  await main();
} catch (err) {
  fatal = err;
} finally {
  await cleanup();
}
if (fatal) {
  process.stderr.write(`test-release: error: ${fatal.stack ?? fatal}\n`);
  check('release flow completed', false);
}
const failed = results.filter((r) => !r.ok).length;
log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`test-release: ${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
