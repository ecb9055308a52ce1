#!/usr/bin/env bash
# Build (and cache) a Debian guest for the kernel matrix: stock kernel + matching headers + python3-bpfcc + iproute2
# + nftables + what the integration tests use (pytest, tcpdump, bpftool, tmux) + iptables (the e1000e scenario's
# raw PREROUTING counter rule), and netdrop's pure-Python
# dependencies as wheels unpacked offline. Everything comes from Debian's archive and PyPI.
# Usage: tests/vm/build.sh SUITE   (bullseye = 5.10, bookworm = 6.1, trixie = 6.12)
set -euo pipefail
suite=${1:?usage: build.sh bullseye|bookworm|trixie}
here=$(cd "$(dirname "$0")" && pwd)
cache="$here/cache"
root="$cache/$suite-root"
img="$cache/$suite.img"
# Bump when the image's contents change: a cached image of another revision is rebuilt.
rev=4
mkdir -p "$cache"
[ -f "$img" ] && [ -f "$cache/$suite.vmlinuz" ] && [ "$(cat "$cache/$suite.rev" 2>/dev/null)" = "$rev" ] \
  && { echo "cached: $img"; exit 0; }
rm -f "$img" "$cache/$suite.rev"

# debootstrap mounts proc (and more) inside the root while it runs; a build killed in the middle leaves them
# mounted. Unmount whatever is under the root (deepest first) before removing it, on every exit of this script
# and before starting over, and never let rm cross into another filesystem.
unmount_root() {
  { grep -o " $root/[^ ]*" /proc/mounts || true; } | sort -r \
    | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
remove_root() { unmount_root; rm -rf --one-file-system "$root"; }
trap unmount_root EXIT
remove_root
pkgs=linux-image-amd64,linux-headers-amd64,python3,python3-bpfcc,iproute2,nftables,procps,kmod,udev,e2fsprogs
pkgs=$pkgs,python3-pytest,tcpdump,bpftool,tmux,iptables
# Exit 75 (EX_TEMPFAIL) when the archive cannot be reached or lacks a package: a fact about the network, which
# run.py reports as SKIP; any other failure of this script is a bug and fails the matrix.
debootstrap --variant=minbase --include="$pkgs" "$suite" "$root" http://deb.debian.org/debian >"$cache/$suite.debootstrap.log" 2>&1 \
  || { tail -20 "$cache/$suite.debootstrap.log"; exit 75; }

# netdrop's Python dependencies, pure-Python wheels unpacked into the image (the guest has no network).
pyver=$(chroot "$root" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
wheels="$cache/wheels-$pyver"
mkdir -p "$wheels"
clickspec="click"
case "$pyver" in 3.9) clickspec="click<8.2" ;; esac   # click 8.2 needs Python 3.10
python3 -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version "$pyver" \
  --dest "$wheels" "$clickspec" rich pyroute2 dpkt prometheus_client >/dev/null || exit 75
deps="$root/opt/netdrop-deps"
mkdir -p "$deps"
for w in "$wheels"/*.whl; do python3 -m zipfile -e "$w" "$deps"; done

# headers: Debian's build/source links already point at the arch and common trees.
kver=$(ls "$root/lib/modules" | sort -V | tail -1)
cp "$root/boot/vmlinuz-$kver" "$cache/$suite.vmlinuz"
cp "$root/boot/initrd.img-$kver" "$cache/$suite.initrd"
echo "$kver" > "$cache/$suite.kver"
install -m 0755 "$here/guest-stub.sh" "$root/netdrop-init"
truncate -s 6G "$img"
mke2fs -q -t ext4 -F -d "$root" "$img"
remove_root
echo "$rev" > "$cache/$suite.rev"
echo "built: $img (kernel $kver, python $pyver)"
