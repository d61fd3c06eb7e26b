#!/usr/bin/env bash
# Release archives: builds `baton` (the shared crate's binary, with the `gcp`
# feature) and the Cloud Run function binaries (executor, scheduler, worker,
# api) in the `dist` profile (fat LTO, one codegen unit, stripped: Cargo.toml
# [profile.dist]) and packs them, for this machine's target triple, into
#
#   dist/baton-<version>-<triple>.tar.gz             baton, README.md, LICENSE, CHANGELOG.md
#   dist/baton-functions-<version>-<triple>.tar.gz   executor, scheduler, worker, api, LICENSE
#
# each with a `<archive>.sha256` beside it (sha256sum's format) and all in
# dist/SHA256SUMS. The archives are reproducible: sorted names, owner root,
# every mtime the last commit's time, gzip without a timestamp.
# scripts/install.sh installs `baton` from such an archive.
#
#   bash scripts/release.sh                       the dist profile (slow: fat LTO)
#   bash scripts/release.sh --profile release     a quicker build, e.g. to try the script
#   bash scripts/release.sh --out /tmp/dist       elsewhere than dist/
#   CARGO_TARGET_DIR=/elsewhere bash scripts/release.sh
#
# Idempotent: cargo rebuilds only what changed and the archives are
# rewritten. The DuckDB tasks are not in these binaries (they need
# libduckdb; see docs/src/install.md).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

profile=dist
out="$repo/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "release: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
bin_dir="$target_dir/$profile"
[ "$profile" = dev ] && bin_dir="$target_dir/debug"
# the workspace's version ([workspace.package] in Cargo.toml)
version="$(awk '/^\[workspace.package\]/ { p = 1; next } /^\[/ { p = 0 } p && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)"
[ -n "$version" ] || { echo "release: no version in Cargo.toml [workspace.package]" >&2; exit 1; }
triple="$(rustc -vV | sed -n 's/^host: //p')"
[ -n "$triple" ] || { echo "release: cannot tell the target triple (rustc -vV)" >&2; exit 1; }
epoch="$(git log -1 --format=%ct 2>/dev/null || date +%s)"

echo "release: baton $version for $triple, cargo profile $profile (target dir $target_dir)"
started=$(date +%s)
# (DUCKDB_LIB_DIR unset, as scripts/images.sh builds the same binaries:
# shared's build script watches it, and a change rebuilds the crate)
CARGO_TARGET_DIR="$target_dir" nice -n 10 env -u DUCKDB_LIB_DIR cargo build --profile "$profile" --locked -p shared --bin baton --features gcp
CARGO_TARGET_DIR="$target_dir" nice -n 10 env -u DUCKDB_LIB_DIR cargo build --profile "$profile" --locked -p functions \
  --bin executor --bin scheduler --bin worker --bin api
echo "release: built in $(($(date +%s) - started)) s"

mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# pack NAME FILE...: dist/NAME.tar.gz holding NAME/<each file's base name>
pack() {
  local name="$1" f archive
  shift
  mkdir -p "$stage/$name"
  for f in "$@"; do
    [ -f "$f" ] || { echo "release: $f is missing" >&2; exit 1; }
    cp "$f" "$stage/$name/"
  done
  archive="$name.tar.gz"
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - "$name" | gzip -n -9 >"$out/$archive.part"
  mv "$out/$archive.part" "$out/$archive"
  (cd "$out" && sha256sum "$archive" >"$archive.sha256")
  echo "release: $out/$archive $(du -h "$out/$archive" | cut -f1) sha256 $(cut -d' ' -f1 "$out/$archive.sha256")"
}

pack "baton-$version-$triple" "$bin_dir/baton" README.md LICENSE CHANGELOG.md
pack "baton-functions-$version-$triple" "$bin_dir/executor" "$bin_dir/scheduler" "$bin_dir/worker" "$bin_dir/api" LICENSE
(cd "$out" && cat "baton-$version-$triple.tar.gz.sha256" "baton-functions-$version-$triple.tar.gz.sha256" >SHA256SUMS)
echo "release: $out/SHA256SUMS"
echo "release: install with  bash scripts/install.sh $out/baton-$version-$triple.tar.gz"
