#!/usr/bin/env bash
# Runs one act scenario of tests/integration/act.rs (an example workflow under nektos/act, host
# mode, against moto + the fault proxy + the fake GitHub on 127.0.0.1) and keeps its act logs.
#
#   scripts/act-scenario.sh                  # lists the scenarios
#   scripts/act-scenario.sh pr-preview       # runs one; logs in target/act-logs/pr-preview/
#
# Each act run's full log is also printed (cargo test --nocapture), one after the other.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scenarios=(pr-preview push-to-main manual-dispatch fork-pull-request failing-deploy release-and-install)
if [[ $# -ne 1 ]] || [[ " ${scenarios[*]} " != *" $1 "* ]]; then
  echo "usage: scripts/act-scenario.sh SCENARIO" >&2
  printf '  %s\n' "${scenarios[@]}" >&2
  exit 2
fi
name="$1"

bash scripts/install-tools.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

logs="${CARGO_TARGET_DIR:-target}/act-logs/${name}"
rm -rf -- "${logs}"
mkdir -p -- "${logs}"
logs="$(cd "${logs}" && pwd)"
status=0
DEPLOY_ACTION_ACT_LOGS="${logs}" cargo test --locked --test integration -- \
  --exact "act::${name//-/_}" --nocapture || status=$?
echo
echo "act logs of ${name}:"
find "${logs}" -name '*.log' | sort | sed 's/^/  /'
exit "${status}"
