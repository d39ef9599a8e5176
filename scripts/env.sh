# Source this (bash): puts the pinned tools from scripts/install-tools.sh first on PATH and tells
# deploy-action and the tests where the arm64 root is. It does not set RUSTC: the crate itself
# builds with rustup's toolchain; only arm64 fixture builds pick Debian's /usr/bin/rustc.
export DEPLOY_ACTION_TOOLS="${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}"
export DEPLOY_ARM64_ROOT="${DEPLOY_ARM64_ROOT:-$DEPLOY_ACTION_TOOLS/arm64-root}"
case ":$PATH:" in
  *":$DEPLOY_ACTION_TOOLS/venv/bin:"*) ;;
  *) export PATH="$DEPLOY_ACTION_TOOLS/venv/bin:$PATH" ;;
esac
