#!/usr/bin/env bash
# Cold start of the Python bundles with and without bytecode (issue 20 §2): time from process
# start to the first response, Flask and FastAPI hello, under the emulated aarch64 CPython 3.13
# and a host CPython 3.13 if there is one. On a quiet machine:
#
#   bench/coldstart.sh [--rounds 3] [--only emulated,host] [--json bench/RESULTS-coldstart.json]
#
# Uses a release build (reused while up to date); needs scripts/install-arm64-toolchain.sh's root.
# The same numbers into bench/RESULTS.md with the other sections: bench/run.sh --only coldstart.
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
exec python3 bench/coldstart.py --bin "$BIN" "$@"
