#!/usr/bin/env bash
# Make the prebuilt binaries of @ns/syscalls with `prebuildify --napi --strip --tag-libc`:
#   prebuilds/linux-x64/@ns+syscalls.glibc.node     built here (x86_64 host)
#   prebuilds/linux-arm64/@ns+syscalls.glibc.node   cross-built with Debian's g++-aarch64-linux-gnu
#   prebuilds/linux-x64/@ns+syscalls.musl.node      only with a musl C++ compiler (see below)
#   prebuilds/linux-<arch>/ns-front                   beside each glibc addon: the native front of
#                                                     the `ns` command (front/main.c)
#
#   usage: scripts/release/prebuild.sh [--out PKGDIR] [TARGET...]
#     TARGET   linux-x64 | linux-arm64 | linux-x64-musl | all   (default: all)
#              `all` = linux-x64 and linux-arm64, plus linux-x64-musl when a musl C++
#              compiler is found (else a note says why it is skipped).
#     --out    the package folder whose prebuilds/ receives the binaries
#              (default: packages/syscalls of this repository).
#
# N-API binaries do not depend on the Node version, so one build per platform serves every
# Node >= 20. node-gyp compiles against the running node's headers (npm_config_nodedir, set
# here when unset): it cannot download headers on this machine, and the N-API headers are the
# same for every architecture.
#
# Each target is built in a scratch copy of the package (src/, binding.gyp, package.json and a
# link to its node_modules), never in packages/syscalls itself: a cross build there would leave
# an arm64 build/Release/ns_syscalls.node that node-gyp-build then prefers to the prebuilds.
#
# The aarch64 cross compiler comes from Debian (g++-aarch64-linux-gnu); as root the script
# installs it with apt-get when it is missing (NS_NO_APT=1 turns that off).
#
# musl: Debian's musl-tools has musl-gcc, a wrapper for C only: it has no C++ standard library
# for musl, so `#include <cstdint>` (and node-addon-api) fails. Set NS_MUSL_CXX and NS_MUSL_CC
# to musl-targeting compilers (scripts wrapping `zig c++ -target x86_64-linux-musl` work) to
# try; the result is tagged `musl` so node-gyp-build picks it on Alpine only. The addon uses
# glibc's strerrorname_np today, so such a build also needs that call replaced. See
# docs/publishing.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PKG_SRC="$ROOT/packages/syscalls"
OUT="$PKG_SRC"
TARGETS=()

say() { printf 'prebuild: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$(cd "$2" && pwd)"; shift 2 ;;
    --out=*) OUT="$(cd "${1#--out=}" && pwd)"; shift ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    linux-x64|linux-arm64|linux-x64-musl|all) TARGETS+=("$1"); shift ;;
    *) die "unknown argument '$1' (targets: linux-x64 linux-arm64 linux-x64-musl all)" ;;
  esac
done
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(all)

HOST_ARCH="$(node -p process.arch)"
[ "$(node -p process.platform)" = linux ] || die "prebuilds are made on Linux"
[ -x "$PKG_SRC/node_modules/.bin/prebuildify" ] || die "prebuildify missing: run pnpm install first"

if [ -z "${npm_config_nodedir:-}" ]; then
  npm_config_nodedir="$(node -p 'require("path").dirname(require("path").dirname(process.execPath))')"
fi
[ -f "$npm_config_nodedir/include/node/node_api.h" ] ||
  die "no Node headers at $npm_config_nodedir/include/node (set npm_config_nodedir)"
export npm_config_nodedir

NODE_VERSION="$(node -p process.versions.node)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ns-prebuild.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Expand `all`.
want=()
for t in "${TARGETS[@]}"; do
  if [ "$t" = all ]; then
    want+=(linux-x64 linux-arm64)
    if [ -n "${NS_MUSL_CXX:-}" ] || command -v x86_64-linux-musl-g++ >/dev/null 2>&1; then
      want+=(linux-x64-musl)
    else
      say "note: linux-x64-musl skipped: no musl C++ compiler (Debian's musl-gcc is C only; set NS_MUSL_CXX)"
    fi
  else
    want+=("$t")
  fi
done

# apt_install PKG...: install Debian packages as root (once), unless NS_NO_APT=1.
apt_install() {
  [ "${NS_NO_APT:-0}" != 1 ] || return 1
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  say "apt-get install $*"
  local log="$WORK/apt.log"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1; then
    { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; } >"$log" 2>&1 ||
      { cat "$log" >&2; return 1; }
  fi
}

# elf_machine FILE: e_machine of an ELF file (62 x86-64, 183 aarch64).
elf_machine() { node -e 'const b=require("fs").readFileSync(process.argv[1]);process.stdout.write(String(b[0]===0x7f&&b.toString("latin1",1,4)==="ELF"?b.readUInt16LE(18):-1))' "$1"; }

# glibc_floor OBJDUMP FILE: the newest GLIBC_x.y symbol version FILE needs.
glibc_floor() {
  command -v "$1" >/dev/null 2>&1 || { echo '?'; return; }
  "$1" -T "$2" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1
}

# build NAME ARCH LIBC MACHINE STRIP [ENV=VALUE...]: one prebuildify run in a scratch copy.
build() {
  local name=$1 arch=$2 libc=$3 machine=$4 strip=$5; shift 5
  local stage="$WORK/$name"
  mkdir -p "$stage"
  cp -r "$PKG_SRC/package.json" "$PKG_SRC/binding.gyp" "$PKG_SRC/src" "$PKG_SRC/front" "$stage/"
  ln -s "$PKG_SRC/node_modules" "$stage/node_modules"
  say "$name: prebuildify --napi --strip --tag-libc --arch $arch --libc $libc"
  local log="$WORK/$name.log"
  if ! (cd "$stage" && env "$@" ./node_modules/.bin/prebuildify --napi --strip --tag-libc \
        --target "$NODE_VERSION" --arch "$arch" --libc "$libc" --strip-bin "$strip") >"$log" 2>&1; then
    cat "$log" >&2
    die "$name: build failed"
  fi
  local file="$stage/prebuilds/linux-$arch/@ns+syscalls.$libc.node"
  [ -f "$file" ] || die "$name: prebuildify made no $file"
  local got; got="$(elf_machine "$file")"
  [ "$got" = "$machine" ] || die "$name: $file is ELF machine $got, expected $machine"
  # ns-init, the static helper embedded in the addon, must be built for the same machine
  # (a wrong one would load fine and fail at the first spawn).
  local init="$stage/build/Release/ns_init"
  [ -f "$init" ] || die "$name: no $init (the embedded set-up helper)"
  got="$(elf_machine "$init")"
  [ "$got" = "$machine" ] || die "$name: the embedded ns-init is ELF machine $got, expected $machine"
  # ns-front, the native front of the `ns` command (front/main.c), ships beside the addon.
  local front="$stage/build/Release/ns_front"
  [ -f "$front" ] || die "$name: no $front (the native front of ns)"
  got="$(elf_machine "$front")"
  [ "$got" = "$machine" ] || die "$name: ns-front is ELF machine $got, expected $machine"
  # Static (binding.gyp): no program interpreter, so no glibc version it could lack.
  if LC_ALL=C readelf -lW "$front" 2>/dev/null | grep -q 'program interpreter'; then
    die "$name: ns-front is dynamically linked (binding.gyp links it -static)"
  fi
  mkdir -p "$OUT/prebuilds/linux-$arch"
  cp "$file" "$OUT/prebuilds/linux-$arch/"
  cp "$front" "$OUT/prebuilds/linux-$arch/ns-front"
  chmod 0755 "$OUT/prebuilds/linux-$arch/ns-front"
  local objdump=objdump
  [ "$arch" = arm64 ] && objdump=aarch64-linux-gnu-objdump
  local floor=''
  [ "$libc" = glibc ] && floor=" (needs glibc >= $(glibc_floor "$objdump" "$file"))"
  say "$name: $OUT/prebuilds/linux-$arch/@ns+syscalls.$libc.node, $(stat -c %s "$file") bytes$floor; ns-front $(stat -c %s "$front") bytes"
}

for t in "${want[@]}"; do
  case "$t" in
    linux-x64)
      [ "$HOST_ARCH" = x64 ] || die "linux-x64 is built on an x86_64 host (this is $HOST_ARCH)"
      build linux-x64 x64 glibc 62 strip
      ;;
    linux-arm64)
      if [ "$HOST_ARCH" = arm64 ]; then
        build linux-arm64 arm64 glibc 183 strip
      else
        if ! command -v aarch64-linux-gnu-g++ >/dev/null 2>&1; then
          apt_install g++-aarch64-linux-gnu ||
            die "linux-arm64 needs aarch64-linux-gnu-g++ (Debian: apt-get install g++-aarch64-linux-gnu)"
        fi
        build linux-arm64 arm64 glibc 183 aarch64-linux-gnu-strip \
          CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
      fi
      ;;
    linux-x64-musl)
      [ "$HOST_ARCH" = x64 ] || die "linux-x64-musl is built on an x86_64 host"
      cxx="${NS_MUSL_CXX:-}"
      if [ -z "$cxx" ] && command -v x86_64-linux-musl-g++ >/dev/null 2>&1; then cxx=x86_64-linux-musl-g++; fi
      [ -n "$cxx" ] || die "linux-x64-musl needs a musl C++ compiler: Debian's musl-tools has musl-gcc for C only (no C++ library for musl); set NS_MUSL_CXX and NS_MUSL_CC (see docs/publishing.md)"
      cc="${NS_MUSL_CC:-${cxx/g++/gcc}}"
      build linux-x64-musl x64 musl 62 strip CC="$cc" CXX="$cxx" LINK="$cxx"
      ;;
  esac
done
say "done: $(cd "$OUT" && find prebuilds -name '*.node' -o -name ns-front | sort | tr '\n' ' ')"
