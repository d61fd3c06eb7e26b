# shellcheck shell=bash
# Where the set-up scripts keep what they install or build once (libduckdb,
# mdBook, playwright-core, virtualenvs, container images, Google's discovery
# documents) and where scripts/test.sh keeps its cargo build: OUTSIDE the
# checkout, so a fresh clone on the same machine (CI runs each submission
# in one) finds them instead of spending minutes of the build's cores again.
# SOURCED; sets and exports BATON_CACHE only.
#
#   BATON_CACHE   default ${XDG_CACHE_HOME:-$HOME/.cache}/baton; point it at
#                 an empty folder to see what a fresh machine goes through
BATON_CACHE="${BATON_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/baton}"
export BATON_CACHE
