#!/bin/sh
# Inside a guest: `netdrop check`, then the lab scenario with N wrong-MAC packets, once with the classification
# hooks chosen automatically (fentry where allowed) and once with kprobes forced; then the unit and integration
# tests; then the cost of the hooks. NETDROP_STEPS=cost (make bench): only `check` and the cost.
N=5
nd() { python3 -m netdrop "$@"; }
echo "@@@ check"
nd check --json
lab_run() {  # $1: section name, $2: --classify mode
  nd lab up >/dev/null
  rm -f /tmp/ready
  nd --debug diagnose --json --duration 15 --classify "$2" --ready-file /tmp/ready > /tmp/report.json 2>/tmp/diag.err &
  pid=$!
  i=0; while [ ! -f /tmp/ready ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done
  nd lab traffic --count $N --kind wrong-mac >/dev/null
  wait $pid
  echo "@@@ $1"
  cat /tmp/report.json
  echo "@@@ stderr_$1"
  grep -v "^$" /tmp/diag.err | tail -5
  nd lab down >/dev/null
}
if [ "${NETDROP_STEPS:-all}" = all ]; then
  lab_run report auto
  lab_run report_kprobe kprobe
  echo "@@@ pytest"
  python3 -m pytest -q -p no:cacheprovider --basetemp=/tmp/pytest -rfEs --tb=short tests/unit tests/integration 2>&1 \
    | tail -150
fi
echo "@@@ cost"
python3 tests/vm/hookcost.py
