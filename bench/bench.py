#!/usr/bin/env python3
"""deploy-action's benchmark against the tools users would pick instead (issues 3, 8, 10), and
issue 20's numbers, in one run with selectable sections.

Run through bench/run.sh, which installs the pinned peers and builds the release binary first:

    python bench.py --bin target/release/deploy-action --tools ~/.cache/deploy-action \
        --out bench/RESULTS.md [--rounds 5] [--only SECTION,...] \
        [--coldstart-args='...'] [--bigupload-args='...'] [--preview-url-args='...']
    python bench.py --render bench/RESULTS.json --out bench/RESULTS.md    (the report again)

Sections: startup, warm, noop, first, rss, package, rust, latency (issue 20 §1), and the
drivers of issue 20 run as subprocesses with their JSON output: coldstart (§2, coldstart.py),
bigupload (§3, bigupload.py), preview-url (§4, preview_url.sh); each --X-args string is split
like a shell would and passed to that driver (its own options, e.g. --rounds 1).

One moto (and the repository's fault proxy in front of it, for counting requests) serves every
deploy of the deploy sections; every tool deploys the same bytes to its own functions in
interleaved rounds, and each deploy is checked afterwards (alias `live` runs the new code).
Medians and ratios go to a Markdown file and to stdout; every sample goes to a JSON file next to
it. A run merges into that JSON: the sections it ran replace the same sections there, the others
are kept, and each section records the run (command, date, load average) that produced it.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

import boto3
from botocore.config import Config

import bigupload
import coldstart
import preview_url

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
REGION = "us-east-1"
BUCKET = "bench-artifacts"
ROLE_NAME = "bench-exec"
ROLE = f"arn:aws:iam::123456789012:role/{ROLE_NAME}"
MiB = 1 << 20
RUNTIME = "python3.13"
HANDLER = "app.handler"
APP_PY = 'def handler(event, context):\n    return {"statusCode": 200, "body": "Hello World"}\n'
TOOLS = ("deploy-action", "cargo-lambda", "aws-cli", "boto3")
# The sections, in the order a run takes them. Each owns the samples with its name and these keys
# of the results (the requests table's keys by prefix, REQUEST_OWNERS); a run that took a section
# replaces them when it merges into an earlier RESULTS.json.
SECTIONS = ("startup", "warm", "noop", "first", "rss", "package", "rust", "latency", "coldstart",
            "bigupload", "preview-url")
RESULT_KEYS = {
    "startup": ("startup",), "warm": ("zip_sizes",), "rss": ("rss", "rss_zip_size"),
    "package": ("package",), "rust": ("rust_zip_size",), "latency": ("latency",),
    "coldstart": ("coldstart",), "bigupload": ("bigupload",), "preview-url": ("preview_url",),
}
REQUEST_OWNERS = (("warm ", "warm"), ("noop:", "noop"), ("first:", "first"))
# The sections that run deploy-action's --bin (preview-url seeds the runner with its own binary),
# and those run by their own drivers (their options in --X-args, not --rounds).
BIN_SECTIONS = tuple(s for s in SECTIONS if s != "preview-url")
DRIVER_SECTIONS = ("coldstart", "bigupload", "preview-url")
# The order of the Versions table's rows.
VERSION_ORDER = (
    "deploy-action", "deploy-action in the runner's tool cache", "cargo-lambda",
    "zig (cargo-lambda's linker)", "rustc (builds deploy-action)", "rustc for arm64 fixtures",
    "cargo", "AWS CLI", "boto3 / botocore", "zappa", "moto (server)", "uv", "hyperfine",
    "qemu-user-static", "emulated aarch64 CPython 3.13 (arm64 root)", "host CPython 3.13", "act",
    "Python (driver)",
)
# ELF e_machine values.
EM_X86_64, EM_AARCH64 = 62, 183


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------


class Failed(Exception):
    pass


def run(cmd, env, cwd=None, timeout=1800):
    """Run a command to completion; return (seconds, stdout). Raises Failed with its stderr."""
    t0 = time.perf_counter()
    p = subprocess.run(
        cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout,
    )
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise Failed(
            f"{' '.join(map(str, cmd))} exited {p.returncode}\n--- stderr (tail)\n"
            + "\n".join(p.stderr.splitlines()[-30:])
            + "\n--- stdout (tail)\n" + "\n".join(p.stdout.splitlines()[-10:])
        )
    return dt, p.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """moto and the fault proxy, stopped on exit."""

    def __init__(self, python: str, work: str):
        self.procs: list[subprocess.Popen] = []
        port = free_port()
        self.moto_log = open(os.path.join(work, "moto.log"), "w")
        self.procs.append(subprocess.Popen(
            [python, os.path.join(BENCH, "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=self.moto_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        ))
        self.moto = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.moto + "/moto-api/", timeout=2).read()
                break
            except Exception:
                if time.monotonic() > deadline or self.procs[0].poll() is not None:
                    raise Failed("moto did not start (see moto.log)")
                time.sleep(0.2)
        proxy = subprocess.Popen(
            [python, os.path.join(BENCH, "fault_proxy_nodelay.py"), "--upstream", self.moto,
             "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        )
        self.procs.append(proxy)
        line = proxy.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise Failed(f"fault proxy did not start: {line!r}")
        self.proxy = f"http://127.0.0.1:{line.split()[1]}"

    def proxy_log(self) -> list[dict]:
        with urllib.request.urlopen(self.proxy + "/__proxy/log", timeout=10) as r:
            return json.load(r)

    def clear_proxy_log(self) -> None:
        req = urllib.request.Request(self.proxy + "/__proxy/log", method="DELETE")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.moto_log.close()


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def sha256_b64(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode()


def median(xs):
    return statistics.median(xs) if xs else None


def fmt_s(x) -> str:
    if x is None:
        return "n/a"
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s"


def ratio(a, b):
    return a / b if a is not None and b else None


def stat_cells(xs) -> str:
    """`median | min | max` table cells."""
    if not xs:
        return "n/a | n/a | n/a"
    return f"{fmt_s(median(xs))} | {fmt_s(min(xs))} | {fmt_s(max(xs))}"


def fmt_ratio(x) -> str:
    return "n/a" if x is None else f"{x:.2f}×"


def fmt_size(n) -> str:
    if n is None:
        return "n/a"
    return f"{n / MiB:.2f} MiB" if n >= MiB else f"{n / 1024:.0f} KiB"


def elf_summary(zip_path: str) -> dict:
    """ELF files in a zip by architecture, and whether boto3/botocore are shipped."""
    out = {"x86_64": 0, "aarch64": 0, "other": 0, "files": 0, "boto": False, "x86_64_files": []}
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            out["files"] += 1
            top = info.filename.split("/", 1)[0]
            if top in ("boto3", "botocore"):
                out["boto"] = True
            with z.open(info) as f:
                head = f.read(20)
            if head[:4] == b"\x7fELF":
                m = int.from_bytes(head[18:20], "little")
                key = {EM_X86_64: "x86_64", EM_AARCH64: "aarch64"}.get(m, "other")
                out[key] += 1
                if key == "x86_64":
                    out["x86_64_files"].append(info.filename)
    return out


def elf_machine(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(20)
    m = int.from_bytes(head[18:20], "little")
    return {EM_X86_64: "x86_64", EM_AARCH64: "aarch64"}.get(m, f"e_machine {m}")


def loadavg() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def verdict(met) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def goal_table(goals: list[dict]) -> str:
    """A goal | measured | verdict table, then the gap of each missed goal."""
    L = ["| goal | measured | |", "|---|---|---|"]
    L += [f"| {t['target']} | {t['measured']} | {verdict(t['met'])} |" for t in goals]
    L.append("")
    L += [f"- {t['target']}: {t['gap']}." for t in goals if t.get("gap")]
    return "\n".join(L) + "\n"


def first_line(cmd, env=None) -> str:
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        text = (p.stdout or p.stderr).strip()
        return text.splitlines()[0] if text else "?"
    except Exception as e:  # a missing tool shows as such in the versions table
        return f"unavailable ({e.__class__.__name__})"


# ------------------------------------------------------------------------------------------
# Results of several runs: which section came from which run
# ------------------------------------------------------------------------------------------


def request_owner(key: str) -> str:
    return next((sec for prefix, sec in REQUEST_OWNERS if key.startswith(prefix)), "warm")


def present_sections(samples: list[dict], results: dict) -> list[str]:
    """The sections that have data in these results, in SECTIONS order."""
    have = {s["section"] for s in samples}
    have |= {sec for sec, keys in RESULT_KEYS.items() if any(k in results for k in keys)}
    have |= {request_owner(k) for k in results.get("requests", {})}
    have |= set(results.get("section_runs", {}))
    return [sec for sec in SECTIONS if sec in have]


def run_key(info: dict) -> tuple[str, str]:
    """The run a section came from: its command and when the run started."""
    return info.get("command", "?"), info.get("run_started", info.get("started", "?"))


def by_run(runs: dict, sections) -> dict[tuple[str, str], list[str]]:
    """The sections grouped by the run that produced them."""
    out: dict[tuple[str, str], list[str]] = {}
    for sec in sections:
        out.setdefault(run_key(runs.get(sec, {})), []).append(sec)
    return out


def load_row(machine: list, prefix: str) -> str | None:
    return next((row[1] for row in machine if row[0].startswith(prefix)), None)


def upgrade(samples: list[dict], results: dict) -> dict:
    """Results written before sections were recorded one by one (one run, its machine and
    versions for all, and the latency section's own "run"): the same in today's form."""
    present = present_sections(samples, results)
    runs = results.setdefault("section_runs", {})
    old = results.get("run", {})
    for sec in present:
        if sec in runs:
            continue
        lat = results.get("latency", {}).get("run") if sec == "latency" else None
        if lat:
            runs[sec] = {"command": lat["command"], "started": lat["started"],
                         "load_start": lat["load"], "deploy-action": lat["deploy-action"]}
        else:
            runs[sec] = {"command": old.get("command", "?"), "started": old.get("started", "?"),
                         "rounds": old.get("rounds"), "load_of": "the run's",
                         "load_start": load_row(results.get("machine", []), "load average (1/5/15"),
                         "load_end": load_row(results.get("machine", []), "load average at end")}
    for table in ("machine", "versions"):
        results[table] = [row if len(row) == 3 else [row[0], row[1], present]
                          for row in results.get(table, []) if not row[0].startswith("load average")]
    return results


def merge_rows(old: list, new: list, order=()) -> list:
    """Rows [what, value, sections]: the new run's rows for its sections, the old rows for the
    others; rows with the same what and value become one; rows of one `what` stay together, in
    `order` (then as they come)."""
    ran = {sec for row in new for sec in row[2]}
    rows: list[list] = []
    for what, value, secs in old:
        secs = [x for x in secs if x not in ran]
        if secs:
            rows.append([what, value, secs])
    for what, value, secs in new:
        same = next((r for r in rows if r[0] == what and r[1] == value), None)
        if same:
            same[2] = [x for x in SECTIONS if x in same[2] or x in secs]
        else:
            rows.append([what, value, list(secs)])
    order = list(dict.fromkeys([*order, *(r[0] for r in rows)]))
    return sorted(rows, key=lambda r: order.index(r[0]))


def merge(old: dict, new: dict, ran: list[str]) -> dict:
    """This run's sections (`ran`) replace the same sections of an earlier RESULTS.json; the
    others are kept as they were, with the run that produced them."""
    o_samples, o_res = old["samples"], upgrade(old["samples"], old["results"])
    n_samples, n_res = new["samples"], new["results"]
    samples = [s for s in o_samples if s["section"] not in ran] + n_samples
    res = dict(n_res)
    for sec, keys in RESULT_KEYS.items():
        if sec not in ran:
            res.update({k: o_res[k] for k in keys if k in o_res})
    reqs = {k: v for k, v in o_res.get("requests", {}).items() if request_owner(k) not in ran}
    reqs.update(n_res.get("requests", {}))
    if reqs:
        res["requests"] = reqs
    kept = [x for x in present_sections(o_samples, o_res) if x not in ran]
    res["notes"] = [n for n in o_res.get("notes", [])
                    if (isinstance(n, dict) and n["section"] not in ran)
                    or (isinstance(n, str) and kept)] + n_res["notes"]
    runs = {**{k: v for k, v in o_res["section_runs"].items() if k not in ran},
            **n_res["section_runs"]}
    res["section_runs"] = {sec: runs[sec] for sec in SECTIONS if sec in runs}
    res["machine"] = merge_rows(o_res.get("machine", []), n_res["machine"])
    res["versions"] = merge_rows(o_res.get("versions", []), n_res["versions"], VERSION_ORDER)
    return {"samples": samples, "results": res}


# ------------------------------------------------------------------------------------------
# The bench
# ------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.rounds = args.rounds
        # No --bin: a run of preview-url only (it seeds the runner with its own binary).
        self.da = os.path.abspath(args.bin) if args.bin else None
        self.tools_dir = args.tools
        self.aws = os.path.join(args.tools, "bench-awscli/bin/aws")
        self.boto3_py = os.path.join(args.tools, "bench-boto3/bin/python")
        self.zappa_py = os.path.join(args.tools, "bench-zappa/bin/python")
        self.cargo_lambda = shutil.which("cargo-lambda")
        if not self.cargo_lambda:
            raise Failed("cargo-lambda is not on PATH (source scripts/env.sh)")
        self.work = tempfile.mkdtemp(prefix="deploy-action-bench-")
        self.samples: list[dict] = []
        self.results: dict = {"notes": [], "section_runs": {}}
        self.servers: Servers | None = None
        arm_root = os.environ.get("DEPLOY_ARM64_ROOT") or os.path.join(args.tools, "arm64-root")
        # cargo-lambda deploys a binary, not a zip: it is given a small prebuilt aarch64 ELF as
        # `bootstrap` (Debian arm64's /usr/bin/true: it only reads the ELF header, for the
        # architecture) plus the same files the others deploy, via --include.
        self.bootstrap = os.path.join(arm_root, "usr/bin/true")
        if not os.path.isfile(self.bootstrap):
            raise Failed(f"{self.bootstrap} is missing (run scripts/install-arm64-toolchain.sh)")
        # cargo-lambda runs `cargo metadata` on a manifest even when given --binary-path; the
        # smallest package keeps that cost as low as it can be (its best case).
        self.cl_manifest = os.path.join(BENCH, "fixtures/cargo-lambda-manifest/Cargo.toml")
        self.load_start = os.getloadavg()

    # -- environment ------------------------------------------------------------------------

    def base_env(self) -> dict:
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("AWS_", "GITHUB_", "ACTIONS_", "DEPLOY_", "RUST_LOG"))
            and k not in ("CARGO_TARGET_DIR", "RUSTC", "VIRTUAL_ENV", "TMPDIR")
        }
        env["LANG"] = "C.UTF-8"
        env["NO_COLOR"] = "1"
        return env

    def aws_env(self, endpoint: str) -> dict:
        env = self.base_env()
        env.update({
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            # No profile or config file of this machine's user leaks in.
            "AWS_CONFIG_FILE": os.path.join(self.work, "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.work, "no-aws-credentials"),
            "AWS_PAGER": "",
        })
        return env

    def client(self, service: str, endpoint: str | None = None):
        return boto3.client(
            service, region_name=REGION, endpoint_url=endpoint or self.servers.moto,
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def note(self, section: str, text: str) -> None:
        self.results["notes"].append({"section": section, "text": text})

    def sample(self, section: str, tool: str, case: str, seconds: float, **extra) -> None:
        self.samples.append(
            {"section": section, "tool": tool, "case": case, "seconds": seconds, **extra}
        )

    def times(self, section: str, tool: str, case: str) -> list[float]:
        return [
            s["seconds"] for s in self.samples
            if s["section"] == section and s["tool"] == tool and s["case"] == case
        ]

    # -- artifacts --------------------------------------------------------------------------

    def make_payload(self, name: str, size: int) -> dict:
        """A Python bundle (app.py + `size` random bytes), zipped by `deploy-action package`
        (the deterministic zip a deploy-action user would deploy; the CLI and boto3 upload the
        same file), and the same files next to a `bootstrap` for cargo-lambda."""
        d = os.path.join(self.work, "payloads", name)
        bundle = os.path.join(d, "bundle")
        os.makedirs(bundle)
        with open(os.path.join(bundle, "app.py"), "w") as f:
            f.write(APP_PY)
        with open(os.path.join(bundle, "data.bin"), "wb") as f:
            left = size
            while left:
                n = min(left, 4 * MiB)
                f.write(os.urandom(n))
                left -= n
        zip_path = os.path.join(d, "bundle.zip")
        _, out = run(
            [self.da, "package", "--artifact", bundle, "--runtime", RUNTIME, "--handler",
             HANDLER, "--architecture", "arm64", "--out", zip_path, "--output", "json"],
            self.base_env(),
        )
        report = json.loads(out)
        cl_dir = os.path.join(d, "cargo-lambda")
        os.makedirs(cl_dir)
        shutil.copy(self.bootstrap, os.path.join(cl_dir, "bootstrap"))
        for f in ("app.py", "data.bin"):
            os.link(os.path.join(bundle, f), os.path.join(cl_dir, f))
        return {"zip": zip_path, "code_sha256": report["code_sha256"], "size": report["size"],
                "cl_dir": cl_dir}

    # -- the four ways to deploy --------------------------------------------------------------

    def da_cmd(self, stage: str, payload: dict) -> list[str]:
        return [self.da, "deploy", "--app", "bench", "--stage", stage, "--artifact",
                payload["zip"], "--runtime", RUNTIME, "--handler", HANDLER, "--architecture",
                "arm64", "--s3-bucket", BUCKET, "--execution-role", ROLE, "--output", "json"]

    def cl_cmd(self, function: str, create=False) -> list[str]:
        """Run in the payload's cargo-lambda directory."""
        cmd = [self.cargo_lambda, "lambda", "deploy", "--manifest-path", self.cl_manifest,
               "--binary-path", "bootstrap", "--include", "app.py", "--include", "data.bin",
               "--s3-bucket", BUCKET, "--alias", "live", "--enable-function-url"]
        if create:
            cmd += ["--iam-role", ROLE]
        return [*cmd, function]

    def deploy_da(self, stage: str, payload: dict, endpoint: str) -> tuple[float, dict]:
        dt, out = run(self.da_cmd(stage, payload), self.aws_env(endpoint))
        return dt, json.loads(out)

    def deploy_cl(self, function: str, payload: dict, endpoint: str, create=False):
        dt, _ = run(self.cl_cmd(function, create), self.aws_env(endpoint), cwd=payload["cl_dir"])
        # cargo-lambda zips next to the binary; that zip is what it deployed.
        return dt, sha256_b64(os.path.join(payload["cl_dir"], "bootstrap.zip"))

    def deploy_cli(self, function: str, payload: dict, endpoint: str, create=False) -> float:
        env = self.aws_env(endpoint)
        key = f"peers/{function}.zip"
        aws = self.aws
        t0 = time.perf_counter()
        run([aws, "s3", "cp", payload["zip"], f"s3://{BUCKET}/{key}", "--only-show-errors"], env)
        if create:
            run([aws, "lambda", "create-function", "--function-name", function, "--runtime",
                 RUNTIME, "--handler", HANDLER, "--role", ROLE, "--architectures", "arm64",
                 "--memory-size", "512", "--timeout", "30",
                 "--code", f"S3Bucket={BUCKET},S3Key={key}"], env)
            run([aws, "lambda", "wait", "function-active-v2", "--function-name", function], env)
        else:
            run([aws, "lambda", "update-function-code", "--function-name", function,
                 "--s3-bucket", BUCKET, "--s3-key", key], env)
            run([aws, "lambda", "wait", "function-updated-v2", "--function-name", function], env)
        _, v = run([aws, "lambda", "publish-version", "--function-name", function, "--query",
                    "Version", "--output", "text"], env)
        v = v.strip()
        if create:
            run([aws, "lambda", "create-alias", "--function-name", function, "--name", "live",
                 "--function-version", v], env)
            run([aws, "lambda", "create-function-url-config", "--function-name", function,
                 "--qualifier", "live", "--auth-type", "NONE"], env)
            run([aws, "lambda", "add-permission", "--function-name", function, "--qualifier",
                 "live", "--statement-id", "FunctionURLAllowPublicAccess", "--action",
                 "lambda:InvokeFunctionUrl", "--principal", "*",
                 "--function-url-auth-type", "NONE"], env)
            run([aws, "lambda", "add-permission", "--function-name", function, "--qualifier",
                 "live", "--statement-id", "FunctionURLInvokeAllowPublicAccess", "--action",
                 "lambda:InvokeFunction", "--principal", "*", "--invoked-via-function-url"], env)
        else:
            run([aws, "lambda", "update-alias", "--function-name", function, "--name", "live",
                 "--function-version", v], env)
        return time.perf_counter() - t0

    def deploy_boto3(self, function: str, payload: dict, endpoint: str, create=False):
        key = f"peers/{function}.zip"
        cmd = [self.boto3_py, os.path.join(BENCH, "peers/boto3_deploy.py"),
               "create" if create else "update", function, payload["zip"], BUCKET, key]
        if create:
            cmd += [ROLE, RUNTIME, HANDLER]
        dt, out = run(cmd, self.aws_env(endpoint))
        return dt, json.loads(out.strip().splitlines()[-1])

    def deploy(self, tool: str, name: str, payload: dict, endpoint: str, create=False):
        """One deploy with `tool` to its function for `name`; returns (seconds, function,
        expected CodeSha256 of live)."""
        if tool == "deploy-action":
            dt, report = self.deploy_da(name, payload, endpoint)
            if report["code_sha256"] != payload["code_sha256"]:
                raise Failed(f"deploy-action reported {report['code_sha256']}")
            return dt, report["function_name"], payload["code_sha256"]
        function = {"cargo-lambda": "cl", "aws-cli": "cli", "boto3": "b3"}[tool] + "-" + name
        if tool == "cargo-lambda":
            dt, sha = self.deploy_cl(function, payload, endpoint, create)
            return dt, function, sha
        if tool == "aws-cli":
            return self.deploy_cli(function, payload, endpoint, create), function, payload[
                "code_sha256"]
        dt, _ = self.deploy_boto3(function, payload, endpoint, create)
        return dt, function, payload["code_sha256"]

    def check_live(self, function: str, code_sha256: str, url=True) -> None:
        """After every deploy: `live` runs the new code and the function URL is on it."""
        lam = self.client("lambda")
        alias = lam.get_alias(FunctionName=function, Name="live")
        conf = lam.get_function_configuration(
            FunctionName=function, Qualifier=alias["FunctionVersion"]
        )
        if conf["CodeSha256"] != code_sha256:
            raise Failed(
                f"{function}: live is version {alias['FunctionVersion']} with {conf['CodeSha256']}"
                f", expected {code_sha256}"
            )
        if url:
            lam.get_function_url_config(FunctionName=function, Qualifier="live")

    def order(self, r: int) -> list[str]:
        k = r % len(TOOLS)
        return list(TOOLS[k:] + TOOLS[:k])

    # -- sections -------------------------------------------------------------------------------

    def setup_moto(self) -> None:
        self.servers = Servers(os.path.join(self.tools_dir, "venv/bin/python"), self.work)
        self.client("s3").create_bucket(Bucket=BUCKET)
        self.client("iam").create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"Service": "lambda.amazonaws.com"}}],
            }),
        )
        log(f"moto at {self.servers.moto}, fault proxy at {self.servers.proxy}")

    def section_warm(self) -> None:
        """Warm update with changed 1 MiB and 30 MiB bundles, interleaved rounds."""
        moto = self.servers.moto
        sizes = {"1 MiB": 1 * MiB, "30 MiB": 30 * MiB}
        self.warm_names = {case: f"warm{size // MiB}m" for case, size in sizes.items()}
        for case, size in sizes.items():
            log(f"warm update: creating the {case} functions")
            p = self.make_payload(f"warm-setup-{size}", size)
            for tool in TOOLS:
                _, fn, sha = self.deploy(tool, self.warm_names[case], p, moto, create=True)
                self.check_live(fn, sha)
        self.last_payload = {}
        for r in range(self.rounds):
            for case, size in sizes.items():
                p = self.make_payload(f"warm-{r}-{size}", size)
                self.results.setdefault("zip_sizes", {})[case] = p["size"]
                for tool in self.order(r):
                    dt, fn, sha = self.deploy(tool, self.warm_names[case], p, moto)
                    self.check_live(fn, sha)
                    self.sample("warm", tool, case, dt, round=r)
                self.last_payload[case] = p
                log(f"warm round {r + 1}/{self.rounds} {case}: " + ", ".join(
                    f"{t} {fmt_s(self.times('warm', t, case)[-1])}" for t in TOOLS))

    def count_requests(self, label: str, deploy, check=None) -> dict:
        """Run `deploy(proxy_endpoint)` with the proxy logging (then `check()`, untimed); return
        the requests with their offsets from the process start (the proxy stamps arrivals with
        the same monotonic clock)."""
        self.servers.clear_proxy_log()
        t0 = time.monotonic()
        deploy(self.servers.proxy)
        wall = time.monotonic() - t0
        entries = self.servers.proxy_log()
        if check:
            check()
        return {
            "label": label, "count": len(entries), "wall": wall,
            "ops": [e["operation"].split(":", 1)[1] for e in entries],
            "in_requests": sum(e["duration"] for e in entries),
            "timeline": [(e["operation"], e["t"] - t0, e["duration"]) for e in entries],
            "slowest": sorted(
                ({"op": e["operation"], "duration": e["duration"]} for e in entries),
                key=lambda e: -e["duration"])[:3],
        }

    def section_requests(self) -> None:
        """AWS requests per warm update for each tool, through the fault proxy, with the time
        each request spent in the proxy and moto (where a slow deploy's time goes)."""
        out = self.results.setdefault("requests", {})
        for case, size in (("1 MiB", 1 * MiB), ("30 MiB", 30 * MiB)):
            p = self.make_payload(f"requests-warm-{size}", size)
            for tool in TOOLS:
                got = {}

                def go(endpoint, tool=tool):
                    got["r"] = self.deploy(tool, self.warm_names[case], p, endpoint)

                out[f"warm {case}:{tool}"] = self.count_requests(
                    f"warm update {case}, {tool}", go,
                    lambda: self.check_live(got["r"][1], got["r"][2]))
            self.last_payload[case] = p

    # The simulated-latency matrix (issue 20 §1): (latency per request, update window).
    LATENCY_CONFIGS = ((0.03, 0.5), (0.03, 1.0), (0.03, 3.0), (0.08, 1.0))
    # The configuration the issue's goals are set for, and the goals.
    LATENCY_GOAL_CONFIG = (0.03, 1.0)
    LATENCY_GOAL_SECONDS = 1.25
    LATENCY_GOAL_RATIO = 0.8
    # Requests any safe warm update makes one after the other: upload, code update, (the
    # update window), publish, move the alias. deploy-action makes as many: its first reads
    # (live, its version and the artifact's HEAD, together), the code update with the zip
    # inside (the S3 copy is stored during the window), publish, move the alias.
    FLOOR_ROUND_TRIPS = 4
    DA_FLOOR_ROUND_TRIPS = 4
    # Operations every tool's warm update may send; the ones a warm-up deploy shows are added.
    LATENCY_OPS = (
        "lambda:GetAlias", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
        "lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:UpdateAlias",
        "lambda:GetFunctionUrlConfig", "lambda:GetPolicy", "lambda:ListVersionsByFunction",
        "lambda:ListAliases", "lambda:DeleteFunction", "lambda:GetFunctionConcurrency",
        "s3:HeadObject", "s3:PutObject", "logs:DescribeLogGroups",
    )

    @staticmethod
    def latency_case(delay: float, busy: float) -> str:
        return f"{delay * 1000:.0f} ms, {busy:g} s window"

    def proxy_config(self, cfg: dict) -> None:
        req = urllib.request.Request(
            self.servers.proxy + "/__proxy/config", data=json.dumps(cfg).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def proxy_reset(self) -> None:
        req = urllib.request.Request(self.servers.proxy + "/__proxy/reset", data=b"",
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def section_latency(self) -> None:
        """Not a measurement of AWS: the same warm update (1 MiB) with the proxy adding a fixed
        delay to every request and holding each function InProgress for a while after a code
        update (409 to writes meanwhile), as Lambda does, for each (latency, window) of
        LATENCY_CONFIGS. Shows how the request count and the waits weigh once requests cost
        what they cost over the internet. Its own functions, so it runs on its own too."""
        proxy = self.servers.proxy
        rounds = max(3, min(self.rounds, 5))
        stage = "lat1m"
        p = self.make_payload("latency-setup", 1 * MiB)
        fns = {}
        for tool in TOOLS:
            _, fns[tool], sha = self.deploy(tool, stage, p, self.servers.moto, create=True)
            self.check_live(fns[tool], sha)
        # A warm-up update through the proxy shows which operations each tool sends.
        p = self.make_payload("latency-warmup", 1 * MiB)
        self.servers.clear_proxy_log()
        for tool in TOOLS:
            _, fn, sha = self.deploy(tool, stage, p, proxy)
            self.check_live(fn, sha)
        ops = sorted(set(self.LATENCY_OPS) | {e["operation"] for e in self.servers.proxy_log()
                                               if e.get("operation")})
        out = self.results["latency"] = {"configs": [], "rounds": rounds}
        try:
            for delay, busy in self.LATENCY_CONFIGS:
                case = self.latency_case(delay, busy)
                self.proxy_config({"op_delay": {op: delay for op in ops}, "busy_seconds": busy})
                entry = {"delay": delay, "busy": busy, "case": case}
                for r in range(rounds):
                    p = self.make_payload(f"latency-{delay}-{busy}-{r}", 1 * MiB)
                    for tool in self.order(r):
                        got = {}

                        def go(endpoint, tool=tool, p=p):
                            got["r"] = self.deploy(tool, stage, p, endpoint)

                        if tool == "deploy-action":
                            # Where its time goes, with the proxy's log of this deploy.
                            reqs = self.count_requests(f"{case}, round {r + 1}", go)
                            dt = got["r"][0]
                            entry.setdefault("timelines", []).append(reqs)
                        else:
                            go(proxy)
                            dt = got["r"][0]
                        self.check_live(got["r"][1], got["r"][2])
                        self.sample("latency", tool, case, dt, round=r)
                        time.sleep(busy)  # the next deploy starts outside the update window
                # Keep the timeline of the median deploy only.
                tls = sorted(entry.pop("timelines", []), key=lambda t: t["wall"])
                if tls:
                    entry["timeline"] = tls[len(tls) // 2]
                out["configs"].append(entry)
                log(f"simulated latency {case}: " + ", ".join(
                    f"{t} {fmt_s(median(self.times('latency', t, case)))}" for t in TOOLS))
        finally:
            self.proxy_reset()

    def section_noop(self) -> None:
        """Redeploy what is live: no upload, no publish."""
        p = self.last_payload["1 MiB"]
        stage = self.warm_names["1 MiB"]
        lam = self.client("lambda")
        before = lam.get_alias(FunctionName=f"bench-{stage}", Name="live")["FunctionVersion"]
        for r in range(self.rounds):
            dt, report = self.deploy_da(stage, p, self.servers.moto)
            if report["changed"] or report["version"] != before:
                raise Failed(f"no-op deploy changed something: {report}")
            self.sample("noop", "deploy-action", "1 MiB", dt, round=r)
        reqs = self.results.setdefault("requests", {})
        for i in range(2):
            reqs[f"noop:{i}"] = self.count_requests(
                "no-op redeploy, deploy-action", lambda e: self.deploy_da(stage, p, e))
        log(f"no-op: {fmt_s(median(self.times('noop', 'deploy-action', '1 MiB')))}, "
            f"{reqs['noop:0']['count']} requests")

    def section_first(self) -> None:
        """First deploy of a new stage: create function, version, alias, URL, permissions."""
        for r in range(self.rounds):
            p = self.make_payload(f"first-{r}", 1 * MiB)
            for tool in self.order(r):
                dt, fn, sha = self.deploy(tool, f"new{r}", p, self.servers.moto, create=True)
                self.check_live(fn, sha)
                self.sample("first", tool, "1 MiB", dt, round=r)
            log(f"first deploy round {r + 1}/{self.rounds}: " + ", ".join(
                f"{t} {fmt_s(self.times('first', t, '1 MiB')[-1])}" for t in TOOLS))
        p = self.make_payload("first-requests", 1 * MiB)
        reqs = self.results.setdefault("requests", {})
        for tool in TOOLS:
            got = {}

            def go(endpoint, tool=tool):
                got["r"] = self.deploy(tool, "newreq", p, endpoint, create=True)

            reqs[f"first:{tool}"] = self.count_requests(
                f"first deploy, {tool}", go, lambda: self.check_live(got["r"][1], got["r"][2]))

    def section_startup(self) -> None:
        """Process start-up with hyperfine (no shell)."""
        hf = shutil.which("hyperfine")
        if not hf:
            self.note("startup", "hyperfine missing: start-up not measured")
            return
        out = os.path.join(self.work, "hyperfine.json")
        cmds = [f"{self.da} --version", f"{self.cargo_lambda} lambda --version",
                f"{self.aws} --version", f"{self.boto3_py} -c 'import boto3'"]
        run([hf, "-N", "--warmup", "5", "--runs", "30", "--export-json", out, *cmds],
            self.base_env(), timeout=600)
        with open(out) as f:
            data = json.load(f)
        names = ["deploy-action --version", "cargo lambda --version", "aws --version",
                 "python -c 'import boto3'"]
        self.results["startup"] = [
            {"command": n, "median": r["median"], "mean": r["mean"], "stddev": r["stddev"],
             "min": r["min"], "runs": len(r["times"])}
            for n, r in zip(names, data["results"])
        ]
        log(f"start-up: deploy-action --version {fmt_s(data['results'][0]['median'])}")

    def section_rss(self) -> None:
        """Peak RSS while deploying a changed 50 MiB artifact (warm update)."""
        tv = "/usr/bin/time"
        if not os.path.exists(tv):
            self.note("rss", "/usr/bin/time missing: peak RSS not measured")
            return
        moto = self.servers.moto
        p = self.make_payload("rss-setup", 50 * MiB)
        for tool in ("deploy-action", "cargo-lambda"):
            _, fn, sha = self.deploy(tool, "rss50m", p, moto, create=True)
        rss = self.results.setdefault("rss", {})
        for r in range(3):
            p = self.make_payload(f"rss-{r}", 50 * MiB)
            self.results["rss_zip_size"] = p["size"]
            for tool in ("deploy-action", "cargo-lambda"):
                tf = os.path.join(self.work, f"time-{tool}-{r}.txt")
                if tool == "deploy-action":
                    cmd, cwd = self.da_cmd("rss50m", p), None
                    fn, sha = "bench-rss50m", p["code_sha256"]
                else:
                    cmd, cwd, fn = self.cl_cmd("cl-rss50m"), p["cl_dir"], "cl-rss50m"
                dt, _ = run([tv, "-v", "-o", tf, *cmd], self.aws_env(moto), cwd=cwd)
                if tool == "cargo-lambda":
                    sha = sha256_b64(os.path.join(p["cl_dir"], "bootstrap.zip"))
                self.check_live(fn, sha)
                with open(tf) as f:
                    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                                       f.read()).group(1))
                rss.setdefault(tool, []).append(kb * 1024)
                self.sample("rss", tool, "50 MiB", dt, round=r, rss=kb * 1024)
        log(f"peak RSS, 50 MiB: deploy-action {fmt_size(max(rss['deploy-action']))}, "
            f"cargo-lambda {fmt_size(max(rss['cargo-lambda']))}")

    def section_rust(self) -> None:
        """arm64 Rust build of fixtures/rust-hello: deploy-action package vs cargo lambda build,
        same toolchain (Debian's /usr/bin/rustc with the aarch64 std), clean and incremental."""
        rustc = "/usr/bin/rustc"
        if not os.path.exists(rustc):
            self.note("rust", "/usr/bin/rustc missing: arm64 Rust builds skipped")
            return
        src = os.path.join(self.work, "rust-hello")
        shutil.copytree(os.path.join(REPO, "fixtures/rust-hello"), src,
                        ignore=shutil.ignore_patterns("target"))
        env = self.base_env()
        env["RUSTC"] = rustc
        run(["cargo", "fetch", "--manifest-path", os.path.join(src, "Cargo.toml")], env)
        targets = {t: os.path.join(self.work, f"target-{t}") for t in ("deploy-action",
                                                                      "cargo-lambda")}
        out_zip = os.path.join(self.work, "rust-hello.zip")

        def build(tool: str) -> float:
            e = dict(env, CARGO_TARGET_DIR=targets[tool])
            if tool == "deploy-action":
                dt, out = run([self.da, "package", "--source", src, "--architecture", "arm64",
                               "--out", out_zip, "--output", "json"], e)
                report = json.loads(out)
                summary = elf_summary(out_zip)
                if summary["aarch64"] != 1 or summary["x86_64"]:
                    raise Failed(f"deploy-action's rust zip: {summary}")
                self.results["rust_zip_size"] = report["size"]
            else:
                dt, _ = run([self.cargo_lambda, "lambda", "build", "--release", "--arm64"], e,
                            cwd=src)
                arch = elf_machine(os.path.join(targets[tool], "lambda/rust-hello/bootstrap"))
                if arch != "aarch64":
                    raise Failed(f"cargo lambda build made a {arch} bootstrap")
            return dt

        for tool in ("deploy-action", "cargo-lambda"):
            shutil.rmtree(targets[tool], ignore_errors=True)
            dt = build(tool)
            self.sample("rust", tool, "clean", dt)
            log(f"arm64 Rust clean build, {tool}: {fmt_s(dt)}")
        for r in range(3):
            pair = ("deploy-action", "cargo-lambda")
            for tool in pair if r % 2 == 0 else pair[::-1]:
                os.utime(os.path.join(src, "src/main.rs"))
                self.sample("rust", tool, "incremental", build(tool), round=r)
        log("arm64 Rust incremental: " + ", ".join(
            f"{t} {fmt_s(median(self.times('rust', t, 'incremental')))}"
            for t in ("deploy-action", "cargo-lambda")))

    def section_package(self) -> None:
        """The Flask hello: deploy-action package (arm64, python3.13) vs zappa package."""
        app = os.path.join(REPO, "fixtures/flask-hello")
        if not os.path.isdir(app):
            self.note("package", "fixtures/flask-hello missing: Python packaging skipped")
            return
        pk = self.results.setdefault("package", {})
        env = self.base_env()
        # deploy-action: cold = empty wheel caches (uv, pip), warm = caches kept between runs.
        warm_cache = os.path.join(self.work, "da-cache-warm")

        def da_package(cache: str, tag: str) -> float:
            e = dict(env, XDG_CACHE_HOME=cache, UV_CACHE_DIR=os.path.join(cache, "uv"),
                     PIP_CACHE_DIR=os.path.join(cache, "pip"))
            out = os.path.join(self.work, f"flask-da-{tag}.zip")
            dt, rep = run([self.da, "package", "--source", app, "--architecture", "arm64",
                           "--out", out, "--output", "json"], e)
            rep = json.loads(rep)
            pk.setdefault("deploy-action arm64", {}).update(
                size=rep["size"], runtime=rep["runtime"], sha256=rep["sha256"],
                **{"elf": elf_summary(out)})
            return dt

        try:
            da_package(warm_cache, "warmup")
        except Failed as e:
            self.note(
                "package", "deploy-action could not package fixtures/flask-hello on this build: "
                + str(e).splitlines()[0][:300])
            da_ok = False
        else:
            da_ok = True

        # zappa: needs zappa_settings.json, and packages the virtualenv it runs in (zappa +
        # the app's requirements). Its caches (PyPI JSON, wheels) live under TMPDIR.
        zdir = os.path.join(self.work, "zappa")
        zruntime = "python" + first_line(
            [self.zappa_py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        zapp = os.path.join(zdir, "app")
        shutil.copytree(app, zapp)
        with open(os.path.join(zapp, "zappa_settings.json"), "w") as f:
            json.dump({
                arch: {"app_function": "run.app", "project_name": "flask-hello",
                       "runtime": zruntime,
                       "s3_bucket": BUCKET, "aws_region": REGION, "architecture": arch}
                for arch in ("x86_64", "arm64")
            }, f, indent=1)
        venv = os.path.dirname(os.path.dirname(self.zappa_py))
        zenv = dict(self.aws_env("http://127.0.0.1:9"), VIRTUAL_ENV=venv,
                    PATH=os.path.join(venv, "bin") + os.pathsep + env["PATH"])

        def zappa(arch: str, tmp: str, tag: str) -> float:
            os.makedirs(tmp, exist_ok=True)
            out = os.path.join(zdir, f"flask-zappa-{arch}-{tag}.zip")
            dt, _ = run([self.zappa_py, os.path.join(BENCH, "peers/zappa_shim.py"), "package",
                         arch, "-o", out], dict(zenv, TMPDIR=tmp), cwd=zapp)
            pk.setdefault(f"zappa {arch}", {}).update(
                size=os.path.getsize(out), runtime=zruntime, elf=elf_summary(out))
            return dt

        ztmp_warm = {a: os.path.join(zdir, f"tmp-warm-{a}") for a in ("x86_64", "arm64")}
        for a in ("x86_64", "arm64"):
            zappa(a, ztmp_warm[a], "warmup")
        n = max(2, self.rounds - 2)
        for r in range(n):
            if da_ok:
                self.sample("package", "deploy-action arm64", "warm",
                            da_package(warm_cache, f"w{r}"), round=r)
            for a in ("x86_64", "arm64"):
                self.sample("package", f"zappa {a}", "warm", zappa(a, ztmp_warm[a], f"w{r}"),
                            round=r)
        for r in range(2):
            if da_ok:
                cold = os.path.join(self.work, f"da-cache-cold-{r}")
                self.sample("package", "deploy-action arm64", "cold",
                            da_package(cold, f"c{r}"), round=r)
            for a in ("x86_64", "arm64"):
                self.sample("package", f"zappa {a}", "cold",
                            zappa(a, os.path.join(zdir, f"tmp-cold-{a}-{r}"), f"c{r}"), round=r)
        log("Flask package, warm: " + ", ".join(
            f"{t} {fmt_s(median(self.times('package', t, 'warm')))}" for t in pk))

    # -- issue 20's drivers ---------------------------------------------------------------------

    def run_driver(self, cmd: list[str], env: dict) -> str:
        """Run a driver to completion, its progress (stderr) shown as it comes; return its
        stdout. Raises Failed with the tail of its stderr."""
        log("running " + " ".join(shlex.quote(c) for c in cmd))
        tail: list[str] = []
        with tempfile.TemporaryFile("w+") as out:
            p = subprocess.Popen(cmd, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.PIPE, text=True)
            for line in p.stderr:
                sys.stderr.write(line)
                tail = (tail + [line.rstrip("\n")])[-30:]
            code = p.wait()
            out.seek(0)
            stdout = out.read()
        if code != 0:
            raise Failed(f"{' '.join(cmd)} exited {code}\n--- stderr (tail)\n" + "\n".join(tail))
        return stdout

    def driver_env(self) -> dict:
        return dict(os.environ, DEPLOY_ACTION_TOOLS=self.tools_dir)

    def section_coldstart(self) -> None:
        """Issue 20 §2: bench/coldstart.py, with --coldstart-args."""
        out = os.path.join(self.work, "coldstart.json")
        self.run_driver([sys.executable, os.path.join(BENCH, "coldstart.py"), "--bin", self.da,
                         "--json", out, *shlex.split(self.args.coldstart_args)], self.driver_env())
        with open(out) as f:
            self.results["coldstart"] = json.load(f)

    def section_bigupload(self) -> None:
        """Issue 20 §3: bench/bigupload.py, with --bigupload-args."""
        out = os.path.join(self.work, "bigupload.json")
        self.run_driver([sys.executable, os.path.join(BENCH, "bigupload.py"), "--bin", self.da,
                         "--aws", self.aws, "--json", out, *shlex.split(self.args.bigupload_args)],
                        self.driver_env())
        with open(out) as f:
            self.results["bigupload"] = json.load(f)

    def section_preview_url(self) -> None:
        """Issue 20 §4: bench/preview_url.sh (it picks the binary for the runner's tool cache:
        DEPLOY_BENCH_BIN or the release asset, and builds the Rust artifact), with
        --preview-url-args; its JSON only (its own RESULTS-preview-url.* are left as they are)."""
        out = os.path.join(self.work, "preview-url.json")
        env = dict(self.driver_env(), PREVIEW_URL_COMMAND=self.args.command)
        self.run_driver(["bash", os.path.join(BENCH, "preview_url.sh"), "--json", out, "--md", "",
                         *shlex.split(self.args.preview_url_args)], env)
        with open(out) as f:
            self.results["preview_url"] = json.load(f)

    # -- report -----------------------------------------------------------------------------------

    def da_version(self) -> str:
        """deploy-action's --version, where the binary is and when it was built."""
        git = first_line(["git", "-C", REPO, "describe", "--always", "--dirty", "--abbrev=12"])
        built = datetime.datetime.fromtimestamp(os.path.getmtime(self.da), datetime.timezone.utc)
        return (f"{first_line([self.da, '--version'], self.base_env())} ({self.da}, built "
                f"{built:%Y-%m-%d %H:%M} UTC; repository at {git})")

    def versions(self, ran: list[str]) -> list[list]:
        """[tool, version, sections] for the tools the sections of this run used."""
        env = self.base_env()
        venv_py = os.path.join(self.tools_dir, "venv/bin/python")

        def pyver(py, mod):
            return first_line([py, "-c", f"import {mod}; print({mod}.__version__)"])

        def emulated():
            py = coldstart.emulated_python()
            return f"{coldstart.python_version(py)} ({py[-1]} under qemu-user)" if py else "none"

        def host():
            py = coldstart.host_python()
            return f"{coldstart.python_version(py)} ({py[0]})" if py else "none"

        def preview_bin():
            b = self.results["preview_url"]["binary"]
            return f"deploy-action {b['version']} ({b['origin'] or b['path']}, sha256 {b['sha256'][:16]}…)"

        deploys = ("warm", "noop", "first", "rss", "latency")
        specs = [
            ("deploy-action", BIN_SECTIONS, self.da_version),
            ("deploy-action in the runner's tool cache", ("preview-url",), preview_bin),
            ("cargo-lambda", ("startup", "warm", "first", "rss", "rust", "latency"),
             lambda: first_line([self.cargo_lambda, "lambda", "--version"], env)),
            ("zig (cargo-lambda's linker)", ("rust",),
             lambda: first_line([venv_py, "-m", "ziglang", "version"])),
            ("rustc (builds deploy-action)", BIN_SECTIONS,
             lambda: first_line(["rustc", "--version"], env)),
            ("rustc for arm64 fixtures", ("rust",),
             lambda: first_line(["/usr/bin/rustc", "--version"], env)),
            ("cargo", BIN_SECTIONS, lambda: first_line(["cargo", "--version"], env)),
            ("AWS CLI", ("startup", "warm", "first", "latency", "bigupload"),
             lambda: first_line([self.aws, "--version"], env)),
            ("boto3 / botocore", ("startup", "warm", "first", "latency"),
             lambda: pyver(self.boto3_py, "boto3") + " / " + pyver(self.boto3_py, "botocore")),
            ("zappa", ("package",),
             lambda: pyver(self.zappa_py, "zappa") + " (Python " + first_line(
                 [self.zappa_py, "-c", "import platform; print(platform.python_version())"]) + ")"),
            ("moto (server)", (*deploys, "bigupload", "preview-url"), lambda: pyver(venv_py, "moto")),
            ("uv", ("package", "coldstart", "preview-url"), lambda: first_line(["uv", "--version"], env)),
            ("hyperfine", ("startup",), lambda: first_line(["hyperfine", "--version"], env)),
            ("qemu-user-static", ("coldstart", "preview-url"),
             lambda: first_line(["qemu-aarch64-static", "--version"], env)),
            ("emulated aarch64 CPython 3.13 (arm64 root)", ("coldstart", "preview-url"), emulated),
            ("host CPython 3.13", ("coldstart", "preview-url"), host),
            ("act", ("preview-url",), lambda: first_line(["act", "--version"], env)),
            ("Python (driver)", SECTIONS, platform.python_version),
        ]
        assert [t for t, _, _ in specs] == list(VERSION_ORDER)
        rows = []
        for tool, used_by, version in specs:
            secs = [x for x in ran if x in used_by]
            if not secs:
                continue
            try:
                rows.append([tool, version(), secs])
            except Exception as e:  # a missing tool shows as such in the versions table
                rows.append([tool, f"unavailable ({e.__class__.__name__})", secs])
        return rows

    def machine(self, ran: list[str]) -> list[list]:
        """[what, value, sections] for this run's sections."""
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = "?"
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
        os_name = "?"
        if os.path.exists("/etc/os-release"):
            with open("/etc/os-release") as f:
                for line in f:
                    if line.startswith("PRETTY_NAME="):
                        os_name = line.split("=", 1)[1].strip().strip('"')
        return [
            ["CPU", f"{cpu}, {os.cpu_count()} logical CPUs (nproc {len(os.sched_getaffinity(0))})",
             ran],
            ["memory", mem, ran],
            ["OS / kernel", f"{os_name} / {platform.release()}", ran],
        ]

    def render(self) -> str:
        R = self.results
        run = R["run"]
        runs = R.get("section_runs", {})
        present = present_sections(self.samples, R)
        L = []
        w = L.append
        w("# Benchmark results\n")
        this = run.get("sections") or by_run(runs, present).get(
            (run["command"], run["started"]), [])
        loads = (f"; load average {run['load_start']} at its start, {run['load_end']} at its end"
                 if run.get("load_start") else "")
        w(f"Written by `{run['command']}` on {run['started']} UTC in {run['duration'] / 60:.1f} "
          f"min (plus the release build{loads}), which ran: {', '.join(this) or 'nothing'}.")
        others = by_run(runs, [sec for sec in present if sec not in this])
        if others:
            w("From other runs: " + "; ".join(
                f"{', '.join(secs)} (`{cmd}`, {started} UTC)"
                for (cmd, started), secs in others.items()) + ".")
        w("Each section names the run that produced it (command, date, load average).\n")
        w("In the deploy sections every deploy goes to one local moto server on loopback; each tool "
          "deploys the same bytes to its own functions, in interleaved rounds, and every deploy is "
          "checked afterwards (`live` runs the new code, the function URL is on `live`). Times are "
          "wall clock of the whole process(es), medians; ratio = deploy-action ÷ the other tool.\n")

        def sections_cell(secs):
            return "all" if list(secs) == present else ", ".join(secs)

        w("## Machine\n")
        w("| | | sections |\n|---|---|---|")
        for k, v, secs in R["machine"]:
            w(f"| {k} | {v} | {sections_cell(secs)} |")
        w("")
        w("## Versions\n")
        w("| tool | version | sections |\n|---|---|---|")
        for k, v, secs in R["versions"]:
            w(f"| {k} | {v} | {sections_cell(secs)} |")
        w("")

        # -- targets
        rows = self.targets()
        if rows:
            w("## Targets (issue 8)\n")
            w("| target | measured | |\n|---|---|---|")
            for row in rows:
                w("| " + " | ".join(row) + " |")
            w("")
            for line in self.missed_analysis(rows):
                w(f"- {line}")
            if any("missed" in r[2] for r in rows):
                w("")
        w(self.render_issue20_targets())

        # -- warm
        if any(s["section"] == "warm" for s in self.samples):
            w("## Warm update of an existing function\n")
            w(self.run_line("warm"))
            w("The function exists with alias `live` and a public function URL; the new bundle "
              "(an `app.py` plus incompressible random bytes) is uploaded to S3, the code "
              "updated, a version published and `live` moved to it; the URL is kept.\n")
            for case in ("1 MiB", "30 MiB"):
                zs = R.get("zip_sizes", {}).get(case)
                w(f"### {case} of random data (zip {fmt_size(zs)})\n")
                w("| tool | median | min | max | deploy-action ÷ tool |\n|---|---|---|---|---|")
                da = median(self.times("warm", "deploy-action", case))
                for t in TOOLS:
                    xs = self.times("warm", t, case)
                    w(f"| {t} | {stat_cells(xs)} | {fmt_ratio(ratio(da, median(xs)))} |")
                w("")
            w("How each tool deploys:\n")
            w("- **deploy-action**: `deploy-action deploy --app bench --stage warm1m --artifact "
              "bundle.zip --runtime python3.13 --handler app.handler --s3-bucket ... "
              "--output json`. The zip was made beforehand by `deploy-action package --artifact "
              "DIR` (not timed): deterministic, so it is deployed as is. deploy-action also waits "
              "for the update to finish, publishes with the CodeSha256 precondition, moves `live` "
              "with its RevisionId, checks the URL and its two permissions and prunes versions.")
            w("- **cargo-lambda** (`cargo lambda deploy --s3-bucket ... --alias live "
              "--enable-function-url`): it deploys a binary, not a zip, so it gets a prebuilt "
              "aarch64 ELF as `--binary-path bootstrap` (68 KiB, Debian arm64's `/usr/bin/true`) "
              "plus the same `app.py` and random data via `--include`, and zips them itself on "
              "every deploy (its zip is as large as the others). `--manifest-path` points at an "
              "empty package because it runs `cargo metadata` even with `--binary-path`. It "
              "publishes with `UpdateFunctionCode(Publish=true)` and does not wait for the "
              "update; the endpoint comes from `AWS_ENDPOINT_URL`, which its SDK honours.")
            w("- **aws-cli** (v1, one process per call): `aws s3 cp`, `aws lambda "
              "update-function-code`, `aws lambda wait function-updated-v2`, `aws lambda "
              "publish-version`, `aws lambda update-alias`.")
            w("- **boto3**: the same five calls from one Python process "
              "(`bench/peers/boto3_deploy.py`), interpreter start-up and `import boto3` "
              "included.\n")

        # -- requests
        reqs = R.get("requests", {})
        if reqs:
            w("## AWS requests per deploy\n")
            w(self.requests_runs(reqs))
            w("Counted by the repository's fault proxy (`tests/support/fault_proxy.py`, all "
              "faults off, run with TCP_NODELAY by `bench/fault_proxy_nodelay.py`) in front of "
              "the same moto: one deploy each (first deploys and the "
              "no-op with the 1 MiB bundle). \"in requests\" is the time the proxy spent on them "
              "(moto included; the proxy buffers bodies, so a large upload costs more here than "
              "straight to moto), summed over requests, so it exceeds the wall time when a "
              "client sends several at once.\n")
            w("| deploy | requests | wall | in requests | slowest requests | operations |\n"
              "|---|---|---|---|---|---|")
            for key, v in reqs.items():
                if key == "noop:1":
                    continue
                slow = ", ".join(f"{e['op'].split(':', 1)[1]} {fmt_s(e['duration'])}"
                                 for e in v["slowest"][:2])
                w(f"| {v['label']} | {v['count']} | {fmt_s(v['wall'])} | "
                  f"{fmt_s(v['in_requests'])} | {slow} | {', '.join(v['ops'])} |")
            w("")

            tl = {c: reqs.get(f"warm {c}:deploy-action") for c in ("1 MiB", "30 MiB")}
            if any(tl.values()):
                w("Where deploy-action's warm update spends its time (through the proxy): when "
                  "each request arrived, counted from the process start, and how long the proxy "
                  "and moto took to answer it. Requests that arrive together were sent at once "
                  "(their order among themselves varies); time with no request open is "
                  "deploy-action's own.\n")
            for case, data in tl.items():
                if not data:
                    continue
                w(f"**{case}**\n")
                w("| # | request | at | took |\n|---|---|---|---|")
                for i, (op, at, took) in enumerate(data["timeline"], 1):
                    w(f"| {i} | {op} | {at * 1000:.0f} ms | {took * 1000:.1f} ms |")
                w(f"| | process exit | {data['wall'] * 1000:.0f} ms | |")
                w("")

        lat = R.get("latency")
        if lat:
            w(self.render_latency(lat))
        if R.get("coldstart"):
            w(self.render_coldstart(R["coldstart"]))
        if R.get("bigupload"):
            w(self.render_bigupload(R["bigupload"]))
        if R.get("preview_url"):
            w(self.render_preview_url(R["preview_url"]))

        # -- noop
        noop = self.times("noop", "deploy-action", "1 MiB")
        if noop:
            w("## No-op redeploy\n")
            w(self.run_line("noop"))
            w("`deploy-action deploy` of the artifact that is already live (straight to moto): "
              "nothing uploaded, nothing published, `changed: false`.\n")
            w("| | median | min | max | AWS requests |\n|---|---|---|---|---|")
            w(f"| deploy-action | {stat_cells(noop)} | "
              f"{reqs.get('noop:0', {}).get('count', 'n/a')} |")
            w("\nThe other tools have no no-op: a rerun uploads and publishes again (a warm "
              "update, above).\n")

        # -- first
        if any(s["section"] == "first" for s in self.samples):
            w("## First deploy of a new stage\n")
            w(self.run_line("first"))
            w("Create the function from S3, wait for it to be active, publish version 1, create "
              "`live`, a public function URL on it and its two permissions (1 MiB bundle). "
              "cargo-lambda gets `--iam-role`; the AWS CLI runs 9 commands "
              "(`s3 cp`, `create-function`, `wait function-active-v2`, `publish-version`, "
              "`create-alias`, `create-function-url-config`, 2× `add-permission`), boto3 the same "
              "calls in one process.\n")
            w("| tool | median | min | max | deploy-action ÷ tool |\n|---|---|---|---|---|")
            da = median(self.times("first", "deploy-action", "1 MiB"))
            for t in TOOLS:
                xs = self.times("first", t, "1 MiB")
                w(f"| {t} | {stat_cells(xs)} | {fmt_ratio(ratio(da, median(xs)))} |")
            w("")

        # -- package
        pk = R.get("package")
        if pk:
            w("## Packaging the Flask hello (fixtures/flask-hello)\n")
            w(self.run_line("package"))
            w("`deploy-action package --source fixtures/flask-hello --architecture arm64` "
              "(python3.13, manylinux2014 aarch64 wheels) against `zappa package` of the same "
              "app in a virtualenv holding zappa and the app's requirements (zappa's runtime is "
              "the Python it runs on). zappa is run by `bench/peers/zappa_shim.py`, which only "
              "points its PyPI look-ups at pypi.org (see the file). Cold: empty wheel caches "
              "(deploy-action: uv/pip caches; zappa: its PyPI-JSON and wheel caches under "
              "TMPDIR); warm: caches kept.\n")
            w("| packager | target | warm (median) | cold (median) | zip size | files | "
              "ELF files aarch64 / x86-64 | ships boto3/botocore |\n|---|---|---|---|---|---|---|---|")
            for t, v in pk.items():
                arch = t.split()[-1]
                e = v["elf"]
                w(f"| {t.rsplit(' ', 1)[0]} | {v['runtime']} {arch} | "
                  f"{fmt_s(median(self.times('package', t, 'warm')))} | "
                  f"{fmt_s(median(self.times('package', t, 'cold')))} | {fmt_size(v['size'])} | "
                  f"{e['files']} | {e['aarch64']} / {e['x86_64']} | "
                  f"{'yes' if e['boto'] else 'no'} |")
            n_w = len(self.times("package", next(iter(pk)), "warm"))
            w(f"\n{n_w} warm and 2 cold rounds each, after one untimed warm-up. zappa copies "
              f"the whole virtualenv it runs in (its own dependencies included) and zips it on "
              f"every run, so its time depends little on the caches.\n")
            for t, v in pk.items():
                if t.endswith("arm64") and v["elf"].get("x86_64_files"):
                    w(f"The {t} bundle holds x86-64 files that cannot load on arm64 Lambda: "
                      + ", ".join(f"`{n}`" for n in v["elf"]["x86_64_files"]) + ".\n")

        # -- startup
        if R.get("startup"):
            w("## Process start-up\n")
            w(self.run_line("startup"))
            w("hyperfine, no shell, 5 warm-up runs, 30 runs each.\n")
            w("| command | median | mean ± σ | min |\n|---|---|---|---|")
            for s in R["startup"]:
                w(f"| `{s['command']}` | {fmt_s(s['median'])} | {fmt_s(s['mean'])} ± "
                  f"{fmt_s(s['stddev'])} | {fmt_s(s['min'])} |")
            w("")

        # -- rss
        if R.get("rss"):
            w("## Peak memory during a 50 MiB deploy\n")
            w(self.run_line("rss"))
            w(f"Warm update with a changed bundle of 50 MiB random data (zip "
              f"{fmt_size(R.get('rss_zip_size'))}), `/usr/bin/time -v` maximum resident set "
              f"size, 3 rounds.\n")
            w("| tool | peak RSS (max) | peak RSS (median) | time (median) |\n|---|---|---|---|")
            for t, xs in R["rss"].items():
                w(f"| {t} | {fmt_size(max(xs))} | {fmt_size(median(xs))} | "
                  f"{fmt_s(median(self.times('rss', t, '50 MiB')))} |")
            w("")

        # -- rust
        if any(s["section"] == "rust" for s in self.samples):
            w("## arm64 Rust build (fixtures/rust-hello)\n")
            w(self.run_line("rust"))
            w("Same toolchain for both: `RUSTC=/usr/bin/rustc` (Debian's rustc with the aarch64 "
              "std), cargo-lambda's zig linker, dependencies fetched beforehand, a separate "
              "`CARGO_TARGET_DIR` per tool. deploy-action: `deploy-action package --source "
              "rust-hello --architecture arm64 --out x.zip` (runs cargo-lambda, then zips and "
              "checks the bootstrap); cargo-lambda: `cargo lambda build --release --arm64`. "
              "Clean: empty target directory, 1 build each; incremental: `touch src/main.rs`, "
              "3 builds each.\n")
            w("| tool | clean | incremental (median) | deploy-action ÷ tool |\n|---|---|---|---|")
            dac = median(self.times("rust", "deploy-action", "clean"))
            dai = median(self.times("rust", "deploy-action", "incremental"))
            for t in ("deploy-action", "cargo-lambda"):
                c = median(self.times("rust", t, "clean"))
                i = median(self.times("rust", t, "incremental"))
                w(f"| {t} | {fmt_s(c)} | {fmt_s(i)} | clean {fmt_ratio(ratio(dac, c))}, "
                  f"incremental {fmt_ratio(ratio(dai, i))} |")
            if R.get("rust_zip_size"):
                w(f"\ndeploy-action's zip: {fmt_size(R['rust_zip_size'])} (one aarch64 "
                  f"`bootstrap`).")
            w("")

        if R["notes"]:
            w("## Notes\n")
            for n in R["notes"]:
                w(f"- {n['section']}: {n['text']}" if isinstance(n, dict) else f"- {n}")
            w("")
        # The scale section (bench/scale.py) is run on its own; keep its last results here.
        scale_md = os.path.join(BENCH, "RESULTS-scale.md")
        if os.path.exists(scale_md):
            with open(scale_md) as f:
                w(f.read())
        return "\n".join(L)

    def render_latency(self, lat: dict) -> str:
        L = []
        w = L.append
        w("## Warm update with simulated AWS latency (not a measurement of AWS)\n")
        configs = lat.get("configs") or [{"delay": lat["delay"], "busy": lat["busy"],
                                          "case": "1 MiB"}]
        w("The same 1 MiB warm update, through the fault proxy set to delay every request by a "
          "fixed latency and to keep a function's update InProgress for a window after each "
          "code update (writes such as PublishVersion are answered 409 meanwhile), as Lambda "
          "does (issue 20 §1). Each tool updates its own function; "
          f"{lat.get('rounds', 3)} interleaved rounds per configuration, and each deploy starts "
          "after the previous one's window. Sequential requests and waits, not local work, "
          "decide the time here.\n")
        w(self.run_line("latency"))
        w("The floor is the window plus the requests that must go one after the other: for "
          f"any safe warm update {self.FLOOR_ROUND_TRIPS} (upload, code update, publish, move "
          f"the alias); deploy-action makes {self.DA_FLOOR_ROUND_TRIPS}: its first reads "
          "(`live`, its version and the artifact's HEAD, together), the code update with the "
          "zip inside it (the S3 copy is stored during the window), publish, move the alias.\n")
        w("| latency, window | deploy-action | boto3 | aws-cli | cargo-lambda | "
          "deploy-action ÷ boto3 | floor (any tool) | deploy-action's floor | "
          "deploy-action − its floor |\n|---|---|---|---|---|---|---|---|---|")
        for c in configs:
            case = c["case"]
            m = {t: median(self.times("latency", t, case))
                 for t in ("deploy-action", "boto3", "aws-cli", "cargo-lambda")}
            floor = c["busy"] + self.FLOOR_ROUND_TRIPS * c["delay"]
            da_floor = c["busy"] + self.DA_FLOOR_ROUND_TRIPS * c["delay"]
            over = fmt_s(m["deploy-action"] - da_floor) if m["deploy-action"] else "n/a"
            w(f"| {case} | {fmt_s(m['deploy-action'])} | {fmt_s(m['boto3'])} | "
              f"{fmt_s(m['aws-cli'])} | {fmt_s(m['cargo-lambda'])} | "
              f"{fmt_ratio(ratio(m['deploy-action'], m['boto3']))} | {fmt_s(floor)} | "
              f"{fmt_s(da_floor)} | {over} |")
        w("")
        w("Goals (issue 20 §1), from this run:\n")
        w(goal_table(self.latency_goals()))
        w("Every sample (median, min, max):\n")
        w("| latency, window | tool | median | min | max |\n|---|---|---|---|---|")
        for c in configs:
            for t in TOOLS:
                w(f"| {c['case']} | {t} | {stat_cells(self.times('latency', t, c['case']))} |")
        w("")
        for c in configs:
            tl = c.get("timeline")
            if not tl or (c["delay"], c["busy"]) != self.LATENCY_GOAL_CONFIG:
                continue
            w(f"deploy-action's median deploy at {c['case']}, request by request (when each "
              "arrived at the proxy, counted from the process start, and how long the proxy, "
              "with its added latency, and moto took to answer; the GetFunction requests after "
              "the code update are the looks at the update's state):\n")
            w("| # | request | at | took |\n|---|---|---|---|")
            for i, (op, at, took) in enumerate(tl["timeline"], 1):
                w(f"| {i} | {op} | {at * 1000:.0f} ms | {took * 1000:.1f} ms |")
            w(f"| | process exit | {tl['wall'] * 1000:.0f} ms | |")
            w("")
        return "\n".join(L)

    def latency_gap_parts(self, c: dict) -> str:
        """Where the time above the floor went in the median deploy's timeline: before the
        first request, the emulator's own time in the sequential requests (what each took
        beyond the modelled latency), from the window's end to the answer of the look that saw
        it, and from the last answer to the exit."""
        tl = (c.get("timeline") or {}).get("timeline")
        if not tl:
            return ""
        delay, busy, wall = c["delay"], c["busy"], c["timeline"]["wall"]
        ops = [op for op, _, _ in tl]
        try:
            update = ops.index("lambda:UpdateFunctionCode")
            publish = ops.index("lambda:PublishVersion")
            alias = ops.index("lambda:UpdateAlias")
        except ValueError:
            return ""
        first_at = min(at for _, at, _ in tl)
        first_round = [i for i, (_, at, _) in enumerate(tl) if at < first_at + 0.005]
        sequential = [*first_round[:1], update, publish, alias]
        emulator = sum(max(0.0, tl[i][2] - delay) for i in sequential)
        window_end = tl[update][1] + tl[update][2] + busy
        looks = [i for i in range(update + 1, publish) if tl[i][0] == "lambda:GetFunction"]
        seen = max((tl[i][1] + tl[i][2] for i in looks), default=window_end)
        seen = min(seen, tl[publish][1])
        last = max(at + took for _, at, took in tl)
        return (f"; of those, {fmt_s(first_at)} before the first request (process start), "
                f"{fmt_s(emulator)} the proxy and moto took beyond the modelled {fmt_s(delay)} "
                f"in the four sequential requests (first reads, code update, publish, alias), "
                f"{fmt_s(max(0.0, seen - window_end))} from the window's end to the answer of "
                f"the look that saw it, and {fmt_s(max(0.0, wall - last))} from the last answer "
                "to the exit")

    def latency_goals(self) -> list[dict]:
        """Issue 20 §1's goals from the latency section: dicts with target, measured, met and,
        where missed, the gap in the run's own numbers (against the floors)."""
        lat = self.results.get("latency") or {}
        out = []
        for c in lat.get("configs", []):
            case = c["case"]
            da = median(self.times("latency", "deploy-action", case))
            b3 = median(self.times("latency", "boto3", case))
            r = ratio(da, b3)
            floor = c["busy"] + self.FLOOR_ROUND_TRIPS * c["delay"]
            da_floor = c["busy"] + self.DA_FLOOR_ROUND_TRIPS * c["delay"]
            floors = (f"its floor here (window + {self.DA_FLOOR_ROUND_TRIPS} sequential round trips) "
                      f"is {fmt_s(da_floor)}, any safe deploy's {fmt_s(floor)}")
            goals = [("faster than boto3", 1.0, True)]  # (label, ratio, strictly below)
            if (c["delay"], c["busy"]) == self.LATENCY_GOAL_CONFIG:
                g = self.LATENCY_GOAL_SECONDS
                t = {"target": f"{case}: ≤ {g:.2f} s", "measured": fmt_s(da),
                     "met": None if da is None else da <= g}
                if t["met"] is False:
                    t["gap"] = (f"deploy-action's median is {fmt_s(da)}, {fmt_s(da - g)} over {g:.2f} s; "
                                f"{floors}, so {fmt_s(da - da_floor)} is above its floor (its median "
                                f"deploy, request by request, is in §1's timeline below)"
                                + self.latency_gap_parts(c))
                out.append(t)
                goals = [(f"≤ {self.LATENCY_GOAL_RATIO}× boto3", self.LATENCY_GOAL_RATIO, False)]
            for label, goal, strict in goals:
                t = {"target": f"{case}: {label}",
                     "measured": f"{fmt_ratio(r)} ({fmt_s(da)} vs {fmt_s(b3)})",
                     "met": None if r is None else (r < goal if strict else r <= goal)}
                if t["met"] is False:
                    t["gap"] = (f"deploy-action {fmt_s(da)} against boto3's {fmt_s(b3)}: {label} "
                                f"needs ≤ {fmt_s(goal * b3)}, {fmt_s(da - goal * b3)} less; {floors}")
                out.append(t)
        return out

    def render_issue20_targets(self) -> str:
        """Issue 20's acceptance: every part's targets from the run of that part, with the gap
        where one is missed."""
        R = self.results
        parts = [
            ("§1 latency", "latency", "latency", self.latency_goals,
             "deploy-action at 30 ms/1 s ≤ 1.25 s and ≤ 0.8× boto3; ahead of boto3 at 0.5 s, 3 s, 80 ms"),
            ("§2 cold start", "coldstart", "coldstart", lambda: coldstart.targets(R["coldstart"]),
             "≥ 50% less time to the first response with bytecode; Flask zip ≤ 1.5 / 0.75 MiB"),
            ("§3 big artifacts", "bigupload", "bigupload", lambda: bigupload.targets(R["bigupload"]),
             "200 MiB zip: peak RSS ≤ 60 MB, upload ≤ 1.0× aws s3 cp"),
            ("§4 preview URL", "preview-url", "preview_url",
             lambda: preview_url.issue_targets(R["preview_url"]),
             "Flask cold/warm and prebuilt Rust, time per step; warm ≤ 10 s"),
        ]
        L = ["## Targets (issue 20)\n",
             "Each part's numbers come from the run of its section (below, with its command, date "
             "and load average).\n",
             "| part | target | measured | |\n|---|---|---|---|"]
        gaps = []
        for part, sec, key, targets, summary in parts:
            why = ("no results: the section failed in its run (Notes)" if sec in R["section_runs"]
                   else f"not in these results (`bench/run.sh --only {sec}`)")
            rows = targets() if R.get(key) else [{"target": summary, "met": None, "measured": why}]
            for t in rows:
                L.append(f"| {part} | {t['target']} | {t['measured']} | {verdict(t['met'])} |")
                if t.get("gap"):
                    gaps.append(f"- **{part}, {t['target']}**: {t['gap']}.")
        L.append("")
        if gaps:
            L += ["Where a target is missed, the gap in the run's own numbers:\n", *gaps, ""]
        return "\n".join(L)

    def run_line(self, sec: str) -> str:
        """Which run produced this section: command, date, length, load average, binary."""
        info = self.results.get("section_runs", {}).get(sec)
        if not info:
            return ""
        parts = [f"`{info['command']}` on {info['started']} UTC"]
        if info.get("duration") is not None:
            parts.append(f"{info['duration'] / 60:.1f} min")
        if info.get("rounds") and sec in ("warm", "noop", "first"):
            parts.append(f"{info['rounds']} round{'s' if info['rounds'] != 1 else ''}")
        if info.get("load_start"):
            of = info.get("load_of", "its")  # results of before sections were recorded one by one
            parts.append(f"load average (1/5/15 min) {info['load_start']} at {of} start"
                         + (f", {info['load_end']} at {of} end" if info.get("load_end") else ""))
        if info.get("deploy-action"):
            parts.append(info["deploy-action"])
        return "This section: " + ", ".join(parts) + ".\n"

    def requests_runs(self, reqs: dict) -> str:
        """The requests table holds rows of the warm, noop and first sections: their runs."""
        groups = by_run(self.results.get("section_runs", {}),
                        dict.fromkeys(request_owner(k) for k in reqs))
        return "Rows from the runs of " + "; ".join(
            f"{', '.join(secs)}: `{cmd}` on {started} UTC" for (cmd, started), secs in groups.items()
        ) + " (load averages in those sections).\n"

    def render_coldstart(self, cs: dict) -> str:
        L = ["## Cold start with and without start-up bytecode (issue 20 §2)\n",
             self.run_line("coldstart"),
             "`bench/coldstart.py`: each fixture (Flask and FastAPI hello) packaged by "
             "`deploy-action package --runtime python3.13`, with bytecode (the default) and with "
             "`--no-compile`, unpacked fresh for every start, then "
             "`python -B -I -S tests/support/invoke_handler.py BUNDLE \"GET /\"` timed from process "
             "start to the first response (`-B`: Lambda's /var/task is read-only, nothing compiled at "
             "start-up is kept). arm64 bundles under the emulated aarch64 CPython 3.13 (the arm64 "
             "root under qemu-user), x86_64 bundles on a host CPython 3.13. Each variant's rounds run "
             "back to back.\n"]
        L += [f"- {p['label']}: Python {p['version']} ({p['arch']} bundles)" for p in cs.get("pythons", [])]
        L += ["", *coldstart.render(cs), "", "Goals (issue 20 §2), from this run:\n",
              goal_table(coldstart.targets(cs)),
              "Traces of where the time goes beyond the bytecode (an earlier run, by hand): "
              "[bench/RESULTS-coldstart.md](RESULTS-coldstart.md).\n"]
        return "\n".join(L)

    def render_bigupload(self, bu: dict) -> str:
        L = [f"## Big artifacts: a {bu['mib']} MiB zip (issue 20 §3)\n",
             self.run_line("bigupload"),
             "`bench/bigupload.py`: a zip of incompressible random data, normalised first by "
             "`deploy-action package --artifact` (timed apart), then deployed by `deploy-action "
             "deploy` (multipart upload, 8 MiB parts, 4 in flight; the whole first deploy: "
             "HeadObject, the upload, CreateFunction from S3, version, alias, URL) and copied by "
             "`aws s3 cp` (multipart, its defaults: 8 MiB parts, 10 in flight) to the same local "
             "moto. Wall time and peak RSS from `/usr/bin/time`; the upload's own time inside the "
             "deploy from deploy-action's log lines. One run each.\n",
             *bigupload.render(bu), "", "Goals (issue 20 §3), from this run:\n",
             goal_table(bigupload.targets(bu))]
        return "\n".join(L)

    def render_preview_url(self, pu: dict) -> str:
        """bench/preview_url.py's own report, one heading level down."""
        L = ["## Time to a preview URL (issue 20 §4)\n", self.run_line("preview-url")]
        for line in preview_url.render_md(pu)[1:]:
            L.append("#" + line if line.startswith("#") else line)
        return "\n".join(L)

    def missed_analysis(self, rows) -> list[str]:
        """For a missed target against the AWS CLI, what dominates, from this run's numbers."""
        out = []
        reqs = self.results.get("requests", {})
        for row in rows:
            if "missed" not in row[2] or "AWS CLI" not in row[0] or "30 MiB" not in row[0]:
                continue
            da1, da30 = (median(self.times("warm", "deploy-action", c)) for c in ("1 MiB", "30 MiB"))
            cli1, cli30 = (median(self.times("warm", "aws-cli", c)) for c in ("1 MiB", "30 MiB"))
            if None in (da1, da30, cli1, cli30):
                continue
            grow = da30 - da1
            line = (f"warm update 30 MiB vs the AWS CLI: {fmt_s(grow)} of deploy-action's "
                    f"{fmt_s(da30)} is what the 29 MiB more cost (1 MiB: {fmt_s(da1)}); the CLI "
                    f"pays about the same for them ({fmt_s(cli30 - cli1)} more than at 1 MiB), "
                    f"on top of its five Python processes")
            t1, t30 = reqs.get("warm 1 MiB:deploy-action"), reqs.get("warm 30 MiB:deploy-action")
            if t1 and t30:
                own = t30["timeline"][0][1] - t1["timeline"][0][1]
                big = sorted(t30["timeline"], key=lambda e: -e[2])[:2]
                line += (f". Of that growth, deploy-action's own work (hashing and checking the "
                         f"zip before its first request) is about {fmt_s(own)}; the rest is moto "
                         f"storing the object and reading it back, visible in the timeline as "
                         + " and ".join(f"{op.split(':', 1)[1]} ({fmt_s(d)} through the proxy)"
                                        for op, _, d in big))
            budget = 0.1 * cli30 - grow
            if budget <= 0:
                line += (f". Even with no fixed cost at all, deploy-action would be at "
                         f"{grow / cli30:.3f}× here: the size-dependent work on the emulator "
                         f"alone is more than a tenth of the CLI's time.")
            else:
                line += (f". Reaching 0.1× needs deploy-action's fixed cost (about {fmt_s(da1)} "
                         f"at 1 MiB) to drop to {fmt_s(budget)}.")
            out.append(line)
        return out

    def targets(self) -> list[list[str]]:
        rows = []
        for case in ("1 MiB", "30 MiB"):
            da = median(self.times("warm", "deploy-action", case))
            cl = median(self.times("warm", "cargo-lambda", case))
            cli = median(self.times("warm", "aws-cli", case))
            if da and cl:
                r = da / cl
                rows.append([f"warm update {case}: ≤ 1.0× cargo-lambda",
                             f"{fmt_ratio(r)} ({fmt_s(da)} vs {fmt_s(cl)})",
                             "met" if r <= 1.0 else "**missed**"])
            if da and cli:
                r = da / cli
                rows.append([f"warm update {case}: ≤ 0.1× the AWS CLI sequence",
                             f"{fmt_ratio(r)} ({fmt_s(da)} vs {fmt_s(cli)})",
                             "met" if r <= 0.1 else "**missed**"])
        n = self.results.get("requests", {}).get("noop:0")
        if n:
            rows.append(["no-op redeploy: ≤ 4 AWS requests", f"{n['count']} requests",
                         "met" if n["count"] <= 4 else "**missed**"])
        rss = self.results.get("rss", {}).get("deploy-action")
        if rss:
            rows.append(["peak RSS < 60 MB deploying the 50 MiB artifact",
                         f"{max(rss) / 1e6:.1f} MB ({fmt_size(max(rss))})",
                         "met" if max(rss) < 60e6 else "**missed**"])
        return rows

    # -- main ---------------------------------------------------------------------------------

    def main(self) -> int:
        started = datetime.datetime.now(datetime.timezone.utc)
        t0 = time.monotonic()
        load_start = os.getloadavg()
        only = set(self.args.only.split(",")) if self.args.only else None
        want = lambda s: only is None or s in only  # noqa: E731
        failures = []
        runs = self.results["section_runs"]
        clock = {}

        def section(name, fn, part_of=None):
            # A failed section (a tool error, or a deploy whose result is wrong) is reported and
            # fails the run; the other sections still run and their tables are still written.
            # `part_of`: the section whose results this step adds to (its run covers both).
            sec = part_of or name
            clock.setdefault(sec, time.monotonic())
            info = runs.setdefault(sec, {
                "command": self.args.command, "run_started": f"{started:%Y-%m-%d %H:%M}",
                "started": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
                "load_start": loadavg()})
            if sec not in DRIVER_SECTIONS:
                info["rounds"] = self.rounds
            try:
                fn()
            except (Failed, subprocess.TimeoutExpired, OSError) as e:
                failures.append(name)
                self.note(sec, f"**section {name} failed**: " + str(e)[:1500])
                log(f"section {name} FAILED: {e}")
            info["duration"] = time.monotonic() - clock[sec]
            info["load_end"] = loadavg()

        try:
            if want("startup"):
                section("startup", self.section_startup)
            if any(want(s) for s in ("warm", "noop", "first", "rss", "latency")):
                self.setup_moto()
            if want("warm") or want("noop"):
                section("warm", self.section_warm)
                section("requests", self.section_requests, part_of="warm")
            if want("warm") or want("latency"):
                section("latency", self.section_latency)
            if want("noop"):
                section("noop", self.section_noop)
            if want("first"):
                section("first", self.section_first)
            if want("rss"):
                section("rss", self.section_rss)
            if want("package"):
                section("package", self.section_package)
            if want("rust"):
                section("rust", self.section_rust)
        finally:
            if self.servers:
                self.servers.stop()
        # issue 20's drivers start their own servers.
        if want("coldstart"):
            section("coldstart", self.section_coldstart)
        if want("bigupload"):
            section("bigupload", self.section_bigupload)
        if want("preview-url"):
            section("preview-url", self.section_preview_url)
        ran = [sec for sec in SECTIONS if sec in runs]
        for sec in ran:
            runs[sec]["deploy-action"] = (
                self.preview_url_binary() if sec == "preview-url" else
                first_line([self.da, "--version"]))
        self.results["run"] = {
            "command": self.args.command, "started": f"{started:%Y-%m-%d %H:%M}",
            "duration": time.monotonic() - t0, "rounds": self.rounds, "sections": ran,
            "load_start": " / ".join(f"{x:.1f}" for x in load_start), "load_end": loadavg(),
        }
        self.results["machine"] = self.machine(ran)
        self.results["versions"] = self.versions(ran)
        data = {"samples": self.samples, "results": self.results}
        json_out = os.path.splitext(self.args.out)[0] + ".json"
        if os.path.exists(json_out):
            with open(json_out) as f:
                data = merge(json.load(f), data, ran)
            log(f"merged into {json_out}: this run's sections {', '.join(ran)} replace theirs")
        self.samples, self.results = data["samples"], data["results"]
        text = self.render()
        with open(self.args.out, "w") as f:
            f.write(text + "\n")
        with open(json_out, "w") as f:
            json.dump(data, f, indent=1, default=str)
        print(text)
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log(f"work directory kept: {self.work}")
        if failures:
            log(f"failed sections: {', '.join(failures)}")
            return 1
        return 0

    def preview_url_binary(self) -> str:
        b = self.results.get("preview_url", {}).get("binary")
        return f"deploy-action {b['version']} (the runner's tool cache)" if b else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="the deploy-action release binary")
    ap.add_argument("--tools", help="DEPLOY_ACTION_TOOLS (venvs, arm64 root)")
    ap.add_argument("--out", required=True, help="Markdown file to write")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    for driver in ("coldstart", "bigupload", "preview-url"):
        ap.add_argument(f"--{driver}-args", default="", metavar="'ARGS'",
                        help=f"options for the {driver} driver, one string (--{driver}-args='...')")
    ap.add_argument("--command", default="bench/run.sh", help="recorded in the results")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--render", metavar="JSON",
                    help="only rewrite --out from a RESULTS.json of an earlier run")
    args = ap.parse_args()
    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        b = Bench.__new__(Bench)
        b.samples, b.results = data["samples"], upgrade(data["samples"], data["results"])
        text = b.render()
        with open(args.out, "w") as f:
            f.write(text + "\n")
        print(text)
        return 0
    unknown = set(args.only.split(",")) - set(SECTIONS) if args.only else set()
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))} (sections: {', '.join(SECTIONS)})")
    if not args.tools or (not args.bin and args.only != "preview-url"):
        ap.error("--bin and --tools are required (unless --render; --bin: unless --only preview-url)")
    return Bench(args).main()


if __name__ == "__main__":
    sys.exit(main())
