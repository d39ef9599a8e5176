#!/usr/bin/env bash
# How long the action's install step takes with a release (issue 21): action/install.sh against
# the fake GitHub serving a release published by scripts/release/publish.sh from the real x86_64
# asset, first on an empty tool cache (download, checksum, layout and header checks, one run of
# the binary, into the cache), then with the binary in the cache. Median of N runs each; appends
# one JSON line to bench/release-install.jsonl.
#
#   bench/release-install.sh [N]     # needs target/release-dist/ (scripts/release/build.sh)
#   BENCH_LABEL=... CARGO_TARGET_DIR=DIR bench/release-install.sh   # another asset in DIR/release-dist
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
n="${1:-7}"
target=x86_64-unknown-linux-gnu
dist="${CARGO_TARGET_DIR:-target}/release-dist"
asset="${dist}/deploy-action-${target}.tar.xz"
[[ -f "${asset}" ]] || bash scripts/release/build.sh "${target}" "${dist}"
version="$(awk '/^\[/ { p = ($0 == "[package]") } p && /^version *=/ { gsub(/.*= *"|".*/, ""); print; exit }' Cargo.toml)"

work="$(mktemp -d)"
token=ghs_bench_token_0123456789
python3 tests/support/fake_github.py --port 0 --token "${token}" --oidc-request-token x >"${work}/gh.out" 2>"${work}/gh.err" &
gh_pid=$!
trap 'kill "${gh_pid}" 2>/dev/null || true; rm -rf -- "${work}"' EXIT
for _ in $(seq 50); do [[ -s "${work}/gh.out" ]] && break; sleep 0.1; done
github="http://127.0.0.1:$(awk '{print $2}' "${work}/gh.out")"
mkdir -p "${work}/dist"
cp "${asset}" "${asset}.sha256" "${work}/dist/"
TAG="v${version}" SHA="$(printf '%040d' 1)" GH_TOKEN="${token}" GITHUB_REPOSITORY=org/deploy-action \
  GITHUB_API_URL="${github}" bash scripts/release/publish.sh publish "${work}/dist" >/dev/null

# run_install CACHE: one install step, as action.yml runs it (@v<major>, the release base URL).
run_install() {
  mkdir -p "${work}/temp"
  : >"${work}/out"
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="${work}" RUNNER_OS=Linux RUNNER_ARCH=X64 \
    RUNNER_TOOL_CACHE="$1" RUNNER_TEMP="${work}/temp" GITHUB_OUTPUT="${work}/out" \
    GITHUB_ACTION_PATH="${PWD}" DEPLOY_ACTION_REF="v${version%%.*}" DEPLOY_ACTION_REPOSITORY=org/deploy-action \
    DEPLOY_ACTION_RELEASE_BASE_URL="${github}/org/deploy-action/releases/download" \
    INPUT_COMMAND=deploy INPUT_BUILD=none \
    bash --noprofile --norc action/install.sh >"${work}/log" 2>&1 || { cat "${work}/log" >&2; exit 1; }
}
ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
first=()
hit=()
for i in $(seq "${n}"); do
  cache="${work}/cache-${i}"
  t0=$(ms); run_install "${cache}"; t1=$(ms)
  grep -q "into the tool cache" "${work}/log" || { cat "${work}/log" >&2; exit 1; }
  run_install "${cache}"; t2=$(ms)
  grep -q "from the tool cache" "${work}/log" || { cat "${work}/log" >&2; exit 1; }
  first+=($((t1 - t0)))
  hit+=($((t2 - t1)))
done
line=$(printf '{"label":"%s","asset_bytes":%d,"runs":%d,"first_install_ms_median":%d,"first_install_ms_max":%d,"cache_hit_ms_median":%d,"cache_hit_ms_max":%d,"load":"%s"}' \
  "${BENCH_LABEL:-release asset}" "$(wc -c <"${asset}")" "${n}" \
  "$(printf '%s\n' "${first[@]}" | median)" "$(printf '%s\n' "${first[@]}" | sort -n | tail -n 1)" \
  "$(printf '%s\n' "${hit[@]}" | median)" "$(printf '%s\n' "${hit[@]}" | sort -n | tail -n 1)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)")
echo "${line}" | tee -a bench/release-install.jsonl
