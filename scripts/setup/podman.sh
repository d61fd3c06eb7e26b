# shellcheck shell=bash
# A real container engine for the Docker task runner (io.kestra.plugin.
# scripts.runner.docker.Docker): Debian's podman, configured for this
# sandbox, and the test images built locally (no registry is reachable).
# SOURCED by scripts/test.sh (and usable by hand: `source
# scripts/setup/podman.sh`), so: no `exit`, no stray failures under
# `set -euo pipefail`, nothing left behind but the exports.
#
# Idempotent and cached: apt-get runs only when a tool is missing, the
# config is rewritten only when it differs, each image is built only when
# `podman image exists` says it is not there (its root filesystem tarball
# is also kept in $BATON_CACHE/podman/ (scripts/lib/cache.sh), so a wiped image store re-imports
# it in a second).
#
# Why each setting (see ../shared/reference/containers.md):
#   default_ulimits = []      no CAP_SYS_RESOURCE here: podman's default
#                             RLIMIT_NOFILE/NPROC raise fails in the runtime
#   runtime = "runc"          crun 1.8 refuses this machine's hybrid cgroups
#   cgroup_manager=cgroupfs   there is no systemd
#
# Images:
#   localhost/baton-busybox:1   a static busybox and its applets (~1 MB):
#                               the fast cases
#   localhost/baton-python:3    Debian bookworm minbase + python3 (`python`
#                               too), from Debian's packages via mmdebstrap
#
# Exports:
#   BATON_PODMAN_READY   1 when podman answers and both images exist

baton_setup_podman() {
  local repo cache conf want root tmp
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  cache="$BATON_CACHE/podman"
  unset BATON_PODMAN_READY

  if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 \
    || ! [ -x /bin/busybox ] || ! command -v mmdebstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "podman setup: podman, runc, busybox-static and mmdebstrap are needed (apt-get, as root); container tests are left out" >&2
      return 0
    fi
    echo "podman setup: installing podman runc busybox-static mmdebstrap"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc busybox-static mmdebstrap; } >/dev/null 2>&1; then
      echo "podman setup: apt-get install failed; container tests are left out" >&2
      return 0
    fi
  fi

  conf=/etc/containers/containers.conf
  want='[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"'
  if [ "$(cat "$conf" 2>/dev/null || true)" != "$want" ]; then
    if [ -e "$conf" ] && ! grep -q '^# baton' "$conf" 2>/dev/null && [ -s "$conf" ] && [ ! -e "$conf.baton-orig" ]; then
      cp "$conf" "$conf.baton-orig" 2>/dev/null || true
    fi
    if mkdir -p /etc/containers 2>/dev/null && printf '%s\n' "$want" >"$conf" 2>/dev/null; then
      echo "podman setup: wrote $conf"
    else
      echo "podman setup: cannot write $conf (not root?); podman may fail in this sandbox" >&2
    fi
  fi

  if ! podman info --format json >/dev/null 2>&1; then
    echo "podman setup: 'podman info' fails: $(podman info 2>&1 | tail -1); container tests are left out" >&2
    return 0
  fi

  mkdir -p "$cache"
  if ! podman image exists localhost/baton-busybox:1; then
    if [ ! -s "$cache/busybox.tar" ]; then
      tmp="$(mktemp -d)"
      root="$tmp/root"
      mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root" "$root/home/app"
      chmod 1777 "$root/tmp"
      cp /bin/busybox "$root/bin/busybox"
      local applet
      for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
      done
      printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
      printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
      chown 1000:1000 "$root/home/app"
      tar -C "$root" -cf "$cache/busybox.tar.part" . && mv "$cache/busybox.tar.part" "$cache/busybox.tar"
      rm -rf "$tmp"
    fi
    echo "podman setup: importing localhost/baton-busybox:1"
    podman import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
      "$cache/busybox.tar" localhost/baton-busybox:1 >/dev/null 2>&1 || true
  fi

  if ! podman image exists localhost/baton-python:3; then
    if [ ! -s "$cache/python.tar" ]; then
      echo "podman setup: building a Debian root filesystem with python3 (mmdebstrap, about a minute)"
      if mmdebstrap --quiet --format=tar --variant=minbase --include=python3-minimal,python-is-python3 \
        bookworm "$cache/python.tar.part" /etc/apt/sources.list.d/debian.sources >"$cache/mmdebstrap.log" 2>&1 \
        || mmdebstrap --quiet --format=tar --variant=minbase --include=python3-minimal,python-is-python3 \
          bookworm "$cache/python.tar.part" >"$cache/mmdebstrap.log" 2>&1; then
        mv "$cache/python.tar.part" "$cache/python.tar"
      else
        echo "podman setup: mmdebstrap failed (see $cache/mmdebstrap.log); the python image is left out" >&2
        rm -f "$cache/python.tar.part"
      fi
    fi
    if [ -s "$cache/python.tar" ]; then
      echo "podman setup: importing localhost/baton-python:3"
      podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' "$cache/python.tar" localhost/baton-python:3 >/dev/null 2>&1 || true
    fi
  fi

  if podman image exists localhost/baton-busybox:1 && podman image exists localhost/baton-python:3; then
    export BATON_PODMAN_READY=1
    echo "podman setup: podman $(podman version --format '{{.Client.Version}}' 2>/dev/null) with localhost/baton-busybox:1 and localhost/baton-python:3"
  fi
}

baton_setup_podman
