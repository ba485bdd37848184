#!/usr/bin/env bash
# The whole test suite on a fresh machine (what .ci/run does), as root:
#   bootstrap (pnpm, dependencies, build) -> apt packages the tests use -> busybox test
#   rootfs -> one vitest run over every package (unit + integration projects).
# The last line of output is the plain totals line "N passed, M failed[, K skipped]".
# Exits non-zero when vitest failed, the report is missing, or no test ran.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'test: %s\n' "$*" >&2; }

# 1. pnpm, dependencies, build. The environment it needs is set here too, for vitest.
bash scripts/bootstrap.sh
npm_config_nodedir="$(node -p 'require("path").dirname(require("path").dirname(process.execPath))')"
export npm_config_nodedir
export TURBO_TELEMETRY_DISABLED=1

if [ "$(id -u)" -eq 0 ]; then
  # 2. Debian packages the tests use, in one apt-get call when any is missing.
  # podman (with conmon) and containerd (with ctr and its runc shim): the real clients that
  # drive ns as their runtime (packages/cli/test/{podman,containerd}.int.test.ts); about 7 s.
  # containernetworking-plugins: the CNI bridge of the pods in packages/cli/test/cri.int.test.ts.
  APT_PACKAGES=(busybox-static runc util-linux iproute2 procps g++-aarch64-linux-gnu qemu-user-static qemu-system-arm cpio libseccomp-dev podman containerd containernetworking-plugins)
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    say "apt-get install ${missing[*]}"
    log="$(mktemp "${TMPDIR:-/tmp}/ns-test-apt.XXXXXX")"
    # Refresh the package lists first when there are none; once more if the install fails.
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
      apt-get update -q >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
    fi
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
      if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        say "apt-get install failed"
        exit 1
      fi
    fi
    rm -f "$log"
  fi

  # 3. The busybox rootfs of the integration tests (the vitest global setup reuses it).
  NS_TEST_ROOTFS="$(bash scripts/build-test-rootfs.sh)"
  export NS_TEST_ROOTFS
else
  say "not root: skipping apt packages and the test rootfs; integration tests will skip"
fi

# 4. One vitest run over the whole workspace, with a JSON report for the totals.
REPORT="$ROOT/.cache/vitest-report.json"
mkdir -p "$(dirname "$REPORT")"
rm -f "$REPORT"
vitest_status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile="$REPORT" || vitest_status=$?

# 5. Totals: the last line of output.
totals_status=0
node scripts/totals.mjs "$REPORT" || totals_status=$?
if [ "$vitest_status" -ne 0 ]; then
  exit "$vitest_status"
fi
exit "$totals_status"
