#!/usr/bin/env bash
# Builds, checks and packages one release asset of deploy-action:
#
#   scripts/release/build.sh TARGET [DIST_DIR]     # DIST_DIR defaults to dist/
#
# Run by .github/workflows/release.yml (one matrix job per target), by CI for the x86_64 asset
# (scripts/test.sh) and by scripts/release/prove-aarch64.sh. Writes into DIST_DIR:
#   deploy-action-TARGET.tar.gz          exactly one member, `deploy-action` (mode 0755)
#   deploy-action-TARGET.tar.gz.sha256   "<hex>  deploy-action-TARGET.tar.gz"
# which is the contract with action/install.sh.
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

asset="deploy-action-${target}.tar.gz"
mkdir -p "${dist}"
stage="$(mktemp -d)"
trap 'rm -rf -- "${stage}"' EXIT
cp "${bin}" "${stage}/deploy-action"
chmod 0755 "${stage}/deploy-action"
# No owner names, numeric ids 0: the archive is the same whoever builds it.
tar -C "${stage}" --owner=0 --group=0 --numeric-owner -czf "${dist}/${asset}" deploy-action 2>/dev/null ||
  tar -C "${stage}" -czf "${dist}/${asset}" deploy-action # bsdtar on macOS
(
  cd "${dist}"
  if command -v sha256sum >/dev/null; then
    sha256sum "${asset}" >"${asset}.sha256"
  else
    shasum -a 256 "${asset}" >"${asset}.sha256"
  fi
  cat "${asset}.sha256"
)
echo "asset: ${dist}/${asset} ($(wc -c <"${dist}/${asset}") bytes; binary $(wc -c <"${bin}") bytes)"
