#!/bin/sh
# Inside a guest with an emulated Intel 82574L (qemu -device e1000e) whose other end is a tap in a namespace of the
# host (tests/vm/nic.py plays the upstream router there, with a static neighbour entry pointing our SECONDARY
# address at a wrong MAC). Three `netdrop diagnose --json` runs, each one window around N wrong-MAC datagrams:
#   1. nothing promiscuous: the NIC's MAC filter discards the frames, no kernel hook sees them;
#   2. tcpdump on the interface (promiscuous through its packet socket): N OTHERHOST drops in ip_rcv_core;
#   3. netdrop --promisc, no tcpdump: the same N; promiscuity back to its old value after exit and after SIGKILL.
# Each window: netdrop attached (ready file) and the end-of-run listener bound -> "@@@ e1000e_go R" on the console
# -> the host sends N wrong-MAC datagrams, then one to PRIMARY -> that one arrives -> the window ends (SIGTERM).
# NETDROP_NIC (from the kernel command line): MAC,PRIMARY,SECONDARY,PREFIXLEN,HOST_IP,N,PORT,DONE_PORT
IFS=, read -r MAC PRIMARY SECONDARY PLEN HOSTIP N PORT DONE <<EOF2
$NETDROP_NIC
EOF2
# netdrop is started as `python3 -m netdrop ... &`, never through a shell function: $! must be netdrop's own pid
# (a function in the background is a subshell, and signalling that would orphan netdrop).
waitfor() {  # $1: a shell condition; up to 300 s (bcc compiles for a minute under TCG)
  i=0; while ! eval "$1" && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done
}
dev=""
for d in /sys/class/net/*; do [ "$(cat "$d/address")" = "$MAC" ] && dev=${d##*/}; done
promisc() { ip -d link show dev "$dev" | grep -o 'promiscuity [0-9]*' | cut -d' ' -f2; }
rawcount() { iptables-save -c -t raw | grep -- "-d $SECONDARY/32" | sed 's/^\[\([0-9]*\):.*/\1/'; }
driver=$(basename "$(readlink "/sys/class/net/$dev/device/driver")" 2>/dev/null)
ip link set "$dev" up
ip addr add "$PRIMARY/$PLEN" dev "$dev"
ip addr add "$SECONDARY/$PLEN" dev "$dev"
iptables -t raw -A PREROUTING -d "$SECONDARY"   # the seed's counter rule: no target, it only counts
waitfor '[ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" = 1 ]'
ip -s link show dev "$dev"
echo "@@@ e1000e_setup dev=$dev driver=$driver carrier=$(cat /sys/class/net/$dev/carrier) raw=$(rawcount)"

window() {  # $1: run number; the rest: extra diagnose options. Prints the report and what the guest saw.
  r=$1; shift
  rm -f /tmp/e.ready /tmp/u.ready
  before=$(promisc)
  python3 -m netdrop --debug diagnose --json --ip "$SECONDARY" --duration 420 --ready-file /tmp/e.ready "$@" \
    >/tmp/e.json 2>/tmp/e.err &
  dpid=$!
  waitfor '[ -f /tmp/e.ready ]'
  python3 tests/vm/udp.py wait "$DONE" 120 /tmp/u.ready >/tmp/u.out 2>&1 &
  upid=$!
  waitfor '[ -f /tmp/u.ready ]'
  during=$(promisc)
  echo "@@@ e1000e_go $r"
  wait $upid
  echo "end-of-run datagram: $(cat /tmp/u.out); ending the window"
  ip -s link show dev "$dev"
  kill -TERM $dpid; wait $dpid; rc=$?
  echo "@@@ e1000e_$r rc=$rc promiscuity_before=$before during=$during after=$(promisc) raw=$(rawcount) done=$(cat /tmp/u.out)"
  cat /tmp/e.json
  echo "@@@ e1000e_stderr_$r"
  grep -v "^$" /tmp/e.err | tail -5
}

window 1
# --immediate-mode: frames still in the ring buffer's open block would be lost when it is stopped right after
tcpdump -i "$dev" -n --immediate-mode -w /tmp/cap.pcap udp port "$PORT" 2>/tmp/td.err &
tpid=$!
waitfor 'grep -q "listening on" /tmp/td.err'
window 2
kill -TERM $tpid; wait $tpid   # (a background job of sh ignores SIGINT)
echo "@@@ e1000e_tcpdump pid=$tpid captured=$(tcpdump -r /tmp/cap.pcap -n 2>/dev/null | wc -l)"
window 3 --promisc
# SIGKILL while holding the interface promiscuous: the kernel drops the membership with the socket.
rm -f /tmp/e.ready
python3 -m netdrop diagnose --json --ip "$SECONDARY" --promisc --classify none --duration 420 --ready-file /tmp/e.ready \
  >/dev/null 2>&1 &
kpid=$!
waitfor '[ -f /tmp/e.ready ]'
during=$(promisc)
kill -KILL $kpid; wait $kpid
echo "@@@ e1000e_kill during=$during after=$(promisc)"
