#!/usr/bin/env bash
# Sets up what the arm64 build and tests need on a Debian 12 x86_64 machine (issue 10):
#   - Debian's rustc-web, whose multiarch std packages give /usr/bin/rustc an
#     aarch64-unknown-linux-gnu std (rustup here cannot download one);
#   - the aarch64 cross gcc and libc (for crates with C parts), qemu-user-static;
#   - a debootstrapped Debian 13 (trixie) arm64 minbase root with python3.13, the CPython version of
#     Lambda's default Python runtime, to run aarch64 programs and bundles under qemu-user;
#   - a second arm64 root from Debian testing (forky) with python3.14 (issue 18: the proof that a
#     cp314 bundle runs), apart from the first so that the 3.13 root stays as it is.
# Idempotent: a stamp per part records its recipe; a second run only checks that the pieces are
# still there.
# Needs root (apt, dpkg). The root lives in ${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}.
set -euo pipefail

TOOLS="${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}"
ROOT="$TOOLS/arm64-root"
STAMP="$TOOLS/arm64-toolchain.stamp"
SUITE=trixie
PYTHON=python3.13
PACKAGES=(rustc-web cargo-web libstd-rust-web-dev libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu
  libc6-dev-arm64-cross qemu-user-static debootstrap)
# Changing anything here re-runs the slow parts once.
RECIPE="v1 suite=$SUITE python=$PYTHON packages=${PACKAGES[*]}"

# The python3.14 root. Debian has python3.14 in testing (forky) and unstable (sid), not in a
# release; testing is the steadier of the two. Pinned: the suite, and the python3.14 version it
# had when this was written (checked after debootstrap). Debian's archive keeps only the current
# version of testing, so a newer 3.14 revision is accepted with a note (a fresh machine could not
# get the pinned one at all); another minor version fails with the fix.
PY314_ROOT="$TOOLS/arm64-root-py314"
PY314_STAMP="$TOOLS/arm64-root-py314.stamp"
PY314_SUITE=forky
PY314=python3.14
PY314_VERSION=3.14.8-1
# debootstrap 1.0.128 (Debian 12) has no script named forky; testing's is sid's.
PY314_SCRIPT=sid
PY314_RECIPE="v1 suite=$PY314_SUITE python=$PY314=$PY314_VERSION"

log() { printf '[install-arm64-toolchain] %s\n' "$*" >&2; }
die() { printf '[install-arm64-toolchain] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" == "ii"* ]] || printf '%s\n' "$p"
  done
}

# Cheap checks that everything the stamp promises still exists (no emulation, no apt).
installed_ok() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]] || return 1
  [[ -x "$ROOT/usr/bin/$PYTHON" && -x /usr/bin/qemu-aarch64-static && -x /usr/bin/rustc ]] || return 1
  [[ -z "$(missing_packages)" ]]
}

# deb822 (.sources): paragraphs of "Field: value" lines, continuation lines start with blanks.
# Prints the first URI of the first enabled "deb" paragraph whose Suites include $2.
deb822_uri() {
  awk -v cn="$2" '
    function flush() {
      if (!found && types ~ /(^| )deb( |$)/ && enabled !~ /^no/ && (" " suites " ") ~ (" " cn " ")) {
        n = split(uris, u, " "); for (i = 1; i <= n; i++) if (u[i] != "") { print u[i]; found = 1; break }
      }
      types = ""; uris = ""; suites = ""; enabled = ""; field = ""
    }
    /^#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ { v = $0; gsub(/[ \t]+/, " ", v)
               if (field == "uris") uris = uris v; else if (field == "suites") suites = suites v; next }
    {
      field = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
      gsub(/[ \t]+/, " ", v); sub(/^ /, "", v); sub(/ $/, "", v)
      if (field == "types") types = v; else if (field == "uris") uris = v
      else if (field == "suites") suites = v; else if (field == "enabled") enabled = tolower(v)
    }
    END { flush() }' "$1"
}

# One-line format (.list): "deb [options] URI suite component...". Prints the URI for suite $2.
oneline_uri() {
  awk -v cn="$2" '
    $1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                  if ($(i + 1) == cn) { print $i; exit } }' "$1"
}

# The Debian archive that apt already uses here: the first enabled "deb" source whose suites include
# this system's codename (so not the security archive). DEPLOY_DEBIAN_MIRROR overrides it.
# Arguments (for tests): apt's configuration directory, the codename.
debian_mirror() {
  if [[ -n "${DEPLOY_DEBIAN_MIRROR:-}" ]]; then printf '%s\n' "$DEPLOY_DEBIAN_MIRROR"; return; fi
  local f uri apt="${1:-/etc/apt}" codename="${2:-}"
  [[ -n "$codename" ]] || codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
  [[ -n "$codename" ]] || die "cannot read VERSION_CODENAME from /etc/os-release; set DEPLOY_DEBIAN_MIRROR"
  for f in "$apt"/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    uri="$(deb822_uri "$f" "$codename")"
    [[ -n "$uri" ]] && { printf '%s\n' "$uri"; return; }
  done
  for f in "$apt"/sources.list "$apt"/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    uri="$(oneline_uri "$f" "$codename")"
    [[ -n "$uri" ]] && { printf '%s\n' "$uri"; return; }
  done
  die "no Debian archive for '$codename' found in apt's sources; set DEPLOY_DEBIAN_MIRROR to a Debian mirror URL"
}

install_packages() {
  local missing
  missing="$(missing_packages)"
  [[ -z "$missing" ]] && { log "Debian packages: all present"; return; }
  local t; t="$(now)"
  if ! dpkg --print-foreign-architectures | grep -x arm64 >/dev/null; then
    log "adding dpkg architecture arm64"
    dpkg --add-architecture arm64
  fi
  log "apt-get update (missing: $(echo $missing))"
  apt-get update -qq
  # shellcheck disable=SC2086 # one package per word
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  log "Debian packages installed in $(took "$t")"
}

# make_root ROOT SUITE PYTHON [SCRIPT [VERSION]]: debootstrap an arm64 minbase root with PYTHON;
# SCRIPT is debootstrap's script for SUITE when it has none of that name, VERSION the version the
# PYTHON package must have.
make_root() {
  local root="$1" suite="$2" python="$3" script="${4:-}" version="${5:-}"
  if [[ -x "$root/usr/bin/$python" ]]; then log "arm64 root: present at $root"; return; fi
  local t mirror tmp name; t="$(now)"
  mirror="$(debian_mirror)"
  tmp="$root.tmp"
  name="$(basename "$root")"
  rm -rf "$tmp"
  mkdir -p "$TOOLS"
  log "debootstrap $suite arm64 minbase + $python from $mirror"
  # --foreign: only download and unpack, run nothing inside (the host cannot chroot into aarch64
  # without binfmt); dpkg -x below completes what the second stage would have unpacked.
  local extra=()
  if [[ -n "$script" ]]; then extra=("/usr/share/debootstrap/scripts/$script"); fi
  if ! nice -n 10 debootstrap --foreign --arch=arm64 --variant=minbase --include="$python" \
      "$suite" "$tmp" "$mirror" "${extra[@]}" >"$TOOLS/debootstrap-$name.log" 2>&1; then
    tail -n 20 "$TOOLS/debootstrap-$name.log" >&2
    die "debootstrap failed (full log: $TOOLS/debootstrap-$name.log)"
  fi
  local deb got
  if [[ -n "$version" ]]; then
    local debs=("$tmp"/var/cache/apt/archives/"${python}"_*_arm64.deb)
    deb="${debs[0]}"
    [[ -f "$deb" ]] || die "debootstrap fetched no ${python} package for arm64 from $suite"
    got="$(dpkg-deb -f "$deb" Version)"
    # The interpreter's minor version is what the proof is about (cp314 wheels and bytecode), so
    # a different minor fails; a newer Debian revision of it (testing keeps only the current
    # one, so a fresh machine can't get the pinned build) is used and said.
    [[ "${got%%.*}.$(cut -d. -f2 <<<"$got")" == "${version%%.*}.$(cut -d. -f2 <<<"$version")" ]] ||
      die "$suite now has $python $got, this script pins $version: \
check that version, then set it in ${BASH_SOURCE[0]} (the stamp makes the next run rebuild $root)"
    [[ "$got" == "$version" ]] ||
      log "note: $suite now has $python $got (this script was written against $version); proving with $got"
  fi
  for deb in "$tmp"/var/cache/apt/archives/*.deb; do dpkg -x "$deb" "$tmp"; done
  # The .debs are not needed once unpacked; they would only double the root's size.
  rm -f "$tmp"/var/cache/apt/archives/*.deb
  [[ -x "$tmp/usr/bin/$python" ]] || die "debootstrap finished but $tmp/usr/bin/$python is missing"
  rm -rf "$root"
  mv "$tmp" "$root"
  log "arm64 root ready in $(took "$t")"
}

verify() {
  local machine sysroot target
  machine="$(qemu-aarch64-static -L "$ROOT" "$ROOT/usr/bin/$PYTHON" -c 'import sys,platform;print(platform.machine())')"
  [[ "$machine" == aarch64 ]] || die "emulated $PYTHON reports machine '$machine', expected aarch64"
  sysroot="$(/usr/bin/rustc --print sysroot)"
  for target in aarch64-unknown-linux-gnu x86_64-unknown-linux-gnu; do
    [[ -d "$sysroot/lib/rustlib/$target/lib" ]] || die "/usr/bin/rustc has no $target std under $sysroot/lib/rustlib"
  done
  log "verified: $PYTHON under qemu reports aarch64; $(/usr/bin/rustc --version) has aarch64 and x86_64 std"
}

# The python3.14 root: its own stamp, so a run that fails here keeps the 3.13 part done.
py314_ok() {
  [[ -f "$PY314_STAMP" && "$(cat "$PY314_STAMP")" == "$PY314_RECIPE" && -x "$PY314_ROOT/usr/bin/$PY314" ]]
}

make_py314_root() {
  # A root from an older recipe (another pin) is rebuilt.
  [[ -f "$PY314_STAMP" ]] && rm -rf "$PY314_ROOT"
  make_root "$PY314_ROOT" "$PY314_SUITE" "$PY314" "$PY314_SCRIPT" "$PY314_VERSION"
  local version
  version="$(qemu-aarch64-static -L "$PY314_ROOT" "$PY314_ROOT/usr/bin/$PY314" -c \
    'import sys,platform;print(platform.machine(), "%d.%d" % sys.version_info[:2])')"
  [[ "$version" == "aarch64 3.14" ]] || die "emulated $PY314 reports '$version', expected 'aarch64 3.14'"
  log "verified: $PY314 $PY314_VERSION ($PY314_SUITE) under qemu reports $version"
  printf '%s' "$PY314_RECIPE" >"$PY314_STAMP"
}

main() {
  if installed_ok; then
    log "up to date ($ROOT)"
  else
    [[ "$(id -u)" == 0 ]] || die "run as root (apt-get, dpkg --add-architecture and debootstrap need it)"
    [[ "$(dpkg --print-architecture)" == amd64 ]] || die "this recipe is for an amd64 Debian host"
    install_packages
    make_root "$ROOT" "$SUITE" "$PYTHON"
    verify
    printf '%s' "$RECIPE" >"$STAMP"
  fi
  py314_ok && { log "python3.14 root: up to date ($PY314_ROOT)"; return; }
  [[ "$(id -u)" == 0 ]] || die "run as root (debootstrap needs it) to make the python3.14 root"
  make_py314_root
}

# Sourcing the file (for its tests) defines the functions without running anything.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
