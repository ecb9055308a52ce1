#!/bin/sh
# Inside a guest: `netdrop check`, then the lab scenario with N wrong-MAC packets, once with the classification
# hooks chosen automatically (fentry where allowed) and once with kprobes forced; then the unit and integration
# tests; then the VLAN case and, when the harness joined an e1000e (NETDROP_NIC), that scenario; then the cost of the
# hooks. NETDROP_STEPS=cost (make bench): only `check` and the cost; =scenarios: only check, VLAN and e1000e;
# =lab: check, the lab report runs, VLAN and e1000e (no test suite, no cost).
N=5
nd() { python3 -m netdrop "$@"; }
echo "@@@ check"
nd check --json
lab_run() {  # $1: section name, $2: --classify mode, $3: lab scenario and traffic kind
  nd lab up --scenario "${3:-wrong-mac}" >/dev/null 2>/tmp/lab.err
  rm -f /tmp/ready
  nd --debug diagnose --json --duration 15 --classify "$2" --ready-file /tmp/ready > /tmp/report.json 2>/tmp/diag.err &
  pid=$!
  i=0; while [ ! -f /tmp/ready ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done
  nd lab traffic --count $N --kind "${3:-wrong-mac}" >/dev/null 2>>/tmp/lab.err
  wait $pid
  echo "@@@ $1 $4"
  cat /tmp/report.json
  echo "@@@ stderr_$1"
  grep -v "^$" /tmp/diag.err /tmp/lab.err | tail -5
  nd lab down >/dev/null
}
case "${NETDROP_STEPS:-all}" in all|lab)
  lab_run report auto
  lab_run report_kprobe kprobe ;;
esac
if [ "${NETDROP_STEPS:-all}" = all ]; then
  echo "@@@ pytest"
  python3 -m pytest -q -p no:cacheprovider --basetemp=/tmp/pytest -rfEs --tb=short tests/unit tests/integration 2>&1 \
    | tail -150
fi
if [ "${NETDROP_STEPS:-all}" != cost ]; then
  # the VLAN case: a wrong MAC on vB.100 (the development host's kernel has no 802.1Q; the guests have)
  [ "${NETDROP_STEPS:-all}" != e1000e ] && lab_run vlan auto vlan "iface=vB.100 mac=02:25:ad:fa:a8:be ip=10.203.0.3"
  [ -n "$NETDROP_NIC" ] && sh tests/vm/guest-e1000e.sh 2>&1
fi
case "${NETDROP_STEPS:-all}" in scenarios|e1000e|lab) exit 0 ;; esac
echo "@@@ cost"
python3 tests/vm/hookcost.py
