#!/usr/bin/env bash
# Run the spawn engine's clone3(2) for arm64 for real: src/native/clone3.cc makes the call in
# aarch64 assembly (CLONE_VM: the child starts on its own stack in our memory), and qemu-user
# answers clone3 with ENOSYS, so check-arm64.sh only ever runs the fallback. Here Debian's
# arm64 kernel boots in qemu-system-aarch64 (TCG) with an initramfs whose /init is
# packages/syscalls/test/arm64/clone3-check.cc, cross-built statically with that clone3.cc:
# children born in a cgroup2 directory (CLONE_INTO_CGROUP), in a new pid namespace, their
# argument, exit status and pidfd checked, 64 in a row, and the error for a non-cgroup.
#
#   usage: scripts/release/check-arm64-vm.sh
#
# The pieces: aarch64-linux-gnu-g++ (g++-aarch64-linux-gnu), qemu-system-aarch64
# (qemu-system-arm), cpio, and the kernel of Debian's linux-image-arm64, fetched with
# `apt-get download` on a private apt state (arm64-common.sh) and kept in .cache/arm64-kernel/.
# Missing qemu or cpio is installed with apt-get as root. When a piece cannot be had the check
# SKIPS (`check-arm64-vm: SKIP: <why>`, exit 0; exit 1 with NS_ARM64_STRICT=1). A clone3 that
# misbehaves always exits 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${NS_ARM64_CACHE:-$ROOT/.cache}"
KDIR="$CACHE/arm64-kernel"

ARM64_NAME=check-arm64-vm
# shellcheck source=arm64-common.sh
. "$ROOT/scripts/release/arm64-common.sh"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ns-check-arm64-vm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# 1. Tools.
command -v aarch64-linux-gnu-g++ >/dev/null || skip "no aarch64-linux-gnu-g++ (apt-get install g++-aarch64-linux-gnu)"
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v cpio >/dev/null; then
  arm64_install "no qemu-system-aarch64 or cpio" "$WORK/apt.log" qemu-system-arm cpio
fi

# 2. Debian's arm64 kernel.
KERNEL="$(ls -1 "$KDIR"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$KERNEL" ]; then
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || skip "no apt-get/dpkg-deb (not Debian?)"
  say "fetching Debian's arm64 package lists (private apt state in $CACHE/arm64-apt)"
  arm64_apt_init "$CACHE" "$WORK/update.log" || skip "apt-get update for arm64 failed: $(tail -1 "$WORK/update.log")"
  pkg="$(apt-cache "${ARM64_APT[@]}" depends linux-image-arm64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*-arm64\)$/\1/p' | head -1)"
  [ -n "$pkg" ] || skip "Debian's arm64 archive names no kernel behind linux-image-arm64"
  say "apt-get download $pkg"
  (cd "$WORK" && apt-get "${ARM64_APT[@]}" download -q "$pkg") >"$WORK/download.log" 2>&1 ||
    skip "apt-get download $pkg failed: $(grep -E '^E:' "$WORK/download.log" | head -1)"
  mkdir -p "$WORK/k"
  dpkg-deb --fsys-tarfile "$WORK"/"$pkg"_*.deb | tar -x -C "$WORK/k" --wildcards './boot/vmlinuz-*'
  rm -rf "$KDIR" && mkdir -p "$KDIR/boot" && mv "$WORK"/k/boot/vmlinuz-* "$KDIR/boot/"
  KERNEL="$(ls -1 "$KDIR"/boot/vmlinuz-* | sort -V | tail -1)"
fi
say "kernel: ${KERNEL##*/}"

# 3. The initramfs: the check as /init, cross-built with the engine's own clone3.cc.
mkdir -p "$WORK/initrd"
aarch64-linux-gnu-g++ -O2 -static -Wall -Wextra -Werror -o "$WORK/initrd/init" \
  "$ROOT/packages/syscalls/test/arm64/clone3-check.cc" "$ROOT/packages/syscalls/src/native/clone3.cc" 2>"$WORK/cc.log" ||
  fail "cross-build of clone3-check: $(head -5 "$WORK/cc.log")"
(cd "$WORK/initrd" && printf 'init\n' | cpio -o -H newc --quiet | gzip -1 >"$WORK/initrd.gz")

# 4. Boot. TCG (software CPU): a cortex-a72, whose emulation is quicker than `max`'s.
say "booting it in qemu-system-aarch64 (TCG, about a minute)"
timeout 300 qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 1 -m 256 -nographic -no-reboot \
  -kernel "$KERNEL" -initrd "$WORK/initrd.gz" -append "console=ttyAMA0 rdinit=/init panic=-1 quiet loglevel=1" \
  </dev/null >"$WORK/console.log" 2>&1 || true
grep -a '^clone3-check: ' "$WORK/console.log" | tr -d '\r' >&2 || true
grep -aq '^clone3-check: OK: ' "$WORK/console.log" ||
  fail "clone3 on arm64 (console: $(tr -d '\r' <"$WORK/console.log" | grep -a -E 'clone3-check|Kernel panic|Unable|Internal error' | tail -5 | tr '\n' ' '))"
echo "check-arm64-vm: OK: clone3 CLONE_INTO_CGROUP from src/native/clone3.cc ran on Debian's arm64 kernel (${KERNEL##*/vmlinuz-}) in qemu-system-aarch64"
