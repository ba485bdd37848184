#!/usr/bin/env bash
# Prove the linux-arm64 prebuild of @ns/syscalls loads: Debian's own arm64 `nodejs` runs under
# qemu-user on this x86_64 machine and calls one function of the addon (pipe()), twice (and
# its ns-front, the native front of `ns`, reads a front record under qemu):
#   1. require() of prebuilds/linux-arm64/@ns+syscalls.glibc.node directly;
#   2. through the package's loader (dist/index.js -> node-gyp-build) in a scratch copy of
#      the package that has prebuilds/linux-arm64 and no build/ folder, as a registry install.
#
#   usage: scripts/release/check-arm64.sh [PKGDIR]      (default: packages/syscalls)
#
# The pieces: qemu-aarch64(-static) (Debian qemu-user-static, installed with apt-get as root
# when missing), and an arm64 root with nodejs, its libraries and libc6, made from Debian arm64
# .debs fetched with `apt-get download` and unpacked with `dpkg-deb -x`. apt runs on a private
# state folder (its own arm64 package lists), so the system's dpkg architectures are not
# touched. The root is kept in .cache/arm64-node/ for the next run.
#
# When a piece cannot be had (no qemu, no apt, not root, archive unreachable, no arm64
# prebuild) the check SKIPS: it prints `check-arm64: SKIP: <why>` and exits 0; with
# NS_ARM64_STRICT=1 a skip exits 1. A prebuild that does not load always exits 1.
# Make the prebuild first with `scripts/release/prebuild.sh linux-arm64`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PKG="$(cd "${1:-$ROOT/packages/syscalls}" && pwd)"
CACHE="${NS_ARM64_CACHE:-$ROOT/.cache}"
SYSROOT="$CACHE/arm64-node"
STAMP_VERSION=1

ARM64_NAME=check-arm64
# shellcheck source=arm64-common.sh
. "$ROOT/scripts/release/arm64-common.sh"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ns-check-arm64.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# 1. The prebuild.
PREBUILD="$PKG/prebuilds/linux-arm64/@ns+syscalls.glibc.node"
[ -f "$PREBUILD" ] || skip "no $PREBUILD (make it with scripts/release/prebuild.sh linux-arm64)"
[ -f "$PKG/dist/index.js" ] || skip "no $PKG/dist/index.js (run pnpm build)"

# 2. qemu-user.
QEMU="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
if [ -z "$QEMU" ]; then
  arm64_install "no qemu-aarch64" "$WORK/apt.log" qemu-user-static
  QEMU="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
  [ -n "$QEMU" ] || skip "qemu-user-static installed but no qemu-aarch64 on PATH"
fi

# 3. The arm64 root: Debian's nodejs and the packages it depends on (arm64 and arch: all).
STAMP="$SYSROOT/.ns-stamp"
if [ ! -x "$SYSROOT/usr/bin/node" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$STAMP_VERSION" ]; then
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || skip "no apt-get/dpkg-deb (not Debian?)"
  mkdir -p "$WORK/debs"
  say "fetching Debian's arm64 package lists (private apt state in $CACHE/arm64-apt)"
  arm64_apt_init "$CACHE" "$WORK/update.log" || skip "apt-get update for arm64 failed: $(tail -1 "$WORK/update.log")"
  APT_OPTS=("${ARM64_APT[@]}")
  mapfile -t pkgs < <(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances --no-pre-depends nodejs 2>/dev/null |
    grep -E '^[a-z0-9][a-z0-9.+-]*$' | sort -u)
  printf '%s\n' "${pkgs[@]}" | grep -qx nodejs || skip "Debian's arm64 archive has no nodejs package"
  say "apt-get download ${pkgs[*]}"
  (cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" download -q "${pkgs[@]}") >"$WORK/download.log" 2>&1 ||
    skip "apt-get download failed: $(grep -E '^E:' "$WORK/download.log" | head -1)"
  rm -rf "$SYSROOT.tmp"
  mkdir -p "$SYSROOT.tmp"
  for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$SYSROOT.tmp"; done
  [ -x "$SYSROOT.tmp/usr/bin/node" ] || fail "no usr/bin/node in the unpacked nodejs package"
  echo "$STAMP_VERSION" >"$SYSROOT.tmp/.ns-stamp"
  rm -rf "$SYSROOT"
  mv "$SYSROOT.tmp" "$SYSROOT"
fi

run_arm64() { "$QEMU" -L "$SYSROOT" "$SYSROOT/usr/bin/node" "$@"; }

version="$(run_arm64 -p 'process.version + " " + process.arch + " napi " + process.versions.napi' 2>"$WORK/node.err")" ||
  skip "Debian's arm64 node does not start under $QEMU: $(head -3 "$WORK/node.err")"
say "arm64 node under qemu: $version"

# 4a. The .node file itself.
out="$(run_arm64 -e '
  const addon = require(process.argv[1]);
  const [r, w] = addon.pipe();
  require("fs").closeSync(r); require("fs").closeSync(w);
  console.log(`pipe() -> [${r}, ${w}]`);
' "$PREBUILD" 2>&1)" || fail "require($PREBUILD) under arm64 node: $out"
say "require(prebuilds/linux-arm64/@ns+syscalls.glibc.node).$out"

# 4b. The package's own loader, with prebuilds/linux-arm64 only (no build/).
copy="$WORK/syscalls"
mkdir -p "$copy/prebuilds" "$copy/node_modules"
cp "$PKG/package.json" "$copy/"
cp -r "$PKG/dist" "$copy/dist"
cp -r "$PKG/prebuilds/linux-arm64" "$copy/prebuilds/"
cp -rL "$PKG/node_modules/node-gyp-build" "$copy/node_modules/node-gyp-build"
out="$(run_arm64 --input-type=module -e "
  import { closeSync } from 'node:fs';
  import { native } from '$copy/dist/index.js';
  const [r, w] = native().pipe();
  closeSync(r); closeSync(w);
  console.log('native().pipe() -> [' + r + ', ' + w + ']');
" 2>&1)" || fail "loading @ns/syscalls (node-gyp-build, prebuilds/linux-arm64) under arm64 node: $out"
say "@ns/syscalls loader: $out"
# 4c. ns-front, the native front of `ns`, beside the addon: reads a front record (one for this
# shell's own process) and prints the state text it holds, as on an arm64 machine.
FRONT="$PKG/prebuilds/linux-arm64/ns-front"
[ -f "$FRONT" ] || fail "no $FRONT (scripts/release/prebuild.sh makes it beside the addon)"
stat="$(cat /proc/$$/stat)"
set -- ${stat##*) }
mkdir -p "$WORK/front-root/probe"
printf 'ns-front-record 1\npid %s\nstart-time %s\ntext alive 6\nfront\n\nend\n' "$$" "${20}" >"$WORK/front-root/probe/state.front"
out="$("$QEMU" -L "$SYSROOT" "$FRONT" "$WORK/none.cjs" --root "$WORK/front-root" state probe 2>&1)" || fail "ns-front under qemu: $out"
[ "$out" = front ] || fail "ns-front under qemu printed $out, expected the record's text"
say "prebuilds/linux-arm64/ns-front: reads a front record under qemu"
echo "check-arm64: OK: the linux-arm64 prebuild loads in Debian's arm64 node ($version) under qemu, and its ns-front runs"
