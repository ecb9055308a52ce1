#!/bin/sh
# Inside a guest: check, the lab scenario with N wrong-MAC packets, and the integration tests if pytest is there.
N=5
nd() { python3 -m netdrop "$@"; }
echo "@@@ check"
nd check --json
echo "@@@ lab"
nd lab up >/dev/null
nd --debug diagnose --json --duration 20 --ready-file /tmp/ready > /tmp/report.json 2>/tmp/diag.err &
pid=$!
i=0; while [ ! -f /tmp/ready ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
nd lab traffic --count $N --kind wrong-mac >/dev/null
wait $pid
echo "@@@ report"
cat /tmp/report.json
echo "@@@ stderr"
cat /tmp/diag.err
nd lab down >/dev/null
