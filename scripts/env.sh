# Source this (bash): puts the pinned tools from scripts/install-tools.sh first on PATH and tells
# deploy-action and the tests where the arm64 root is. It does not set RUSTC: the crate itself
# builds with rustup's toolchain; only arm64 fixture builds pick Debian's /usr/bin/rustc.
export DEPLOY_ACTION_TOOLS="${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}"
export DEPLOY_ARM64_ROOT="${DEPLOY_ARM64_ROOT:-$DEPLOY_ACTION_TOOLS/arm64-root}"
# The arm64 root with python3.14 (Debian forky), for the cp314 proof (issue 18).
export DEPLOY_ARM64_ROOT_PY314="${DEPLOY_ARM64_ROOT_PY314:-$DEPLOY_ACTION_TOOLS/arm64-root-py314}"
case ":$PATH:" in
  *":$DEPLOY_ACTION_TOOLS/venv/bin:"*) ;;
  *) export PATH="$DEPLOY_ACTION_TOOLS/venv/bin:$PATH" ;;
esac
