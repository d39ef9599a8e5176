#!/usr/bin/env bash
# The benchmark (issues 3, 8, 10, 20): deploy-action against cargo-lambda, the AWS CLI, boto3 and
# zappa on one local moto, and issue 20's numbers. Run on demand, not in CI:
#
#   bench/run.sh [--rounds N] [--only SECTION,...] [--keep]
#                [--coldstart-args='...'] [--bigupload-args='...'] [--preview-url-args='...']
#   bench/run.sh --scale [--stages 2000]     (issue #19: status and gc over many stages)
#   bench/run.sh --preview-url [--rounds 3]  (issue #20 §4 alone, into bench/RESULTS-preview-url.*)
#
# Sections (all of them without --only), with their time at the default rounds on this project's
# 2-core machines (the slower kind seen so far; the other took about half for the issue-20 ones):
#   startup      process start-up, hyperfine                                        ~0.5 min
#   warm         warm update, 1 and 30 MiB, and its AWS requests (runs latency too)  ~2 min
#   noop         no-op redeploy (runs warm first)                                    ~0.2 min
#   first        first deploy of a new stage                                         ~1 min
#   rss          peak RSS deploying 50 MiB, deploy-action and cargo-lambda          ~0.5 min
#   package      Flask hello: deploy-action package vs zappa package                ~3.5 min
#   rust         arm64 Rust build, deploy-action package vs cargo lambda build       ~5 min
#   latency      issue 20 §1: warm update at simulated latency, 4 configurations     ~5 min
#   coldstart    issue 20 §2: bench/coldstart.py, cold start with/without bytecode   ~10 min
#   bigupload    issue 20 §3: bench/bigupload.py, a 200 MiB zip vs aws s3 cp         ~1 min
#   preview-url  issue 20 §4: bench/preview_url.sh, event to PR comment through act  ~5 min
# All of them: about 35 minutes, plus about 10 for a first release build (and, for preview-url
# without DEPLOY_BENCH_BIN, its own release-asset build: bench/preview_url.sh). Issue 20 in one run
# (about 20 minutes; 12 on the faster kind):
#
#   bench/run.sh --only latency,coldstart,bigupload,preview-url
#
# --rounds (default 5) is for the deploy sections (latency takes 3 to 5 of them); the three
# drivers take their own options as one string each, e.g. --coldstart-args='--rounds 1 --only
# host', --bigupload-args='--mib 20', --preview-url-args='--rounds 1 --only flask-warm' (their
# defaults: 3 rounds, both interpreters, 200 MiB, every case).
#
# It installs what the selected sections need (the project's tools via scripts/install-tools.sh,
# then pinned peers in their own venvs under ${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}/
# bench-*, and hyperfine from Debian), builds deploy-action in release mode once (reused while up
# to date; DEPLOY_BENCH_BIN=path takes a binary built already), runs bench/bench.py, and writes
# bench/RESULTS.md (+ RESULTS.json with every sample). A run merges into RESULTS.json: its
# sections replace the same sections there, the others are kept, and each section names the run
# that produced it (delete RESULTS.json to start afresh). Run it under `nice` on a shared machine.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
cd "$REPO"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# The command as run (recorded in the results): an argument with spaces quoted, --x='a b'.
COMMAND="bench/run.sh"
for arg in "$@"; do
  if [[ "$arg" == *[[:space:]]* ]]; then
    if [[ "$arg" == --*=* ]]; then arg="${arg%%=*}='${arg#*=}'"; else arg="'$arg'"; fi
  fi
  COMMAND+=" $arg"
done

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

# The sections asked for (--only LIST or --only=LIST; none: all of them).
ONLY=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --only) ONLY="${args[i + 1]:-}" ;;
    --only=*) ONLY="${args[i]#--only=}" ;;
  esac
done
# True when any of the given sections runs.
wants() {
  local s
  [[ -z "$ONLY" ]] && return 0
  for s in "$@"; do
    [[ ",$ONLY," == *",$s,"* ]] && return 0
  done
  return 1
}

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

# (noop runs warm first, and warm runs latency: the same peers.)
if wants startup warm noop first latency bigupload; then
  venv awscli bench/requirements/awscli.txt
fi
if wants startup warm noop first latency; then
  venv boto3 bench/requirements/boto3.txt
fi
if wants package; then
  # zappa packages the virtualenv it runs in, so the app's own pins go in with it.
  ZAPPA_REQS=(bench/requirements/zappa.txt)
  [[ -f fixtures/flask-hello/requirements.txt ]] && ZAPPA_REQS+=(fixtures/flask-hello/requirements.txt)
  venv zappa "${ZAPPA_REQS[@]}"
fi

TOOLS_APT=()
wants startup && TOOLS_APT+=(hyperfine:hyperfine)
wants rss bigupload && TOOLS_APT+=(time:/usr/bin/time)
for tool in "${TOOLS_APT[@]}"; do
  if ! command -v "${tool#*:}" >/dev/null; then
    [[ "$(id -u)" == 0 ]] || die "${tool%%:*} is missing (apt-get install ${tool%%:*})"
    log "installing ${tool%%:*}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool%%:*}" >/dev/null
  fi
done

# One release build; cargo itself decides whether it is up to date (or DEPLOY_BENCH_BIN). Every
# section but preview-url runs it (preview-url's script picks the binary for the runner itself).
BIN_ARGS=()
if wants startup warm noop first rss package rust latency coldstart bigupload; then
  BIN="${DEPLOY_BENCH_BIN:-}"
  if [[ -z "$BIN" ]]; then
    log "cargo build --release --locked"
    t=$SECONDS
    cargo build --release --locked
    log "release build ready in $((SECONDS - t)) s"
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/deploy-action"
  fi
  [[ -x "$BIN" ]] || die "no $BIN after the build"
  BIN_ARGS=(--bin "$BIN")
fi

# The driver runs on the project venv's Python (boto3 to set up and check moto).
"$TOOLS/venv/bin/python" bench/bench.py "${BIN_ARGS[@]}" --tools "$TOOLS" --out bench/RESULTS.md \
  --command "$COMMAND" "$@"
