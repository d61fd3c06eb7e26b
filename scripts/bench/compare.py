#!/usr/bin/env python3
"""Compares the newest run of a benchmark with the run before it and
prints every figure that got worse by more than a threshold (20 % unless
--threshold says otherwise); exits 1 when there is one.

A benchmark NAME's runs are the tables marked `<!-- table: NAME -->` in
docs/bench/*-NAME.md (written by scripts/bench/record.sh), oldest file
and run first. Rows are matched on their first cell; a column is compared
when both runs have a number in it:
- a header with "/s" (rates) is better higher;
- any other number (seconds, ms, MiB, bytes) is better lower;
- "load" and "task runs"/"executions"-like counts are not compared.

Each run's machine and load lines are printed beside the verdict: a
regression measured on a busy machine (load average over the cores) is
flagged as such, not hidden.

    scripts/bench/compare.py NAME [--threshold 20]
    scripts/bench/record.sh --compare NAME "TITLE" COMMAND...  (records, then compares)
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "docs/bench"
RUN = re.compile(r"^## Run of (?P<when>\S+)\n(?P<body>.*?)(?=^## Run of |\Z)", re.S | re.M)
MARK = re.compile(r"<!-- table: (?P<name>[\w-]+) -->\n(?P<table>(?:\|.*\n?)+)")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
# counts that describe the case, not how fast it ran
SKIP = ("load", "task runs", "executions", "errors", "case", "refused (429)", "backlog at end")


def runs(name: str):
    """(when, header lines, table rows) of every run of `name`, oldest first."""
    out = []
    for f in sorted(BENCH.glob(f"*-{name}.md")):
        for r in RUN.finditer(f.read_text()):
            for m in MARK.finditer(r.group("body")):
                if m.group("name") != name:
                    continue
                lines = [l for l in m.group("table").splitlines() if l.startswith("|")]
                info = [l for l in r.group("body").splitlines() if l.startswith("- ")]
                out.append((f"{f.name} {r.group('when')}", info, lines))
    return out


def cells(line: str):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def number(cell: str):
    m = NUMBER.search(cell)
    return float(m.group(0).replace(",", "")) if m else None


def machine(info) -> str:
    return next((l for l in info if l.startswith("- Machine:")), "")


def busy(info) -> str:
    cores = next((int(m.group(1)) for l in info if (m := re.search(r"Machine: (\d+) cores", l))), None)
    load = next((float(m.group(1)) for l in info if (m := re.search(r"Load average[^:]*: ([\d.]+)", l))), None)
    if cores and load is not None and load > cores / 2:
        return f" (machine busy: load {load} on {cores} cores)"
    return ""


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    name = args[0]
    threshold = 20.0
    if "--threshold" in args:
        threshold = float(args[args.index("--threshold") + 1])
    found = runs(name)
    if len(found) < 2:
        print(f"{name}: {len(found)} run(s) recorded, nothing to compare")
        return 0
    (old_when, old_info, old), (new_when, new_info, new) = found[-2], found[-1]
    print(f"{name}: {new_when}{busy(new_info)} against {old_when}{busy(old_info)}")
    if machine(new_info) != machine(old_info):
        print(f"  the machines differ ({machine(old_info)[2:]} / {machine(new_info)[2:]}): a change may be the machine's")
    header = cells(new[0])
    before = {cells(l)[0]: cells(l) for l in old[2:]}
    worse = 0
    for line in new[2:]:
        row = cells(line)
        prev = before.get(row[0])
        if prev is None:
            continue
        for i, col in enumerate(header[1:], start=1):
            if i >= len(row) or i >= len(prev) or col.lower() in SKIP:
                continue
            a, b = number(prev[i]), number(row[i])
            if a is None or b is None or a == 0:
                continue
            higher_better = "/s" in col
            change = (b - a) / a * 100.0
            regressed = change < -threshold if higher_better else change > threshold
            if regressed:
                worse += 1
                print(f"  REGRESSION {row[0]} / {col}: {prev[i]} -> {row[i]} ({change:+.0f} %)")
    if worse == 0:
        print(f"  no figure worse by more than {threshold:.0f} %")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
