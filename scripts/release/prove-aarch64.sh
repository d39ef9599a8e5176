#!/usr/bin/env bash
# Proves the aarch64 Linux release asset on this x86_64 machine (on demand; CI builds only the
# x86_64 asset, see RELEASING.md):
#   1. builds it as release.yml does (scripts/release/build.sh: cargo-zigbuild, glibc 2.17 floor),
#      with Debian's rustc 1.96, whose libstd-rust-web-dev:arm64 is the aarch64 std available
#      here (rustup has none offline); the script's own checks run: ELF aarch64, glibc floor, and
#      `deploy-action --version` under qemu-aarch64-static with the arm64 root as sysroot;
#   2. checks the packaged asset the way action/install.sh does: the checksum, exactly one member
#      `deploy-action`, and runs the unpacked binary under qemu.
#
#   scripts/release/prove-aarch64.sh      # ~15-40 min from scratch on 2 shared cores
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/install-tools.sh
# shellcheck source=/dev/null
source scripts/env.sh

target=aarch64-unknown-linux-gnu
asset="deploy-action-${target}.tar.xz"
dist="${CARGO_TARGET_DIR:-target}/release-dist"
start=$(date +%s)
RUSTC=/usr/bin/rustc QEMU_LD_PREFIX="${DEPLOY_ARM64_ROOT}" nice bash scripts/release/build.sh "${target}" "${dist}"
echo "build: $(($(date +%s) - start)) s"

(cd "${dist}" && sha256sum --check --strict "${asset}.sha256")
member="$(tar -tJf "${dist}/${asset}")"
[[ "${member}" == deploy-action ]] || { echo "unexpected archive layout: ${member}" >&2; exit 1; }
unpacked="$(mktemp -d)"
trap 'rm -rf -- "${unpacked}"' EXIT
tar -xJf "${dist}/${asset}" -C "${unpacked}"
out="$(qemu-aarch64-static -L "${DEPLOY_ARM64_ROOT}" "${unpacked}/deploy-action" --version)"
version="$(awk '/^\[/ { p = ($0 == "[package]") } p && /^version *=/ { gsub(/.*= *"|".*/, ""); print; exit }' Cargo.toml)"
[[ "${out}" == "deploy-action ${version}" ]] || { echo "unexpected --version output: ${out}" >&2; exit 1; }
echo "proven: ${asset} ($(wc -c <"${dist}/${asset}") bytes) runs under qemu-aarch64: ${out}"
