#!/usr/bin/env bash
# Time to a preview URL (issue 20 §4): bench/preview_url.py with what it needs.
#
#   bench/run.sh --preview-url [--rounds 3] [--only flask-cold,flask-warm,rust-prebuilt,flask-warm-emulated]
#   bench/preview_url.sh       [the same options]
#
# The binary seeded into the runner's tool cache is the release asset, as action/install.sh puts
# it there: scripts/release/build.sh's x86_64 build (cargo zigbuild, glibc 2.17), reused when it
# exists and reports this Cargo.toml's version, else built (nice'd; ~10 min on 2 cores).
# DEPLOY_BENCH_BIN=PATH uses another binary. fixtures/rust-hello is built once for arm64 with the
# project's toolchain (`deploy-action package --architecture arm64`) and reused while the fixture
# is unchanged. Writes bench/RESULTS-preview-url.md and .json. About 5 minutes with 3 rounds.
# As a section of bench/run.sh (--only preview-url, these options in --preview-url-args='...'),
# bench.py passes --json and --md '' and renders the run into bench/RESULTS.md instead.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
cd "$REPO"

log() { printf '[preview-url] %s\n' "$*" >&2; }

bash scripts/install-tools.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

target_dir="${CARGO_TARGET_DIR:-$REPO/target}"
version="$(sed -n '/^version = "\(.*\)"$/{s//\1/p;q;}' Cargo.toml)"
BIN="${DEPLOY_BENCH_BIN:-}"
origin="DEPLOY_BENCH_BIN"
if [[ -z "$BIN" ]]; then
  BIN="$target_dir/x86_64-unknown-linux-gnu/release/deploy-action"
  if [[ ! -x "$BIN" ]] || [[ "$("$BIN" --version 2>/dev/null)" != "deploy-action $version" ]]; then
    log "building the release asset: scripts/release/build.sh x86_64-unknown-linux-gnu"
    nice -n 10 bash scripts/release/build.sh x86_64-unknown-linux-gnu "$target_dir/release-dist"
  fi
  origin="release asset build (scripts/release/build.sh x86_64-unknown-linux-gnu) of $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')"
fi

# The prebuilt Rust artifact, rebuilt only when the fixture changed.
out="$target_dir/bench-preview-url"
zip="$out/rust-hello-arm64.zip"
stamp="$(git ls-files -s fixtures/rust-hello | sha256sum | cut -c1-64)"
if [[ ! -f "$zip" || "$(cat "$zip.stamp" 2>/dev/null)" != "$stamp" ]]; then
  log "building fixtures/rust-hello for arm64 (deploy-action package --architecture arm64)"
  rm -rf "$out/rust-src" "$zip"
  mkdir -p "$out/rust-src"
  cp -a fixtures/rust-hello/. "$out/rust-src/"
  nice -n 10 "$BIN" package --source "$out/rust-src" --architecture arm64 --out "$zip"
  printf '%s' "$stamp" >"$zip.stamp"
fi

exec "$DEPLOY_ACTION_TOOLS/venv/bin/python" bench/preview_url.py --bin "$BIN" --bin-origin "$origin" \
  --rust-zip "$zip" --command "${PREVIEW_URL_COMMAND:-bench/preview_url.sh${*:+ $*}}" "$@"
