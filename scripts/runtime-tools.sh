#!/usr/bin/env bash
# Run the opencontainers runtime-tools validation programs against this tree's `ns`.
#
#   scripts/runtime-tools.sh build SRC            build runtimetest and validation/*.t in SRC
#   scripts/runtime-tools.sh run [NAME...]         run them (all, or the named ones: `default`,
#                                                  `linux_uid_mappings` ...); prints a TAP-like
#                                                  summary, one line per program, and exits 1
#                                                  when one fails
#
# Environment:
#   RUNTIME_TOOLS_DIR  the built runtime-tools tree (default /tmp/runtime-tools)
#   NS_TEST_ROOTFS     the busybox root filesystem (read-only: a tarball of it is made)
#   NS_BIN             the ns to test (default: node packages/cli/dist/ns.cjs of this tree)
#   RT_TIMEOUT         seconds per program (default 120)
#   RT_OUT             keep each program's full output (NAME.tap) in this folder (default: none kept)
#
# The source comes from github.com/opencontainers/runtime-tools (no network is needed to
# build: its vendor/ folder has every module). It wants Go 1.21; with an older Go (Debian 12
# has 1.19) `build` adds stand-ins for the three Go 1.20/1.21 standard-library pieces it uses
# (the `slices` package, sync.OnceValue(s), strings.CutPrefix) to the copy in SRC.
# Needs root (the programs create containers).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${RUNTIME_TOOLS_DIR:-/tmp/runtime-tools}

go_older_than_121() {
  local v
  v=$(go env GOVERSION 2>/dev/null || echo go0)
  v=${v#go}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 21 ]; }
}

compat_go119() {
  local src=$1
  mkdir -p "$src/vendor/slices"
  cat >"$src/vendor/slices/slices.go" <<'EOF'
// Package slices: the functions of Go 1.21's "slices" that runtime-tools uses (added by @ns's
// scripts/runtime-tools.sh to build with an older Go).
package slices

func Contains[S ~[]E, E comparable](s S, v E) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func DeleteFunc[S ~[]E, E any](s S, del func(E) bool) S {
	out := s[:0]
	for _, x := range s {
		if !del(x) {
			out = append(out, x)
		}
	}
	var zero E
	for i := len(out); i < len(s); i++ {
		s[i] = zero
	}
	return out
}
EOF
  local cap=$src/vendor/github.com/moby/sys/capability
  if grep -q 'sync.OnceValues(' "$cap/capability_linux.go"; then
    cat >"$cap/go119_compat.go" <<'EOF'
package capability

import (
	"strings"
	"sync"
)

// Stand-ins for sync.OnceValues (Go 1.21) and strings.CutPrefix (Go 1.20).
func onceValues[T1, T2 any](f func() (T1, T2)) func() (T1, T2) {
	var once sync.Once
	var r1 T1
	var r2 T2
	return func() (T1, T2) {
		once.Do(func() { r1, r2 = f() })
		return r1, r2
	}
}

func cutPrefix(s, prefix string) (string, bool) {
	if !strings.HasPrefix(s, prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
EOF
    sed -i 's/sync\.OnceValues(/onceValues(/; s/strings\.CutPrefix(/cutPrefix(/; /^\t"sync"$/d' "$cap/capability_linux.go"
  fi
  local val=$src/validate/capabilities/validate.go
  if grep -q 'sync.OnceValue(' "$val"; then
    sed -i 's/sync\.OnceValue(/onceValue(/' "$val"
    cat >>"$val" <<'EOF'

// onceValue: a stand-in for sync.OnceValue (Go 1.21).
func onceValue[T any](f func() T) func() T {
	var once sync.Once
	var r T
	return func() T {
		once.Do(func() { r = f() })
		return r
	}
}
EOF
  fi
}

build() {
  local src=${1:?usage: runtime-tools.sh build SRC}
  export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local
  if go_older_than_121; then compat_go119 "$src"; fi
  cd "$src"
  # runtimetest runs inside the container: static, as the project's Makefile builds it.
  CGO_ENABLED=0 go build -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest
  local f
  for f in $(find ./validation/ -name '*.go' | grep -v util | sort); do
    go build -o "${f%.go}.t" "$f"
  done
  echo "built runtimetest and $(find ./validation -name '*.t' | wc -l) validation programs in $src"
}

run() {
  [ "$(id -u)" = 0 ] || { echo "runtime-tools.sh: needs root" >&2; exit 2; }
  [ -x "$dir/runtimetest" ] || { echo "runtime-tools.sh: no $dir/runtimetest: build first (runtime-tools.sh build SRC)" >&2; exit 2; }
  local rootfs=${NS_TEST_ROOTFS:?NS_TEST_ROOTFS: the busybox rootfs}
  local work
  work=$(mktemp -d /tmp/ns-rtools.XXXXXX)
  local out=${RT_OUT:-$work/out}
  mkdir -p "$out" "$work/state"
  # ns with its own state root, so that nothing mixes with other containers.
  local ns=${NS_BIN:-node $here/packages/cli/dist/ns.cjs}
  printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$ns" "$work/state" >"$work/ns"
  chmod +x "$work/ns"
  # The programs read ./rootfs-<GOARCH>.tar.gz and copy ./runtimetest into each bundle.
  local arch
  case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  tar -C "$rootfs" -czf "$work/rootfs-$arch.tar.gz" .
  cp "$dir/runtimetest" "$work/"
  # The programs make their bundles in $TMPDIR (ocitest*): under the work folder, so that what a
  # failing program leaves is removed with it.
  mkdir -p "$work/tmp"
  # Reachable as /tmp is: a container with a user namespace maps its root to another host uid.
  chmod 755 "$work"
  chmod 1777 "$work/tmp"
  local names=("$@") failed=0
  if [ ${#names[@]} -eq 0 ]; then
    mapfile -t names < <(cd "$dir/validation" && find . -name '*.t' | sed 's|^\./||; s|/.*||' | sort)
  fi
  local name t status ok notok skip
  # The cgroups programs use cgroupsPath /testdir/cgrouptest (and relative ones under it):
  # what this run makes there is removed afterwards, never what was there before.
  local cg_before
  cg_before=$(ls -d /sys/fs/cgroup/*/testdir /sys/fs/cgroup/testdir 2>/dev/null || true)
  for name in "${names[@]}"; do
    t=$dir/validation/$name/$name.t
    [ -x "$t" ] || { echo "not ok $name # no program $t"; failed=1; continue; }
    status=0
    (cd "$work" && TMPDIR="$work/tmp" RUNTIME="$work/ns" timeout "${RT_TIMEOUT:-120}" "$t") >"$out/$name.tap" 2>&1 || status=$?
    ok=$(grep -c '^ok ' "$out/$name.tap" || true)
    skip=$(grep -c '^ok .*# SKIP' "$out/$name.tap" || true)
    notok=$(grep -c '^not ok ' "$out/$name.tap" || true)
    # Some programs print no test line: they pass by exiting 0 (process_rlimits_fail), or
    # fail by a YAML diagnostic with an "error" (hooks, prestart ...).
    if [ "$status" = 0 ] && [ "$notok" = 0 ] && { [ "$ok" -gt 0 ] || ! grep -q '"error": "[^"]' "$out/$name.tap"; }; then
      echo "ok $name ($((ok - skip)) passed, $skip skipped)"
    else
      echo "not ok $name ($((ok - skip)) passed, $notok failed, $skip skipped, exit $status)"
      failed=1
    fi
  done
  # Containers a program left (a failed one may not delete its own).
  local id m
  for id in $(ls "$work/state" 2>/dev/null); do "$work/ns" delete --force "$id" >/dev/null 2>&1 || true; done
  local cg
  for cg in $(ls -d /sys/fs/cgroup/*/testdir /sys/fs/cgroup/testdir 2>/dev/null || true); do
    if ! grep -qxF "$cg" <<<"$cg_before"; then
      find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || echo "# cgroup left: $cg"
    fi
  done
  # Mounts left on the host under a bundle are a failure of the runtime (runc 1.1.5 leaves the
  # mounts of a container without a mount namespace): reported, then taken away.
  local left
  left=$(awk '{print $5}' /proc/self/mountinfo | grep -F "$work/" | sort -r || true)
  if [ -n "$left" ]; then
    echo "not ok mounts left on the host: $(echo "$left" | tr '\n' ' ')"
    failed=1
    for m in $left; do umount "$m" 2>/dev/null || umount -l "$m"; done
  fi
  if [ -n "${RT_OUT:-}" ]; then
    echo "# output in $out"
    rm -rf "$work/tmp" "$work/state" "$work/rootfs-$arch.tar.gz" "$work/runtimetest" "$work/ns"
    rmdir "$work" 2>/dev/null || true
  else
    rm -rf "$work"
  fi
  return $failed
}

case ${1:-} in
  build) shift; build "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
