# Sourced by the arm64 checks (check-arm64.sh, check-arm64-vm.sh).
#
#   ARM64_NAME=check-x; . arm64-common.sh
#     say / skip / fail print `check-x: ...`: say on stderr; skip prints `check-x: SKIP: <why>`
#     and exits 0 (1 with NS_ARM64_STRICT=1); fail prints `check-x: FAIL: <why>` and exits 1.
#   arm64_install WHAT LOG PKG...
#     apt-get install PKG... (after an apt-get update when the first try fails), as root; skips
#     saying WHAT is missing when not root, without apt-get, or when that fails (LOG: its output)
#   arm64_apt_init CACHE LOG
#     sets ARM64_APT (apt options, an array) for apt-get and apt-cache on a private state folder
#     CACHE/arm64-apt with arm64 package lists, and fetches the lists (LOG: apt-get's output;
#     returns 1 when that fails). Debian's arm64 packages can then be listed and downloaded
#     (`apt-get download`) without touching the system's dpkg architectures.
say() { printf '%s: %s\n' "$ARM64_NAME" "$*" >&2; }
skip() {
  printf '%s: SKIP: %s\n' "$ARM64_NAME" "$*"
  [ "${NS_ARM64_STRICT:-0}" = 1 ] && exit 1
  exit 0
}
fail() { printf '%s: FAIL: %s\n' "$ARM64_NAME" "$*"; exit 1; }

arm64_install() {
  local what="$1" log="$2"
  shift 2
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || skip "$what, and cannot apt-get install $* (not root)"
  say "apt-get install $*"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; }; } >"$log" 2>&1 ||
    skip "apt-get install $* failed: $(tail -1 "$log")"
}

arm64_apt_init() {
  local dir="$1/arm64-apt"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  : >"$dir/status"
  ARM64_APT=(
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64
    -o Dir::State::Lists="$dir/lists" -o Dir::State::status="$dir/status"
    -o Dir::Cache="$dir/cache" -o Debug::NoLocking=1
  )
  apt-get "${ARM64_APT[@]}" update -q >"$2" 2>&1
}
