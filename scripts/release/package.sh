#!/usr/bin/env bash
# Packages one built deploy-action binary as a release asset (called by scripts/release/build.sh,
# which builds and checks the binary first; also usable on a binary built elsewhere, e.g. to
# measure an asset without a second release build):
#
#   scripts/release/package.sh TARGET BINARY [DIST_DIR]     # DIST_DIR defaults to dist/
#
# Writes the contract with action/install.sh into DIST_DIR:
#   deploy-action-TARGET.tar.xz          exactly one member, `deploy-action` (mode 0755)
#   deploy-action-TARGET.tar.xz.sha256   "<hex>  deploy-action-TARGET.tar.xz"
set -euo pipefail

target="${1:?usage: scripts/release/package.sh TARGET BINARY [DIST_DIR]}"
bin="${2:?usage: scripts/release/package.sh TARGET BINARY [DIST_DIR]}"
dist="${3:-dist}"
[[ -f "${bin}" ]] || { printf '::error::release package %s: no binary at %s\n' "${target}" "${bin}"; exit 1; }

asset="deploy-action-${target}.tar.xz"
mkdir -p "${dist}"
stage="$(mktemp -d)"
trap 'rm -rf -- "${stage}"' EXIT
cp "${bin}" "${stage}/deploy-action"
chmod 0755 "${stage}/deploy-action"
# xz, not gzip: the x86_64 asset is 5.4 MB instead of 8.5 MB (README, "Measured"); -9e gains a
# little over the default -6 at a cost paid once per release, and unpacking needs ~65 MiB.
# One thread (-T1): a multi-threaded xz splits the stream into blocks that depend on the machine.
# No owner names, numeric ids 0.
if [[ "$(tar --version 2>/dev/null)" == *"GNU tar"* ]]; then
  tar -C "${stage}" --owner=0 --group=0 --numeric-owner -cf - deploy-action | xz -9e -T1 >"${dist}/${asset}"
else
  # bsdtar on macOS: libarchive writes xz itself, without an xz program.
  tar -cJf "${dist}/${asset}" --options xz:compression-level=9 -C "${stage}" deploy-action
fi
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
