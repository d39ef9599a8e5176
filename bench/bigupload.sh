#!/usr/bin/env bash
# Big artifacts (issue 20 §3): a 200 MiB zip, deploy-action's multipart upload against `aws s3 cp`
# to the same moto: time and peak RSS. On a quiet machine:
#
#   bench/bigupload.sh [--mib 200]
#
# Needs the bench's awscli venv (bench/run.sh makes $DEPLOY_ACTION_TOOLS/bench-awscli) or
# DEPLOY_BENCH_AWS=path/to/aws; a release build (reused while up to date) or DEPLOY_BENCH_BIN.
# The same numbers into bench/RESULTS.md with the other sections: bench/run.sh --only bigupload.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
cd "$REPO"
# shellcheck source=scripts/env.sh
source scripts/env.sh
BIN="${DEPLOY_BENCH_BIN:-}"
if [[ -z "$BIN" ]]; then
  cargo build --release --locked
  BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/deploy-action"
fi
AWS="${DEPLOY_BENCH_AWS:-$DEPLOY_ACTION_TOOLS/bench-awscli/bin/aws}"
exec python3 bench/bigupload.py --bin "$BIN" --aws "$AWS" "$@"
