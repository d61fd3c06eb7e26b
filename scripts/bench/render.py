#!/usr/bin/env python3
"""Renders the figures of README.md, docs/src/performance.md and the
Operate chapter (docs/src/guides/operate/prometheus.md) from the
results files.

A results file (docs/bench/DATE-NAME.md, written by scripts/bench/record.sh
or by hand) marks each table a page may quote with a comment on the line
before it:

    <!-- table: whole -->
    | case | task runs | ... |
    |---|---|...|
    | chain:40 | 40 | ... |

A page quotes it between two markers; everything between them is replaced
by the table (the last table of that name in the file: a file that records
several runs quotes the newest):

    <!-- figures: bench/2026-11-27-whole.md#whole -->
    (rendered here)
    <!-- /figures -->

    scripts/bench/render.py          rewrites the pages
    scripts/bench/render.py --check  fails (exit 1) when a page is stale
                                     or quotes a table no file has
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "docs/src/performance.md", ROOT / "docs/src/guides/operate/prometheus.md"]
BENCH = ROOT / "docs/bench"
QUOTE = re.compile(r"(<!-- figures: (?P<ref>[^ ]+) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)
MARK = re.compile(r"<!-- table: (?P<name>[\w-]+) -->\n(?P<table>(?:\|.*\n?)+)")


def table(ref: str, page: Path) -> str:
    """The last table named `name` in results file `path` (`path#name`)."""
    path, _, name = ref.partition("#")
    file = (page.parent / path).resolve()
    if not file.is_file():
        raise SystemExit(f"{page.relative_to(ROOT)}: quotes {ref}, but {path} is not a results file")
    found = [m.group("table") for m in MARK.finditer(file.read_text()) if m.group("name") == name]
    if not found:
        raise SystemExit(f"{page.relative_to(ROOT)}: quotes {ref}, but {path} marks no table '{name}'")
    return found[-1].rstrip("\n") + "\n"


def render(page: Path) -> str:
    text = page.read_text()
    return QUOTE.sub(lambda m: m.group(1) + table(m.group("ref"), page) + m.group(4), text)


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for page in PAGES:
        new = render(page)
        if new != page.read_text():
            stale.append(page)
            if not check:
                page.write_text(new)
    if check and stale:
        for p in stale:
            print(f"{p.relative_to(ROOT)} does not show its results files' figures: run scripts/bench/render.py")
        return 1
    if not check:
        for p in stale:
            print(f"rendered {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
