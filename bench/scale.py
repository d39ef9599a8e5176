#!/usr/bin/env python3
"""The scale section of the benchmark (issue #19): an app with N tagged stage functions on moto
(default 2,000: 200 repositories x 10 open PRs), then `status` and `gc --dry-run` through the
fault proxy, counting their requests in the proxy's log and timing them.

    bench/run.sh --only scale [--stages N]          (or directly:)
    python3 bench/scale.py --bin target/release/deploy-action [--stages 2000] [--out FILE]

Goal: `status` in at most 25 requests plus 2 per stage, and under a minute here. The stages are
created straight at moto (not through the proxy), as deploy-action leaves them: tags
`deploy-action:app`, `deploy-action:stage` and `deploy-action:url`, one published version with
its provenance, and `live` on it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APP = "scale"
ROLE = "arn:aws:iam::123456789012:role/lambda-exec"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def client(service: str, endpoint: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="OBSERVER0000000000", aws_secret_access_key="x")


def seed(moto: str, stages: int) -> float:
    iam = client("iam", moto)
    iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument="{}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return {'statusCode': 200}\n")
    code = buf.getvalue()

    def one(i: int) -> None:
        lam = client("lambda", moto)
        stage = "main" if i == 0 else f"pr-{i}"
        name = f"{APP}-{stage}"
        lam.create_function(
            FunctionName=name, Runtime="python3.13", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": code}, MemorySize=512, Architectures=["arm64"],
            Tags={"deploy-action:app": APP, "deploy-action:stage": stage,
                  "deploy-action:url": "none"})
        v = lam.publish_version(FunctionName=name, Description=f"sha=abc run={i} ref=refs/pull/{i}/merge")
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v["Version"])

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(stages)))
    return time.monotonic() - t0


def proxy_log(proxy: str, clear=False) -> list:
    req = urllib.request.Request(f"{proxy}/__proxy/log", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"[]")


def measure(bin_path: str, proxy: str, args: list[str]) -> dict:
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": proxy, "AWS_ACCESS_KEY_ID": "AKIABENCH0000000001",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "NO_COLOR": "1",
    }
    proxy_log(proxy, clear=True)
    t0 = time.monotonic()
    out = subprocess.run([bin_path, *args], env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - t0
    if out.returncode != 0:
        raise SystemExit(f"{args} failed: {out.stderr[-2000:]}")
    log = proxy_log(proxy)
    ops: dict[str, int] = {}
    for e in log:
        op = e.get("operation") or f"{e.get('service')}:?"
        ops[op] = ops.get(op, 0) + 1
    return {"args": args, "seconds": round(seconds, 2), "requests": len(log), "operations": ops,
            "report": json.loads(out.stdout)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--stages", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS-scale.json"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-scale-")
    moto_port, procs = free_port(), []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=open(os.path.join(work, "moto.log"), "w"), stderr=subprocess.STDOUT))
        wait_port(moto_port)
        moto = f"http://127.0.0.1:{moto_port}"
        proxy_proc = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "tests/support/fault_proxy.py"), "--upstream",
             moto, "--port", "0"], stdout=subprocess.PIPE, stderr=open(os.path.join(work, "proxy.log"), "w"),
            text=True)
        procs.append(proxy_proc)
        port = int(proxy_proc.stdout.readline().split()[1])
        proxy = f"http://127.0.0.1:{port}"
        print(f"[scale] seeding {args.stages} stages", file=sys.stderr)
        seeded = seed(moto, args.stages)
        print(f"[scale] seeded in {seeded:.0f} s", file=sys.stderr)
        status = measure(args.bin, proxy, ["status", "--app", APP, "--output", "json"])
        found = len(status["report"]["stages"])
        gc = measure(args.bin, proxy, ["gc", "--app", APP, "--dry-run", "--output", "json"])
        # Once more: the first run also pays for moto's first look at 2,000 functions.
        again = measure(args.bin, proxy, ["status", "--app", APP, "--output", "json"])
        status.pop("report")
        again.pop("report")
        gc_report = gc.pop("report")
        budget = 25 + 2 * args.stages
        result = {
            "stages": args.stages, "found": found, "seed_seconds": round(seeded, 1),
            "status": status, "gc_dry_run": gc, "status_again": again, "status_budget": budget,
            "status_within_budget": status["requests"] <= budget,
            "status_under_a_minute": min(status["seconds"], again["seconds"]) < 60,
            "gc_would_delete": len(gc_report["deleted_stages"]),
            "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
            "binary": args.bin,
        }
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print(json.dumps(result, indent=1))
        return 0 if result["status_within_budget"] and found == args.stages else 1
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
