"""Big artifacts (issue 20 §3): a 200 MiB zip deployed by deploy-action (multipart, 8 MiB parts,
4 in flight) against `aws s3 cp` of the same file (also multipart, its defaults: 8 MiB parts,
10 in flight) to the same local moto; wall time and peak RSS (/usr/bin/time), and the S3
requests deploy-action sent (moto's log).

    python3 bench/bigupload.py --bin target/release/deploy-action --aws PATH/TO/aws [--mib 200]

The deploy-action time is the whole deploy (HeadObject, the upload, CreateFunction from S3,
version, alias, URL): an upper bound of its upload time.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "artifacts"
TOOLS = os.environ.get("DEPLOY_ACTION_TOOLS") or os.path.expanduser("~/.cache/deploy-action")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, env):
    """(seconds, peak RSS in MB, stdout, stderr lines with the second each arrived, relative to
    the start) of one command under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t, \
            tempfile.TemporaryFile("w+") as out:
        start = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/time", "-o", t.name, "-f", "%M"] + cmd, env=env,
                                stdout=out, stderr=subprocess.PIPE, text=True)
        lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stderr]
        proc.wait()
        took = time.monotonic() - start
        out.seek(0)
        stdout = out.read()
        if proc.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{stdout}\n" + "\n".join(l for _, l in lines))
        rss_kb = int(t.read().split()[-1])
    return took, rss_kb / 1000, stdout, lines


def upload_seconds(lines):
    """The multipart upload's own time in a deploy's log: from the line after
    CreateMultipartUpload ("uploading N bytes ... in P parts") to "uploaded N bytes"."""
    start = next((t for t, l in lines if "uploading " in l and " parts of " in l), None)
    end = next((t for t, l in lines if "uploaded " in l and " bytes to " in l), None)
    return None if start is None or end is None else end - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--aws", required=True)
    ap.add_argument("--mib", type=int, default=200)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bigupload-")
    port = free_port()
    moto = subprocess.Popen(
        [os.path.join(TOOLS, "venv/bin/python"), os.path.join(REPO, "bench/moto_server.py"),
         "-H", "127.0.0.1", "-p", str(port)],
        stdout=open(os.path.join(work, "moto.log"), "w"), stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint,
               AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run([args.aws, "s3api", "create-bucket", "--bucket", BUCKET], env=env,
                       check=True, capture_output=True)
        role = json.loads(subprocess.run(
            [args.aws, "iam", "create-role", "--role-name", "bench-exec", "--assume-role-policy-document",
             json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                         "Principal": {"Service": "lambda.amazonaws.com"}}]})],
            env=env, check=True, capture_output=True, text=True).stdout)["Role"]["Arn"]
        zpath = os.path.join(work, "big.zip")
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as z:
            z.writestr("app.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
            with z.open("filler.bin", "w", force_zip64=True) as f:
                for _ in range(args.mib):
                    f.write(os.urandom(1 << 20))
        # deploy-action normalises a prebuilt zip it did not write (deterministic order, times,
        # compression); do that first, separately, so the deploy measures the upload path.
        raw = zpath
        zpath = os.path.join(work, "normalized.zip")
        pk_s, pk_rss, _, _ = timed([args.bin, "package", "--artifact", raw, "--out", zpath], env)
        size = os.path.getsize(zpath)
        load_before = os.getloadavg()[0]
        da_s, da_rss, out, da_lines = timed(
            [args.bin, "deploy", "--app", "big", "--stage", "main", "--artifact", zpath,
             "--handler", "app.handler", "--runtime", "python3.13", "--s3-bucket", BUCKET,
             "--execution-role", role, "--output", "json"], dict(env, GITHUB_RUN_ID="1"))
        cli_s, cli_rss, _, _ = timed([args.aws, "s3", "cp", zpath, f"s3://{BUCKET}/cli/big.zip"], env)
        load_after = os.getloadavg()[0]
        print(f"{size / 2**20:.0f} MiB zip; load average {load_before:.1f} → {load_after:.1f} "
              f"({os.cpu_count()} CPUs)\n")
        print("| tool | wall time | peak RSS |\n|---|---|---|")
        print(f"| deploy-action package (normalising the prebuilt zip) | {pk_s:.1f} s | {pk_rss:.0f} MB |")
        print(f"| deploy-action deploy (whole deploy, multipart upload) | {da_s:.1f} s | {da_rss:.0f} MB |")
        print(f"| aws s3 cp (upload only) | {cli_s:.1f} s | {cli_rss:.0f} MB |")
        up = upload_seconds(da_lines)
        if up is not None:
            print(f"\ndeploy-action's multipart upload inside that deploy (its log lines): {up:.1f} s, "
                  f"{up / cli_s:.2f}× the whole `aws s3 cp` ({cli_s:.1f} s, process start included)")
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
