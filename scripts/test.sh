#!/usr/bin/env bash
# The project's test command (README and CI run exactly this). It installs the pinned tools it
# needs (moto, cargo-lambda + zig, uv, act, the arm64 toolchain and root), then runs every test:
# the support servers' self-test, the action's install-script test, the x86_64 release binary
# (once; RELEASING.md says why), and `cargo test` (unit tests and the one integration binary
# against moto, the fault proxy and the fake GitHub).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-tools.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

echo "== support servers self-test"
python3 tests/support/test_servers.py

echo "== action: lint (schemas, pins, actionlint, shellcheck)"
LINT_STRICT=1 bash action/tests/lint.sh
echo "== action: install script against a local fake release"
bash action/tests/install_test.sh
echo "== action: wiring through act (host mode)"
bash action/tests/act_wiring_test.sh

echo "== release binary: x86_64 Linux, built once per run (the act scenario release_and_install publishes it)"
release_start=$(date +%s)
bash scripts/release/build.sh x86_64-unknown-linux-gnu "${CARGO_TARGET_DIR:-target}/release-dist"
echo "== release binary took $(($(date +%s) - release_start)) s"

echo "== cargo test"
cargo test --locked --all-targets "$@"
