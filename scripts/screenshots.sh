#!/usr/bin/env bash
# Takes the web UI's screenshots in docs/screenshots/ (shown by
# docs/src/guides/server-ui.md and the README): runs the headless-Chromium
# UI tests with BATON_UI_SCREENSHOTS=1, each of which writes its pictures
# there as it asserts on the page (execution page with the Gantt's
# attempts and Set labels, Plugins page, flows list, login page, the
# vertical topology and the live topology beside the editor, the gallery).
#
#   bash scripts/screenshots.sh                    every UI test
#   bash scripts/screenshots.sh ui::behind_basic   the tests a filter names
#
# Needs Chromium and playwright-core (scripts/setup/chromium.sh, sourced
# here with the other setup scripts). Commit the pictures that changed;
# scripts/docs-check.sh warns about one no page shows.
set -eo pipefail
cd "$(dirname "$0")/.."
export BATON_TEST_FEATURES=""
for f in scripts/setup/*.sh; do
  # shellcheck disable=SC1090
  source "$f"
done
set -u
filters=("$@")
if [ ${#filters[@]} -eq 0 ]; then
  filters=(ui:: ui_ops:: ui_pages:: ui_links::)
fi
# shellcheck disable=SC2086
cargo build --workspace --bins $BATON_TEST_FEATURES
status=0
# shellcheck disable=SC2086
BATON_UI_SCREENSHOTS=1 cargo test --workspace $BATON_TEST_FEATURES --test e2e -- "${filters[@]}" || status=$?
# a failing scenario leaves its last view as failed-*.png: not a picture for the docs
rm -f docs/screenshots/failed-*.png
echo "screenshots: $(find docs/screenshots -name '*.png' | wc -l) pictures in docs/screenshots"
exit "$status"
