#!/usr/bin/env bash
# Build a busybox root filesystem for the integration tests.
#   usage: scripts/build-test-rootfs.sh [DIR]     (default: <repo>/test-rootfs/busybox)
# Needs root (installs busybox-static with apt when /bin/busybox is missing or dynamic).
# Idempotent: a stamp file records the layout version and the busybox binary; when both
# match, nothing is done. Prints the absolute rootfs path as the only line on stdout.
#
# Contents: /bin/busybox plus a symlink per applet (busybox --list-full), the usual
# top-level directories, /tmp 1777, and users and groups the tests rely on:
#   root 0:0 /root, alice 1000:1000 /home/alice, bob 1001:1001, nobody 65534:65534;
#   groups root 0, tty 5, wheel 10 (alice), users 100 (alice,bob), alice 1000, bob 1001,
#   nogroup 65534.
set -euo pipefail

# Bump when the layout or the contents below change: existing rootfs are rebuilt.
LAYOUT_VERSION=2

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$ROOT/test-rootfs/busybox}"
BUSYBOX=/bin/busybox

say() { printf 'build-test-rootfs: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Absolute path, without requiring DIR itself to exist.
mkdir -p "$(dirname "$DIR")"
DIR="$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")"
STAMP_NAME=.ns-test-rootfs
STAMP="$DIR/$STAMP_NAME"

is_static_busybox() {
  [ -x "$BUSYBOX" ] || return 1
  local out
  out="$(LC_ALL=C ldd "$BUSYBOX" 2>&1 || true)"
  case "$out" in
    *'not a dynamic executable'* | *'statically linked'*) return 0 ;;
    *) return 1 ;;
  esac
}

# 1. A static busybox on the host.
if ! is_static_busybox; then
  [ "$(id -u)" -eq 0 ] || die "$BUSYBOX is missing or not static, and installing busybox-static needs root"
  export DEBIAN_FRONTEND=noninteractive
  log="$(mktemp "${TMPDIR:-/tmp}/ns-rootfs-apt.XXXXXX")"
  say "installing busybox-static"
  if ! apt-get install -y -q busybox-static >"$log" 2>&1; then
    # Unknown package or stale lists: refresh once and try again.
    if ! { apt-get update -q && apt-get install -y -q busybox-static; } >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"
      die "apt-get install busybox-static failed"
    fi
  fi
  rm -f "$log"
  is_static_busybox || die "$BUSYBOX is still not a static binary after installing busybox-static"
fi

want_stamp="layout=$LAYOUT_VERSION busybox=$(sha256sum "$BUSYBOX" | cut -d' ' -f1)"

# One builder at a time per DIR.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR.lock"
  flock 9
fi

# 2. Fast path: already built with this layout and this busybox.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && [ -x "$DIR/bin/sh" ]; then
  printf '%s\n' "$DIR"
  exit 0
fi

# Never wipe a directory that this script did not make.
if [ -e "$DIR" ] && [ ! -f "$STAMP" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  die "$DIR exists, is not empty and was not built by this script; refusing to replace it"
fi

# 3. Build into a sibling directory, then swap it in.
TMP="$DIR.new.$$"
trap 'rm -rf --one-file-system "$TMP"' EXIT
rm -rf --one-file-system "$TMP"
mkdir -p "$TMP"
cd "$TMP"

mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev root home/alice tmp
chmod 0755 bin sbin usr usr/bin usr/sbin etc proc sys dev home
chmod 0700 root
chmod 1777 tmp
chown 1000:1000 home/alice
chmod 0755 home/alice

cp "$BUSYBOX" bin/busybox
chmod 0755 bin/busybox
# Every applet as a symlink to /bin/busybox (resolved inside the container's root).
while IFS= read -r applet; do
  applet="${applet#/}"
  # Skip top-level entries (linuxrc): only bin/, sbin/, usr/bin/, usr/sbin/.
  case "$applet" in */*) ;; *) continue ;; esac
  [ "$applet" != bin/busybox ] || continue
  mkdir -p "$(dirname "$applet")"
  ln -sfn /bin/busybox "$applet"
done < <(bin/busybox --list-full)
[ -L bin/sh ] || die "busybox has no sh applet"

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001:Bob:/home/bob:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
tty:x:5:
wheel:x:10:alice
users:x:100:alice,bob
alice:x:1000:
bob:x:1001:
nogroup:x:65534:
GROUP
printf 'root:*:19000:0:99999:7:::\n' > etc/shadow
chmod 0644 etc/passwd etc/group
chmod 0600 etc/shadow
printf 'ns-test\n' > etc/hostname
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > etc/hosts
chmod 0644 etc/hostname etc/hosts

printf '%s\n' "$want_stamp" > "$STAMP_NAME"
cd /

if [ -e "$DIR" ]; then
  # --one-file-system: never descend into something left mounted inside an old rootfs.
  rm -rf --one-file-system "$DIR" || die "could not remove the old $DIR (something still mounted in it?)"
fi
mv "$TMP" "$DIR"
trap - EXIT
say "built $DIR"
printf '%s\n' "$DIR"
