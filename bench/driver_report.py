"""What the issue-20 drivers (coldstart.py, bigupload.py) print and keep at the end of a run."""

import json

VERDICTS = {True: "met", False: "MISSED", None: "not measured"}


def print_and_keep(data, render, targets, json_path):
    """Print the report and each goal's verdict; write `data` to `json_path` when given."""
    print("\n".join(render(data)))
    print()
    for t in targets(data):
        gap = f" ({t['gap']})" if t.get("gap") else ""
        print(f"- {t['target']}: {t['measured']}, {VERDICTS[t['met']]}{gap}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(data, f, indent=1)
