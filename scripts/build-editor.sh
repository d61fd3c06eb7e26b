#!/usr/bin/env bash
# Rebuilds the UI's flow editor bundle from ui/editor/ (CodeMirror 6 from
# npm, pinned by package-lock.json) into shared/src/api/ui/editor.js and
# editor.css, and records their sources' hash in editor.stamp. The built
# files are committed, so `cargo build` needs no Node; run this after any
# change under ui/editor/ (the ui.rs test `the_editor_bundle_is_built_from_its_sources`
# fails until you do). Needs node and npm; reproducible: same lock file and
# sources, same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="$root/shared/src/api/ui"
cd ui/editor
npm ci --no-audit --no-fund --loglevel=error
common=(--bundle --minify --legal-comments=eof --charset=utf8 --log-level=warning)
npx --no-install esbuild src/index.js "${common[@]}" --format=esm --target=es2020 --outfile="$out/editor.js"
npx --no-install esbuild src/editor.css "${common[@]}" --outfile="$out/editor.css"
node stamp.mjs "$root" > "$out/editor.stamp"
echo "editor.js $(wc -c < "$out/editor.js") bytes ($(gzip -9c "$out/editor.js" | wc -c) gzipped), editor.css $(wc -c < "$out/editor.css") bytes"
