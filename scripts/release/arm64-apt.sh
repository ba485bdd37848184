# Sourced by the arm64 checks (check-arm64.sh, check-arm64-vm.sh): apt-get and apt-cache on a
# private state folder with arm64 package lists, so that Debian's arm64 packages can be listed
# and downloaded (`apt-get download`) without touching the system's dpkg architectures.
#
#   arm64_apt_init CACHE LOG    sets ARM64_APT (the options, an array) and fetches the lists
#                               into CACHE/arm64-apt; returns 1 when apt-get update fails (LOG)
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
