#!/usr/bin/env bash
# make demo: build the lab, diagnose it while it sends wrong-MAC traffic, show the verdict, remove the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
ND=(.venv/bin/python -m netdrop)
ready=$(mktemp -u /tmp/netdrop-demo-ready.XXXXXX)
cleanup() { "${ND[@]}" lab down >/dev/null 2>&1 || true; rm -f "$ready"; }
trap cleanup EXIT
echo "== netdrop lab up: receiver vB has 10.200.0.2 and secondary 10.200.0.3; the sender believes 10.200.0.3 is at 02:de:ad:be:ef:01"
"${ND[@]}" lab up
echo
echo "== netdrop diagnose --ip 10.200.0.3 --duration 4 (while the lab sends 3 datagrams to 10.200.0.3 and 2 to a closed port)"
"${ND[@]}" diagnose --ip 10.200.0.3 --duration 4 --ready-file "$ready" &
pid=$!
for _ in $(seq 300); do [ -f "$ready" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
"${ND[@]}" lab traffic --count 3 --kind wrong-mac >/dev/null
"${ND[@]}" lab traffic --count 2 --kind closed-port >/dev/null
wait $pid
