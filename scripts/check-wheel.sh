#!/usr/bin/env bash
# The installed product, not the checkout: build the wheel, install it in a clean venv (with the distribution's bcc),
# and run `netdrop check` and a one-second diagnose from outside the source tree. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NETDROP_CACHE_DIR="$work/cache"  # not the host's /var/cache/netdrop: CI leaves the machine as found
.venv/bin/pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist" . 2>&1 | grep -v "is ignored" || true
wheel=$(ls "$work"/dist/netdrop-*.whl)
unzip -l "$wheel" | grep -q "netdrop/bpf_sources/drops.c" || { echo "error: $wheel lacks the BPF sources" >&2; exit 1; }
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel" 2>&1 | grep -v "is ignored" || true
cd "$work"  # nothing of the checkout on the path
"$work/venv/bin/netdrop" check
"$work/venv/bin/netdrop" diagnose --duration 1 --json > "$work/report.json"
"$work/venv/bin/python" -c "import json, sys; r = json.load(open(sys.argv[1])); assert r['hooks'][0]['attached'], r" \
  "$work/report.json"
"$work/venv/bin/netdrop" export --textfile "$work/netdrop.prom" --interval 0.5 --duration 1.5
[ ! -e "$work/netdrop.prom" ] || { echo "error: export left its textfile behind" >&2; exit 1; }
echo "wheel ok: $(basename "$wheel") installed outside the checkout, check, diagnose and export ran"
