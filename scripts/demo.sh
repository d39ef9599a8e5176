#!/usr/bin/env bash
# A complete deploy on this machine, no AWS account: starts moto on a free loopback port, makes
# the artifact bucket and an execution role in it, builds deploy-action, deploys the Flask hello
# (fixtures/flask-hello, built for arm64 with manylinux aarch64 wheels) and prints the JSON report.
#
#   scripts/demo.sh [--serve] [extra deploy flags...]
#
# --serve: afterwards, download the artifact that went live from moto's S3, run it with
# `deploy-action serve` (qemu-user runs the arm64 bundle on an x86_64 host) and fetch its URL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

serve=false
if [[ "${1:-}" == "--serve" ]]; then
  serve=true
  shift
fi

bash scripts/install-tools.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --locked --quiet
bin="$PWD/target/debug/deploy-action"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
python3 -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
python3 - <<'PY'
import boto3
boto3.client("s3").create_bucket(Bucket="demo-artifacts")
boto3.client("iam").create_role(RoleName="demo-lambda", AssumeRolePolicyDocument="{}")
PY

echo "== deploy-action deploy (moto at $AWS_ENDPOINT_URL)" >&2
"$bin" deploy --app hello --stage demo --source fixtures/flask-hello \
  --s3-bucket demo-artifacts --execution-role arn:aws:iam::123456789012:role/demo-lambda \
  --output json "$@" | tee "$work/report.json"

python3 - "$work/report.json" <<'PY'
import boto3, json, sys
report = json.load(open(sys.argv[1]))
alias = boto3.client("lambda").get_alias(FunctionName=report["function_name"], Name="live")
print(f"== moto: alias live of {report['function_name']} -> version {alias['FunctionVersion']}",
      file=sys.stderr)
PY

if $serve; then
  key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifact"].split("/",3)[3])' "$work/report.json")"
  python3 -c 'import boto3,sys; boto3.client("s3").download_file("demo-artifacts", sys.argv[1], sys.argv[2])' "$key" "$work/live.zip"
  sport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  echo "== deploy-action serve (the bytes that went live) on 127.0.0.1:$sport" >&2
  "$bin" serve --artifact "$work/live.zip" --architecture arm64 --port "$sport" 2>"$work/serve.log" &
  pids+=($!)
  for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$sport/" -o "$work/body" 2>/dev/null && break
    sleep 0.2
  done
  echo "== curl http://127.0.0.1:$sport/" >&2
  cat "$work/body"; echo
fi
