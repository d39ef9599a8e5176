#!/usr/bin/env bash
# Runs the installed deploy-action with the inputs that action.yml put into DEPLOY_* variables.
# Inputs are validated here only where the shell is concerned (the command word, booleans); every
# other value goes to the CLI untouched through the environment and is validated there.
set -CeEuo pipefail
IFS=$'\n\t'

bail() {
  printf '::error::deploy-action: %s\n' "$*"
  exit 2
}

bin="${DEPLOY_ACTION_BIN:-}"
if [[ -z "${bin}" || ! -x "${bin}" ]]; then
  bail "the install step did not provide a deploy-action binary (got '${bin}')"
fi

command="${INPUT_COMMAND:-deploy}"
case "${command}" in
  deploy | package | teardown | rollback | promote | status | policy | serve | invoke | gc | logs | cost | config) ;;
  *) bail "input 'command' must be one of deploy, package, teardown, rollback, promote, status, policy, serve, invoke, gc, logs, cost, config; got '${command}'" ;;
esac

# Boolean inputs: only "true" sets the flag; "false" and "" leave it unset, so the CLI never has to
# read a falsy string.
for name in DEPLOY_ADOPT DEPLOY_FORCE DEPLOY_FAIL_ON_FORK DEPLOY_DRY_RUN DEPLOY_KEEP_LOGS DEPLOY_SNAPSTART DEPLOY_CREATE_CERTIFICATE DEPLOY_NO_COMPILE; do
  case "${!name:-}" in
    true) ;;
    false | '') unset "${name}" ;;
    *)
      # (tr, not ${x,,}: macOS ships bash 3.2)
      input="$(printf '%s' "${name#DEPLOY_}" | tr 'A-Z_' 'a-z-')"
      bail "input '${input}' must be true or false; got '${!name}'"
      ;;
  esac
done

# Empty inputs mean "not set"; drop them so the CLI's own defaults apply unambiguously.
while IFS= read -r name; do
  if [[ -z "${!name}" ]]; then
    unset "${name}"
  fi
done < <(compgen -e -X '!DEPLOY_*')

if [[ -n "${DEPLOY_ACTION_EXTRA_PATH:-}" ]]; then
  PATH="${DEPLOY_ACTION_EXTRA_PATH}:${PATH}"
fi
unset DEPLOY_ACTION_BIN DEPLOY_ACTION_EXTRA_PATH INPUT_COMMAND

exec "${bin}" "${command}"
