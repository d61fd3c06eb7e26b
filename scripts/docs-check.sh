#!/usr/bin/env bash
# The documentation check (run by scripts/test.sh, so by CI; offline once
# mdBook is installed by scripts/setup/mdbook.sh):
#
#   1. `mdbook build docs` builds the site from docs/book.toml + docs/src/;
#   2. every internal link and #anchor of the built HTML resolves: a link to
#      a page or file that is not in the site (a typo, a page missing from
#      SUMMARY.md, a path leaving docs/src/) or to an id the target page does
#      not have fails. External links (http:, https:, mailto:) are not
#      fetched;
#   3. README.md has at most 260 lines;
#   4. no development history in README.md or docs/src/ (it belongs in
#      CHANGELOG.md and git): no "stop N" and no commit hash. A commit hash
#      is a lowercase hex word of 7 to 40 characters holding at least one
#      digit and one letter, not next to '#', '-' or another word character,
#      so hex colours (#a1b2c3), UUIDs, sha256 sums (64 characters) and
#      numbers are not taken for one. docs/src/bench (a link to docs/bench/:
#      benchmark results record the commit they measured) is exempt, and so
#      are the tables a page quotes from them (between `<!-- figures: … -->`
#      and `<!-- /figures -->`);
#   5. the quoted tables are those of the results files
#      (`scripts/bench/render.py --check`).
#
# The generated pages under docs/src/reference/ are checked fresh by the
# end-to-end test `reference_docs` (it runs the built `baton`; this script
# runs before the build).
#
#   bash scripts/docs-check.sh          (BATON_MDBOOK: the mdbook binary;
#                                        default $BATON_CACHE/mdbook/bin/mdbook, then PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

mdbook="${BATON_MDBOOK:-}"
if [ -z "$mdbook" ]; then
  # shellcheck source=lib/cache.sh
  source scripts/lib/cache.sh
  if [ -x "$BATON_CACHE/mdbook/bin/mdbook" ]; then
    mdbook="$BATON_CACHE/mdbook/bin/mdbook"
  elif command -v mdbook >/dev/null 2>&1; then
    mdbook=mdbook
  else
    echo "docs check: mdbook not found; install it with: source scripts/setup/mdbook.sh" >&2
    exit 1
  fi
fi

echo "docs check: $("$mdbook" --version) build docs"
rm -rf docs/book
if ! out=$("$mdbook" build docs 2>&1); then
  echo "$out" >&2
  echo "docs check: mdbook build docs failed" >&2
  exit 1
fi
# mdBook logs at INFO when all is well; anything else (a WARN) is shown
echo "$out" | grep -v '^ INFO ' || true

python3 - <<'PY'
import html.parser, os, re, sys
from urllib.parse import unquote, urlsplit

problems = []

# --- 2. links and anchors of the built site ---------------------------------
BOOK = "docs/book"

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links = set(), []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.links.append((tag, a[key], self.getpos()[0]))

pages = {}
for root, _, files in os.walk(BOOK):
    for f in files:
        if f.endswith(".html"):
            path = os.path.normpath(os.path.join(root, f))
            p = Page()
            with open(path, encoding="utf-8") as fh:
                p.feed(fh.read())
            pages[path] = p

# the print page repeats every page with rewritten links; 404.html and
# toc.html are mdBook's own (their links are the table of contents)
skip_sources = {os.path.join(BOOK, n) for n in ("print.html", "404.html", "toc.html")}
checked = 0
for path, page in sorted(pages.items()):
    if path in skip_sources:
        continue
    for tag, link, line in page.links:
        if not link or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link):
            continue  # http:, https:, mailto:, javascript:, data:
        parts = urlsplit(link)
        target = path
        if parts.path:
            target = os.path.normpath(os.path.join(os.path.dirname(path), unquote(parts.path)))
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
        checked += 1
        src = os.path.relpath(path, BOOK)
        if not target.startswith(BOOK + os.sep):
            problems.append(f"{BOOK}/{src}:{line}: link {link!r} leaves the site (write a repository path in `backticks` instead)")
            continue
        if not os.path.exists(target):
            problems.append(f"{BOOK}/{src}:{line}: broken link {link!r} (no {os.path.relpath(target, BOOK)} in the site)")
            continue
        frag = unquote(parts.fragment)
        if frag and target.endswith(".html") and frag not in pages[target].ids:
            problems.append(f"{BOOK}/{src}:{line}: broken anchor {link!r} (no id {frag!r} in {os.path.relpath(target, BOOK)})")
print(f"docs check: {checked} internal links in {len(pages)} pages")

# the screenshots the UI tests take should all be shown somewhere (a warning)
shots = "docs/screenshots"
if os.path.isdir(shots):
    used = set()
    for path, page in pages.items():
        for _, link, _ in page.links:
            if "screenshots/" in link:
                used.add(os.path.basename(urlsplit(link).path))
    for f in sorted(os.listdir(shots)):
        if f.endswith(".png") and f not in used:
            print(f"docs check: warning: {shots}/{f} is not shown on any page")

# README.md is read on the forge, not in the site: its relative links must
# name files of the repository
with open("README.md", encoding="utf-8") as fh:
    for i, line in enumerate(fh, 1):
        for m in re.finditer(r"\]\(([^)\s]+)\)", line):
            link = m.group(1)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link) or link.startswith("#"):
                continue
            if not os.path.exists(unquote(urlsplit(link).path)):
                problems.append(f"README.md:{i}: broken link {link!r}")

# --- 3. README length ---------------------------------------------------------
MAX_README = 260
with open("README.md", encoding="utf-8") as fh:
    n = sum(1 for _ in fh)
if n > MAX_README:
    problems.append(f"README.md: {n} lines, at most {MAX_README} (move the detail into docs/src/)")

# --- 4. no development history -------------------------------------------------
STOP = re.compile(r"\bstop [0-9]+", re.IGNORECASE)
HASH = re.compile(r"(?<![#\w-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![\w-])")
files = ["README.md"]
for root, dirs, names in os.walk("docs/src"):  # os.walk does not follow the bench symlink
    dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    files += [os.path.join(root, n) for n in names if n.endswith(".md")]
for f in sorted(files):
    with open(f, encoding="utf-8") as fh:
        quoted = False  # inside a table quoted from a results file
        for i, line in enumerate(fh, 1):
            if line.startswith("<!-- figures: "):
                quoted = True
            elif line.startswith("<!-- /figures -->"):
                quoted = False
            if quoted:
                continue
            for m in STOP.finditer(line):
                problems.append(f"{f}:{i}: development history {m.group(0)!r} (history goes to CHANGELOG.md)")
            for m in HASH.finditer(line):
                problems.append(f"{f}:{i}: looks like a commit hash {m.group(0)!r} (history goes to CHANGELOG.md)")

if problems:
    for p in problems:
        print(p, file=sys.stderr)
    print(f"docs check: {len(problems)} problem(s)", file=sys.stderr)
    sys.exit(1)
print(f"docs check: ok (README.md {n} lines)")
PY

# --- 5. the performance page quotes its results files ------------------------
python3 scripts/bench/render.py --check
echo "docs check: the performance page shows its results files' figures"
