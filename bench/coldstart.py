"""Cold start of the Python bundles with and without bytecode (issue 20 §2).

For each fixture (Flask and FastAPI hello) the bundle is packaged twice, with bytecode (the
default) and with --no-compile, and each is unpacked fresh and started like a Lambda cold start:
one process running tests/support/invoke_handler.py with `-B` (Lambda's /var/task is read-only,
so nothing compiled at start-up is kept for the next cold start), timed from process start to the
first response line on stdout. Interpreters: the emulated aarch64 CPython 3.13 (the arm64 root
under qemu-user, arm64 bundles) and, when present, a host CPython 3.13 (x86_64 bundles).

    python3 bench/coldstart.py --bin target/release/deploy-action [--rounds 3] [--json out.json]

Prints a Markdown table (medians), the load average before and after, the zip sizes and the
goals; --json keeps every sample (bench/bench.py's `coldstart` section renders it from there).
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

import driver_report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INVOKE = os.path.join(REPO, "tests/support/invoke_handler.py")
FIXTURES = ["flask-hello", "fastapi-hello"]
MiB = 1 << 20
# Issue 20 §2: at least this much less time to the first response with bytecode, and the Flask
# hello zip's size with bytecode (True) and with --no-compile (False).
GOAL_LESS = 0.5
GOAL_FLASK_ZIP = {True: 1.5 * MiB, False: 0.75 * MiB}


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


def python_version(python):
    out = subprocess.run(python + ["-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, timeout=300)
    return out.stdout.strip() or "?"


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
    samples = []
    with tempfile.TemporaryDirectory(prefix="coldstart-zips-") as work:
        for label, arch, python in pythons:
            for fixture in FIXTURES:
                for compile_ in (True, False):
                    out = os.path.join(work, f"{fixture}-{arch}-{compile_}.zip")
                    report = package(args.bin, fixture, arch, compile_, out)
                    # Alternate nothing across variants: each variant's rounds run back to back.
                    for _ in range(args.rounds):
                        took, pyc = first_response(python, out)
                        samples.append({"python": label, "fixture": fixture, "bytecode": compile_,
                                        "seconds": took, "pyc": pyc, "size": report["size"]})
                        print(f"{label} {fixture} bytecode={compile_}: {took:.2f} s ({pyc} .pyc)",
                              file=sys.stderr, flush=True)
    data = {"load_before": load_before, "load_after": os.getloadavg(), "rounds": args.rounds,
            "only": args.only, "cpus": os.cpu_count(),
            "pythons": [{"label": label, "arch": arch, "version": python_version(py)}
                        for label, arch, py in pythons],
            "samples": samples}
    driver_report.print_and_keep(data, render, targets, args.json)


def rows(data):
    """(interpreter, fixture, median without, median with, less, zip without, zip with, .pyc)
    per interpreter and fixture, from the samples."""
    out = {}
    for s in data["samples"]:
        out.setdefault((s["python"], s["fixture"]), {}).setdefault(s["bytecode"], []).append(s)
    table = []
    for (label, fixture), by in out.items():
        if True not in by or False not in by:
            continue
        med = {b: statistics.median(x["seconds"] for x in by[b]) for b in (True, False)}
        table.append((label, fixture, med[False], med[True], 1 - med[True] / med[False],
                      by[False][0]["size"], by[True][0]["size"], by[True][0]["pyc"]))
    return table


def render(data):
    """The Markdown table (medians), as lines."""
    b, a = data["load_before"], data["load_after"]
    lines = [f"load average before {b[0]:.1f}, after {a[0]:.1f} ({data.get('cpus', '?')} CPUs); "
             f"medians of {data.get('rounds', '?')}", "",
             "| interpreter | fixture | without bytecode | with | less | zip without | zip with | "
             ".pyc in the zip |", "|---|---|---|---|---|---|---|---|"]
    for label, fixture, without, with_, less, s0, s1, pyc in rows(data):
        lines.append(f"| {label} | {fixture} | {without:.2f} s | {with_:.2f} s | {less:.0%} | "
                     f"{s0 / MiB:.2f} MiB | {s1 / MiB:.2f} MiB | {pyc} |")
    return lines


def targets(data):
    """Issue 20 §2's goals from a run's data: dicts with target, measured, met (None: not
    measured) and, where missed, the gap in the run's own numbers."""
    table = rows(data)
    out = []
    for kind, arch in (("emulated", "arm64"), ("host", "x86_64")):
        for fixture in FIXTURES:
            target = (f"{fixture}, {kind} CPython 3.13: ≥ {GOAL_LESS:.0%} less time to the first "
                      f"response with bytecode")
            row = next((r for r in table if r[1] == fixture and r[0].startswith(kind)), None)
            if row is None:
                why = ("not in coldstart's --only" if kind not in data.get("only", kind)
                       else "no such interpreter on this machine")
                out.append({"target": target, "measured": f"no run ({why})", "met": None})
                continue
            _, _, without, with_, less, _, _, pyc = row
            met = less >= GOAL_LESS
            t = {"target": target, "measured": f"{less:.0%} ({without:.2f} s → {with_:.2f} s)",
                 "met": met}
            if not met:
                need = without * (1 - GOAL_LESS)
                t["gap"] = (f"{less:.0%} less ({without:.2f} s without bytecode, {with_:.2f} s "
                            f"with, medians of "
                            f"{data.get('rounds', '?')}); {GOAL_LESS:.0%} needs ≤ {need:.2f} s with "
                            f"bytecode, {with_ - need:.2f} s less. The bundle ships {pyc} .pyc; where "
                            f"the rest went in an earlier run (modules' own import-time work, "
                            f"modules imported inside functions and so compiled at start-up), "
                            f"traced: bench/RESULTS-coldstart.md")
            out.append(t)
    # The zip sizes: the runtime's architecture (arm64) where measured, else the host's bundle.
    flask = sorted((r for r in table if r[1] == "flask-hello"),
                   key=lambda r: not r[0].startswith("emulated"))
    for compile_, label in ((True, "with bytecode"), (False, "with --no-compile")):
        goal = GOAL_FLASK_ZIP[compile_]
        target = f"Flask hello zip {label}: ≤ {goal / MiB:.2f} MiB"
        if not flask:
            out.append({"target": target, "measured": "no run", "met": None})
            continue
        r = flask[0]
        size = r[6] if compile_ else r[5]
        arch = "arm64" if r[0].startswith("emulated") else "x86_64"
        t = {"target": target, "measured": f"{size / MiB:.2f} MiB ({arch} bundle)",
             "met": size <= goal}
        if not t["met"]:
            t["gap"] = (f"the Flask hello zip {label} is {size / MiB:.2f} MiB, "
                        f"{(size - goal) / 1024:.0f} KiB over {goal / MiB:.2f} MiB")
        out.append(t)
    return out


if __name__ == "__main__":
    main()
