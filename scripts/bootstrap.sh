#!/usr/bin/env bash
# Set up this repository on a fresh machine that has only Node 20 and npm (as root):
# install the pinned pnpm, the workspace's dependencies, and build every package
# (the native addon of @ns/syscalls included). Safe to re-run; works from any cwd.
# Quiet on success (one line per step); a failing step prints its whole log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PNPM_VERSION=12.4.2

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# run_quiet LABEL CMD...: run CMD with its output in a log; show the log only on failure.
run_quiet() {
  local label=$1; shift
  local log status=0
  log="$(mktemp "${TMPDIR:-/tmp}/ns-bootstrap.XXXXXX")"
  say "$label"
  "$@" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    say "FAILED ($status): $*"
    cat "$log" >&2
    rm -f "$log"
    return "$status"
  fi
  rm -f "$log"
}

# 1. pnpm, exactly the pinned version (corepack's download fails here: use npm).
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  run_quiet "installing pnpm $PNPM_VERSION" \
    npm install -g --allow-scripts=pnpm --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION"
  hash -r
  got="$(pnpm --version 2>/dev/null || true)"
  if [ "$got" != "$PNPM_VERSION" ]; then
    say "pnpm on PATH is '${got:-missing}' ($(command -v pnpm || echo 'not found')), expected $PNPM_VERSION"
    exit 1
  fi
fi

# 2. Build environment: node-gyp compiles against the running node's own headers
#    (it cannot download them here); turbo must not phone home.
npm_config_nodedir="$(node -p 'require("path").dirname(require("path").dirname(process.execPath))')"
export npm_config_nodedir
if [ ! -f "$npm_config_nodedir/include/node/node_api.h" ]; then
  say "warning: $npm_config_nodedir/include/node/node_api.h not found; node-gyp may fail"
fi
export TURBO_TELEMETRY_DISABLED=1
export DO_NOT_TRACK=1

# 3. Dependencies (a workspace package with binding.gyp is compiled here too).
if [ -f pnpm-lock.yaml ]; then
  run_quiet "pnpm install --frozen-lockfile" pnpm install --frozen-lockfile
else
  run_quiet "pnpm install (no pnpm-lock.yaml)" pnpm install
fi

# 4. Build every package (turbo, in dependency order).
run_quiet "pnpm build" pnpm build
say "done"
