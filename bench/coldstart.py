"""Cold start of the Python bundles with and without bytecode (issue 20 §2).

For each fixture (Flask and FastAPI hello) the bundle is packaged twice, with bytecode (the
default) and with --no-compile, and each is unpacked fresh and started like a Lambda cold start:
one process running tests/support/invoke_handler.py with `-B` (Lambda's /var/task is read-only,
so nothing compiled at start-up is kept for the next cold start), timed from process start to the
first response line on stdout. Interpreters: the emulated aarch64 CPython 3.13 (the arm64 root
under qemu-user, arm64 bundles) and, when present, a host CPython 3.13 (x86_64 bundles).

    python3 bench/coldstart.py --bin target/release/deploy-action [--rounds 3] [--json out.json]

Prints a Markdown table (medians), the load average before and after, and the zip sizes.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INVOKE = os.path.join(REPO, "tests/support/invoke_handler.py")
FIXTURES = ["flask-hello", "fastapi-hello"]


def tools_dir():
    return os.environ.get("DEPLOY_ACTION_TOOLS") or os.path.expanduser("~/.cache/deploy-action")


def emulated_python():
    root = os.environ.get("DEPLOY_ARM64_ROOT") or os.path.join(tools_dir(), "arm64-root")
    py = os.path.join(root, "usr/bin/python3.13")
    qemu = shutil.which("qemu-aarch64-static")
    if os.path.exists(py) and qemu:
        return [qemu, "-L", root, py]
    return None


def host_python():
    for cand in [shutil.which("python3.13")] + sorted(
        __import__("glob").glob(os.path.expanduser("~/.pyenv/versions/3.13.*/bin/python3.13"))
    ):
        if not cand:
            continue
        try:
            out = subprocess.run(
                [cand, "-c", "import sys; print(*sys.version_info[:2])"],
                capture_output=True, text=True, timeout=60,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.split() == ["3", "13"]:
            return [cand]
    return None


def package(binary, fixture, arch, compile_, out):
    cmd = [binary, "package", "--source", os.path.join(REPO, "fixtures", fixture),
           "--architecture", arch, "--runtime", "python3.13", "--out", out, "--output", "json"]
    if not compile_:
        cmd.append("--no-compile")
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"package failed: {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout)


def first_response(python, zip_path):
    """Seconds from process start to the first response line (fresh unpacked bundle)."""
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        zipfile.ZipFile(zip_path).extractall(tmp)
        cmd = python + ["-B", "-I", "-S", INVOKE, tmp, "GET /"]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        took = time.monotonic() - start
        proc.wait()
        status = json.loads(line).get("statusCode") if line.strip() else None
        if status != 200:
            sys.exit(f"no 200 from {zip_path}: {line!r}")
        pyc = sum(1 for n in zipfile.ZipFile(zip_path).namelist() if n.endswith(".pyc"))
        return took, pyc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--only", default="emulated,host")
    args = ap.parse_args()
    load_before = os.getloadavg()
    pythons = []
    if "emulated" in args.only and (py := emulated_python()):
        pythons.append(("emulated aarch64 CPython 3.13 (qemu-user)", "arm64", py))
    if "host" in args.only and (py := host_python()):
        pythons.append((f"host CPython 3.13 ({py[0]})", "x86_64", py))
    rows, samples = [], []
    with tempfile.TemporaryDirectory(prefix="coldstart-zips-") as work:
        for label, arch, python in pythons:
            for fixture in FIXTURES:
                times = {}
                sizes = {}
                for compile_ in (True, False):
                    out = os.path.join(work, f"{fixture}-{arch}-{compile_}.zip")
                    report = package(args.bin, fixture, arch, compile_, out)
                    sizes[compile_] = report["size"]
                    ts = []
                    # Alternate nothing across variants: each variant's rounds run back to back.
                    for _ in range(args.rounds):
                        took, pyc = first_response(python, out)
                        ts.append(took)
                        samples.append({"python": label, "fixture": fixture, "bytecode": compile_,
                                        "seconds": took, "pyc": pyc, "size": report["size"]})
                        print(f"{label} {fixture} bytecode={compile_}: {took:.2f} s ({pyc} .pyc)",
                              file=sys.stderr, flush=True)
                    times[compile_] = statistics.median(ts)
                less = 1 - times[True] / times[False]
                rows.append((label, fixture, times[False], times[True], less, sizes[False], sizes[True]))
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
          f"({os.cpu_count()} CPUs); medians of {args.rounds}\n")
    print("| interpreter | fixture | without bytecode | with | less | zip without | zip with |")
    print("|---|---|---|---|---|---|---|")
    for label, fixture, without, with_, less, s0, s1 in rows:
        print(f"| {label} | {fixture} | {without:.2f} s | {with_:.2f} s | {less:.0%} | "
              f"{s0 / 2**20:.2f} MiB | {s1 / 2**20:.2f} MiB |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_before": load_before, "load_after": load_after, "samples": samples}, f, indent=1)


if __name__ == "__main__":
    main()
