#!/usr/bin/env bash
# The project's test command (README and CI run exactly this). It installs the pinned tools it
# needs (moto, cargo-lambda + zig, uv, act, the arm64 toolchain and root), then runs every test:
# the support servers' self-test, the action's install-script test, and `cargo test` (unit
# tests and the one integration binary against moto, the fault proxy and the fake GitHub).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-tools.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

echo "== support servers self-test"
python3 tests/support/test_servers.py

if [ -f action/tests/install_test.sh ]; then
  echo "== action install script"
  bash action/tests/install_test.sh
fi

echo "== cargo test"
cargo test --locked --all-targets "$@"
