#!/usr/bin/env python3
"""How many of Kestra's public blueprints Baton knows and validates.

Usage: scripts/measure/blueprints.py BLUEPRINTS_CHECKOUT [BATON_BIN]

BLUEPRINTS_CHECKOUT is a checkout of github.com/kestra-io/blueprints; its
flows/ folder is read. Each flow's top-level `extend:` block (the
blueprint's catalogue metadata, not part of a flow) is removed, the flows
are validated with `baton validate`, and the script prints: the flows
whose every task, trigger, condition and runner type Baton knows, the
flows that validate, and the types missing from the most flows. A
measurement, not a test: it needs the checkout, which CI does not fetch.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile


def strip_extend(text):
    out, skip = [], False
    for line in text.splitlines(keepends=True):
        if re.match(r"^extend:", line):
            skip = True
            continue
        if skip and re.match(r"^\S", line):
            skip = False
        if not skip:
            out.append(line)
    return "".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = os.path.join(sys.argv[1], "flows")
    baton = sys.argv[2] if len(sys.argv) > 2 else "baton"
    with tempfile.TemporaryDirectory() as tmp:
        names = sorted(f for f in os.listdir(src) if f.endswith((".yaml", ".yml")))
        for name in names:
            with open(os.path.join(src, name), encoding="utf-8") as f:
                text = strip_extend(f.read())
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        run = subprocess.run([baton, "validate", tmp], capture_output=True, text=True)
        unknown = collections.defaultdict(set)
        invalid = set()
        for line in run.stdout.splitlines():
            m = re.match(r"^(.+?\.ya?ml):\d+:\d+: (.*)", line)
            if not m:
                continue
            path, message = m.groups()
            invalid.add(path)
            t = re.search(r"unknown [a-z ]*type '([^']+)'", message)
            if t:
                unknown[path].add(t.group(1))
    total = len(names)
    print(f"blueprints: {total}")
    print(f"every type known: {total - len(unknown)}")
    print(f"valid: {total - len(invalid)}")
    counts = collections.Counter(t for types in unknown.values() for t in types)
    print("types missing from the most flows:")
    for t, n in counts.most_common(15):
        print(f"  {n:3d}  {t}")


if __name__ == "__main__":
    main()
