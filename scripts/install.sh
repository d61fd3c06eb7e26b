#!/usr/bin/env bash
# Installs `baton` from a release archive (baton-<version>-<triple>.tar.gz,
# made by scripts/release.sh), given as a local path or an http(s) URL, into
# ~/.local/bin (or $PREFIX/bin). The archive's SHA-256 is checked first
# against --sha256 HEX, or else the `<archive>.sha256` file beside it (same
# folder, or the URL + `.sha256`), or else a SHA256SUMS beside it; with none
# of them, or a mismatch, nothing is installed. Says so when the folder is
# not on PATH.
#
#   bash scripts/install.sh dist/baton-0.1.0-x86_64-unknown-linux-gnu.tar.gz
#   bash scripts/install.sh https://example.org/baton-0.1.0-x86_64-unknown-linux-gnu.tar.gz
#   bash scripts/install.sh ARCHIVE --sha256 0123abcd...   the sum from elsewhere (a release page)
#   PREFIX=/usr/local bash scripts/install.sh ARCHIVE      into /usr/local/bin
#
# Idempotent: installing the same archive again replaces the binary with
# the same bytes (the old one is replaced in one rename, never half-written).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() {
  echo "install: $*" >&2
  exit 1
}

archive=""
want=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sha256) want="$2"; shift 2 ;;
    --sha256=*) want="${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$archive" ] || die "one archive at a time ($archive, $1)"; archive="$1"; shift ;;
  esac
done
[ -n "$archive" ] || { usage >&2; exit 2; }

prefix="${PREFIX:-$HOME/.local}"
bindir="$prefix/bin"
name="$(basename "${archive%%\?*}")"
case "$name" in
  baton-*.tar.gz) ;;
  *) die "$name is not a baton release archive (baton-<version>-<triple>.tar.gz)" ;;
esac
case "$name" in
  baton-functions-*) die "$name holds the Cloud Run functions, not the baton CLI (baton-<version>-<triple>.tar.gz)" ;;
esac
case "$name" in
  *"-$(uname -m)-"*) ;;
  *) echo "install: warning: $name does not look built for this machine ($(uname -m))" >&2 ;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# fetch SOURCE DEST: copies a path or downloads a URL; false if absent
fetch() {
  case "$1" in
    http://* | https://*)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL -o "$2" "$1" 2>/dev/null
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
      else
        die "curl or wget is needed to download $1"
      fi
      ;;
    *) [ -f "$1" ] && cp "$1" "$2" ;;
  esac
}

fetch "$archive" "$tmp/$name" || die "cannot read $archive"

# the expected sum: given, or <archive>.sha256, or SHA256SUMS beside it
if [ -z "$want" ]; then
  if fetch "$archive.sha256" "$tmp/sum" 2>/dev/null; then
    want="$(awk '{ print $1; exit }' "$tmp/sum")"
  elif fetch "$(dirname "$archive")/SHA256SUMS" "$tmp/sums" 2>/dev/null; then
    want="$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$tmp/sums")"
  fi
fi
[ -n "$want" ] || die "no SHA-256 for $name: none given (--sha256), no $name.sha256 and no SHA256SUMS entry beside it"
got="$(sha256sum "$tmp/$name" | cut -d' ' -f1)"
want="$(printf '%s' "$want" | tr 'A-F' 'a-f')"
[ "$got" = "$want" ] || die "SHA-256 mismatch for $name: expected $want, got $got; nothing installed"
echo "install: $name SHA-256 $got ok"

mkdir -p "$tmp/x"
tar -xzf "$tmp/$name" -C "$tmp/x"
bin="$(find "$tmp/x" -mindepth 1 -maxdepth 2 -type f -name baton | head -n 1)"
[ -n "$bin" ] || die "$name holds no baton binary"
mkdir -p "$bindir"
install -m 0755 "$bin" "$bindir/.baton.installing"
mv -f "$bindir/.baton.installing" "$bindir/baton"
echo "install: $bindir/baton installed"
if ! "$bindir/baton" --help >/dev/null 2>&1; then
  echo "install: warning: $bindir/baton --help fails on this machine (another target, or an older glibc?)" >&2
fi
case ":$PATH:" in
  *":$bindir:"*) echo "install: run: baton --help" ;;
  *)
    echo "install: $bindir is not on your PATH. Add it, e.g. in ~/.bashrc or ~/.profile:"
    echo "  export PATH=\"$bindir:\$PATH\""
    ;;
esac
