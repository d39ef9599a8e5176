#!/usr/bin/env python3
"""Rewrite citations of the old out-of-tree "design.md §N" into the repository's own contract,
cited by section name: `docs/contract.md, "One deploy, step by step"` (issue 23).

Section names survive renumbering; `tests/integration/docs.rs` checks that every cited file and
section exists. Idempotent: run it again after merging a branch that added new `design.md`
citations.

    python3 scripts/dev/cite-contract.py          # rewrite in place, list what changed
    python3 scripts/dev/cite-contract.py --check  # exit 1 if any design.md citation is left

A citation the table below can't map is reported and left alone (exit 1): add its section to
SECTIONS (or STEPS) and run again.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "docs/contract.md"
# Where citations may appear.
PLACES = ["src", "tests", "action", "scripts", "bench", ".github", ".ci", "examples",
          "action.yml", "README.md", "ARCHITECTURE.md", "fixtures"]

# design.md's numbered sections → the contract's section headings.
SECTIONS = {
    "1": "Model",
    "2": "One deploy, step by step",
    "3": "Commands",
    "4": "Flags",
    "4a": "The settings file",
    "5": "Output",
    "6": "The PR comment",
    "7": "The action",
}
# design.md §2's numbered steps → the contract's step headings.
STEPS = {
    "1": "Resolve and validate",
    "2": "Build",
    "3": "Credentials",
    "4": "Upload",
    "5": "Function",
    "6": "Publish",
    "7": "Move live",
    "8": "Function URL",
    "9": "Report",
    "10": "Prune",
}
# Whole phrases that read better mapped as a unit; tried first.
PHRASES = {
    "design.md §4's production settings": f'{CONTRACT}, "Production settings"',
    "Flags design.md §4 names that": f'Flags that {CONTRACT}, "Production settings" names and that',
    "the exit codes of design.md §5": f'the exit codes of {CONTRACT}, "Exit codes"',
    "exit codes of design.md §5": f'exit codes of {CONTRACT}, "Exit codes"',
}
# `§2 step 8`, `§1, §3`, `§4a`, `§5` after `design.md`.
CITATION = re.compile(
    r"design\.md(?P<refs>(?:,?\s*§(?:\d+[a-z]?)(?:\s+step\s+\d+)?)+|)")
ONE_REF = re.compile(r"§(?P<sec>\d+[a-z]?)(?:\s+step\s+(?P<step>\d+))?")


def heading(sec: str, step: str | None, line: str) -> str | None:
    if step is not None:
        return STEPS.get(step) if sec == "2" else None
    if sec == "5" and "exit code" in line.lower():
        return "Exit codes"
    return SECTIONS.get(sec)


def rewrite_line(line: str, problems: list[str]) -> str:
    for old, new in PHRASES.items():
        line = line.replace(old, new)

    def replace(m: re.Match) -> str:
        refs = list(ONE_REF.finditer(m.group("refs")))
        if not refs:
            return CONTRACT
        names = []
        for r in refs:
            name = heading(r.group("sec"), r.group("step"), line)
            if name is None:
                problems.append(m.group(0))
                return m.group(0)
            names.append(f'"{name}"')
        return f"{CONTRACT}, " + " and ".join(names)

    return CITATION.sub(replace, line)


def files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--", *PLACES], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    return [ROOT / p for p in listed if p != "scripts/dev/cite-contract.py"]


def main() -> int:
    check = "--check" in sys.argv[1:]
    problems: list[str] = []
    left = 0
    for path in files():
        try:
            text = path.read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        if "design.md" not in text:
            continue
        rel = path.relative_to(ROOT)
        if check:
            for n, line in enumerate(text.splitlines(), 1):
                if "design.md" in line:
                    print(f"{rel}:{n}: {line.strip()}")
                    left += 1
            continue
        before = len(problems)
        lines = text.splitlines(keepends=True)
        new = "".join(rewrite_line(line, problems) for line in lines)
        for p in problems[before:]:
            print(f"{rel}: can't map {p!r}", file=sys.stderr)
        if new != text:
            path.write_text(new)
            print(f"rewrote {rel}")
    if check:
        return 1 if left else 0
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
