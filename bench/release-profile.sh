#!/usr/bin/env bash
# Measures one release-profile candidate for the release assets (issue 21): a clean
# `cargo zigbuild --release` of the Linux x86_64 asset with profile overrides given as
# CARGO_PROFILE_RELEASE_* variables, then the binary's size, the asset's size as .tar.xz (what
# release.yml ships) and as .tar.gz (for comparison), and the `--version` start-up time (median of
# 21 runs). Appends one JSON line to bench/release-profile.jsonl.
#
#   bench/release-profile.sh NAME [KEY=VALUE...]
#   bench/release-profile.sh default                       # the profile as Cargo.toml has it
#   bench/release-profile.sh fat-abort CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 ...
#
#   BENCH_BIN=path/to/deploy-action bench/release-profile.sh current   # measure a binary already built
#   (e.g. by scripts/release/build.sh) instead of building one; build_s is then 0.
#
# Cargo's own default release profile, the "before" of the README table:
#   bench/release-profile.sh cargo-default CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
#     CARGO_PROFILE_RELEASE_STRIP=debuginfo CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
#
# Each candidate builds in its own target dir (target/profile-NAME, or BENCH_TARGET_DIR), from scratch: ~10-20 min on
# 2 shared cores. It runs under `nice`; start it in the background.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
name="${1:?usage: bench/release-profile.sh NAME [CARGO_PROFILE_RELEASE_X=V...]}"
shift
target="${TARGET:-x86_64-unknown-linux-gnu}"
floor="${GLIBC_FLOOR:-2.17}"
dir="${BENCH_TARGET_DIR:-target/profile-${name}}"
start=$(date +%s)
if [[ -n "${BENCH_BIN:-}" ]]; then
  bin="${BENCH_BIN}"
else
  env "$@" CARGO_TARGET_DIR="${dir}" nice \
    cargo zigbuild --release --locked --bin deploy-action --target "${target}.${floor}"
  bin="${dir}/${target}/release/deploy-action"
fi
build_s=$(($(date +%s) - start))
stage="$(mktemp -d)"
trap 'rm -rf -- "${stage}"' EXIT
cp "${bin}" "${stage}/deploy-action"
tar -C "${stage}" -czf "${stage}/asset.tar.gz" deploy-action
# The same compression as scripts/release/build.sh (xz -9e).
tar -C "${stage}" -cf - deploy-action | xz -9e -T1 >"${stage}/asset.tar.xz"
"${bin}" --version >/dev/null
times=()
for _ in $(seq 21); do
  t0=$(date +%s%N)
  "${bin}" --version >/dev/null
  t1=$(date +%s%N)
  times+=($(((t1 - t0) / 1000)))
done
median_us=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 11p)
line=$(printf '{"name":"%s","overrides":"%s","target":"%s","build_s":%d,"binary_bytes":%d,"asset_xz_bytes":%d,"asset_gz_bytes":%d,"version_median_us":%d,"rustc":"%s"}' \
  "${name}" "$*" "${target}" "${build_s}" "$(stat -c %s "${bin}")" "$(stat -c %s "${stage}/asset.tar.xz")" \
  "$(stat -c %s "${stage}/asset.tar.gz")" \
  "${median_us}" "$(rustc --version)")
echo "${line}" | tee -a bench/release-profile.jsonl
