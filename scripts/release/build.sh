#!/usr/bin/env bash
# Builds, checks and packages one release asset of deploy-action:
#
#   scripts/release/build.sh TARGET [DIST_DIR]     # DIST_DIR defaults to dist/
#
# Run by .github/workflows/release.yml (one matrix job per target), by CI for the x86_64 asset
# (scripts/test.sh) and by scripts/release/prove-aarch64.sh. Writes into DIST_DIR:
#   deploy-action-TARGET.tar.xz          exactly one member, `deploy-action` (mode 0755)
#   deploy-action-TARGET.tar.xz.sha256   "<hex>  deploy-action-TARGET.tar.xz"
# which is the contract with action/install.sh.
#
# The archive is made by scripts/release/package.sh.
#
# Linux targets are glibc targets built by cargo-zigbuild against glibc GLIBC_FLOOR (2.17: every
# distribution since 2014, Amazon Linux 2, Ubuntu 14.04+). musl would be fully static, but a musl
# std is not available where this is proven (see RELEASING.md). The checks refuse a binary for
# the wrong architecture or one that needs a newer glibc, and run it (natively, or under
# qemu-aarch64 when a QEMU_LD_PREFIX sysroot is given) before it is packaged.
set -euo pipefail

target="${1:?usage: scripts/release/build.sh TARGET [DIST_DIR]}"
dist="${2:-dist}"
floor="${GLIBC_FLOOR:-2.17}"
bin="${CARGO_TARGET_DIR:-target}/${target}/release/deploy-action"

fail() {
  printf '::error::release build %s: %s\n' "${target}" "$*"
  exit 1
}

case "${target}" in
  x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu)
    # The ".2.17" suffix is cargo-zigbuild's: link against that glibc version's symbols.
    cargo zigbuild --release --locked --bin deploy-action --target "${target}.${floor}"
    ;;
  x86_64-apple-darwin | aarch64-apple-darwin)
    cargo build --release --locked --bin deploy-action --target "${target}"
    ;;
  *) fail "unknown target (the assets are x86_64/aarch64 Linux gnu and macOS)" ;;
esac
[[ -f "${bin}" ]] || fail "cargo did not produce ${bin}"

# The right architecture and format: install.sh maps a runner to an asset by name only.
description="$(file -b "${bin}")"
case "${target}" in
  x86_64-unknown-linux-gnu) want='^ELF 64-bit LSB .*x86-64' ;;
  aarch64-unknown-linux-gnu) want='^ELF 64-bit LSB .*ARM aarch64' ;;
  x86_64-apple-darwin) want='^Mach-O 64-bit .*x86_64' ;;
  aarch64-apple-darwin) want='^Mach-O 64-bit .*arm64' ;;
esac
grep -Eq "${want}" <<<"${description}" || fail "${bin} is not a ${target} binary: ${description}"
echo "binary: ${description}"

run=("${bin}")
case "${target}" in
  *-linux-gnu)
    # No symbol may need a glibc newer than the floor.
    newest="$(objdump -T "${bin}" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1)"
    if [[ -n "${newest}" && "$(printf '%s\n%s\n' "${newest}" "${floor}" | sort -V | tail -n 1)" != "${floor}" ]]; then
      fail "needs glibc ${newest}, newer than the floor ${floor}"
    fi
    echo "glibc: newest symbol version ${newest:-none} (floor ${floor})"
    if [[ "${target}" == aarch64-* && "$(uname -m)" != aarch64 ]]; then
      if command -v qemu-aarch64-static >/dev/null && [[ -n "${QEMU_LD_PREFIX:-}" ]]; then
        run=(qemu-aarch64-static -L "${QEMU_LD_PREFIX}" "${bin}")
      else
        run=()
      fi
    fi
    ;;
  x86_64-apple-darwin) [[ "$(uname -sm)" == "Darwin x86_64" ]] || run=() ;;
  aarch64-apple-darwin) [[ "$(uname -sm)" == "Darwin arm64" ]] || run=() ;;
esac
if [[ ${#run[@]} -gt 0 ]]; then
  version="$("${run[@]}" --version)" || fail "${run[*]} --version failed"
  echo "runs: ${version}"
else
  echo "not run: this machine cannot execute ${target} binaries"
fi

# Packaging is its own script, so a binary built elsewhere can be packaged the same way (bench/).
bash "$(dirname "${BASH_SOURCE[0]}")/package.sh" "${target}" "${bin}" "${dist}"
