#!/usr/bin/env bash
# Install what netdrop needs on Debian 12+/Ubuntu 22.04+ (as root), then a venv that sees the distro's bcc.
# Idempotent and quiet when everything is already there.
# Usage: scripts/install-deps.sh [--test] [--bench] [--vm] [--containers] [--prometheus]
set -euo pipefail
cd "$(dirname "$0")/.."

want=(python3 python3-venv python3-bpfcc iproute2 bpftool)
prometheus=0
for arg in "$@"; do
  case "$arg" in
    # promtool (and prometheus) for tests/unit/test_deploy.py, unpacked under build/ (see the end)
    --prometheus) prometheus=1 ;;
    --test) want+=(tcpdump tshark tmux iputils-arping nftables clang-format) ;;
    --bench) want+=(bpftrace gcc libc6-dev) ;;
    --vm) want+=(qemu-system-x86 qemu-utils debootstrap e2fsprogs) ;;
    # podman with runc (crun refuses hybrid cgroup hosts), its network stack, and busybox for an offline image
    --containers) want+=(podman runc netavark iptables busybox-static) ;;
  esac
done

arch=$(dpkg --print-architecture)
# Kernel headers: the running kernel's when the distro has them, else the distro's generic ones (netdrop copes with
# the mismatch by itself: struct offsets come from BTF).
if ! ls -d /lib/modules/*/build >/dev/null 2>&1; then
  want+=("linux-headers-$(uname -r)|linux-headers-$arch")
fi

missing=()
for spec in "${want[@]}"; do
  ok=0
  IFS='|' read -ra alts <<<"$spec"
  for p in "${alts[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then ok=1; break; fi
  done
  [ $ok = 1 ] || missing+=("$spec")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "error: missing packages: ${missing[*]}" >&2; echo "hint: run as root" >&2; exit 3; fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  pkgs=()
  for spec in "${missing[@]}"; do
    IFS='|' read -ra alts <<<"$spec"
    chosen=""
    for p in "${alts[@]}"; do
      if apt-cache show "$p" >/dev/null 2>&1; then chosen=$p; break; fi
    done
    [ -n "$chosen" ] || { echo "error: none of ${alts[*]} is available from apt" >&2; exit 4; }
    pkgs+=("$chosen")
  done
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# The venv uses the system python so that bcc (python3-bpfcc) is importable.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import bcc" 2>/dev/null; then
  rm -rf .venv
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c "import netdrop, click, rich, pyroute2, dpkt, prometheus_client, pytest, ruff, mypy, vulture, yaml" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
fi

# Debian's prometheus binaries without installing the package: the package would add a running service and a
# system user to the host, the tests only need `promtool check rules` / `promtool test rules`. The .deb is unpacked
# into build/prometheus/ (git-ignored); its dependencies (web UI assets, adduser) are not needed for promtool.
if [ $prometheus = 1 ] && [ ! -x build/prometheus/usr/bin/promtool ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  chown _apt "$tmp" 2>/dev/null || true  # apt downloads as its _apt user (else it warns and falls back to root)
  # the package lists may be stale (a version gone from the mirror): update once, only then
  if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
    if [ "$(id -u)" != 0 ]; then echo "error: apt-get download prometheus failed" >&2; echo "hint: run as root" >&2; exit 3; fi
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null)
  fi
  # unpacked next to its place, then renamed: an interrupted run leaves no half-unpacked promtool that looks done
  rm -rf build/prometheus build/prometheus.partial
  mkdir -p build
  dpkg-deb -x "$tmp"/prometheus_*.deb build/prometheus.partial
  mv build/prometheus.partial build/prometheus
  rm -rf "$tmp"
  trap - EXIT
  build/prometheus/usr/bin/promtool --version >/dev/null
fi
