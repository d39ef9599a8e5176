#!/usr/bin/env bash
# The benchmark (issues 3, 8, 10): deploy-action against cargo-lambda, the AWS CLI, boto3 and
# zappa, on one local moto. Run on demand, not in CI:
#
#   bench/run.sh [--rounds N] [--only startup,warm,noop,first,rss,package,rust] [--keep]
#   bench/run.sh --scale [--stages 2000]     (issue #19: status and gc over many stages)
#   bench/run.sh --preview-url [--rounds 3]  (issue #20 §4: event to PR comment through act)
#
# It installs what it needs (the project's tools via scripts/install-tools.sh, then pinned peers
# in their own venvs under ${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}/bench-*, and
# hyperfine from Debian), builds deploy-action in release mode once (reused while up to date),
# runs bench/bench.py, and writes bench/RESULTS.md (+ RESULTS.json with every sample).
# About 20-25 minutes on 2 cores, plus about 10 for a first release build.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
cd "$REPO"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

COMMAND="bench/run.sh${*:+ $*}"

bash scripts/install-tools.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
TOOLS="$DEPLOY_ACTION_TOOLS"

# The scale section (issue #19): `bench/run.sh --scale [--stages N]` seeds N tagged stages on moto
# and measures `status` and `gc --dry-run` (requests and time; bench/scale.py). No peers involved.
# DEPLOY_BENCH_BIN=path takes a release binary built already (e.g. scripts/release/build.sh's).
if [[ "${1:-}" == "--scale" ]]; then
  shift
  BIN="${DEPLOY_BENCH_BIN:-}"
  if [[ -z "$BIN" ]]; then
    log "cargo build --release --locked"
    cargo build --release --locked
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/deploy-action"
  fi
  exec "$TOOLS/venv/bin/python" bench/scale.py --bin "$BIN" "$@"
fi

# The preview-URL section (issue #20 §4): bench/preview_url.sh (its own binary and fixtures).
if [[ "${1:-}" == "--preview-url" ]]; then
  shift
  PREVIEW_URL_COMMAND="$COMMAND" exec bash bench/preview_url.sh "$@"
fi

# A venv per peer, built from its pinned requirement files; a stamp records what it was built
# from, so a second run only checks.
venv() {
  local name="$1"
  shift
  local dir="$TOOLS/bench-$name" stamp want
  want="$(cat "$@")"
  stamp="$dir/.bench.stamp"
  if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  log "installing bench-$name ($*)"
  rm -rf "$dir"
  python3 -m venv "$dir"
  local reqs=() f
  for f in "$@"; do reqs+=(-r "$f"); done
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "${reqs[@]}"
  printf '%s' "$want" >"$stamp"
}

venv awscli bench/requirements/awscli.txt
venv boto3 bench/requirements/boto3.txt
# zappa packages the virtualenv it runs in, so the app's own pins go in with it.
ZAPPA_REQS=(bench/requirements/zappa.txt)
[[ -f fixtures/flask-hello/requirements.txt ]] && ZAPPA_REQS+=(fixtures/flask-hello/requirements.txt)
venv zappa "${ZAPPA_REQS[@]}"

for tool in hyperfine:hyperfine time:/usr/bin/time; do
  if ! command -v "${tool#*:}" >/dev/null; then
    [[ "$(id -u)" == 0 ]] || die "${tool%%:*} is missing (apt-get install ${tool%%:*})"
    log "installing ${tool%%:*}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool%%:*}" >/dev/null
  fi
done

# One release build; cargo itself decides whether it is up to date (or DEPLOY_BENCH_BIN).
BIN="${DEPLOY_BENCH_BIN:-}"
if [[ -z "$BIN" ]]; then
  log "cargo build --release --locked"
  t=$SECONDS
  cargo build --release --locked
  log "release build ready in $((SECONDS - t)) s"
  BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/deploy-action"
fi
[[ -x "$BIN" ]] || die "no $BIN after the build"

# The driver runs on the project venv's Python (boto3 to set up and check moto).
"$TOOLS/venv/bin/python" bench/bench.py --bin "$BIN" --tools "$TOOLS" --out bench/RESULTS.md \
  --command "$COMMAND" "$@"
