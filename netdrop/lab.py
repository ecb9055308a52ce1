"""The built-in reproduction lab: the wrong-MAC situation (and its relatives) in network namespaces netdrop creates.

Everything lives in namespaces named ndlab-*; `down` removes every one of them, whatever state a crash left.
Traffic only ever goes between these namespaces.
"""
from __future__ import annotations

import os
import signal
import sys
import subprocess
import time
from typing import Dict, List

from .errors import NetdropError, NotFound, PermissionDenied, UsageError
from .net import netns

# NETDROP_LAB_PREFIX lets parallel test runs keep separate labs; everything netdrop creates starts with it.
PREFIX = os.environ.get("NETDROP_LAB_PREFIX", "ndlab-")
RX_NS, TX_NS = PREFIX + "rx", PREFIX + "tx"
RX_IF, TX_IF = "vB", "vA"
RX_MAC, TX_MAC = "02:25:ad:fa:a8:be", "02:4e:44:00:00:01"
WRONG_MAC = "02:de:ad:be:ef:01"
SENDER_IP, PRIMARY_IP, SECONDARY_IP = "10.200.0.1", "10.200.0.2", "10.200.0.3"
PREFIXLEN = 24
UDP_PORT = 9999  # wrong-MAC traffic goes here
CLOSED_PORT = 9  # nothing listens: NO_SOCKET drops

BRIDGE = "br0"
PORT_MAC = "02:25:ad:fa:a8:bf"  # the bridge port's own MAC in the bridge scenario (br0 carries RX_MAC)

SCENARIOS = {
    "wrong-mac": "the sender's neighbour entry for the receiver's secondary address points at a wrong MAC (veth: "
                 "no MAC filter, every frame reaches the IP layer)",
    "bridge": "the same fault, but the receiver's addresses sit on a Linux bridge, which passes foreign-MAC frames "
              "up to its own IP stack only while it is promiscuous: the NIC filter of the original report",
    "changed-mac": "the sender learned the secondary address's MAC by ARP, then the receiver's MAC changed: the "
                   "sender's (dynamic) cache still holds the old one",
    "macvlan": "the wrong MAC belongs to a macvlan child (down) on the receiver: the sender's static entry points "
               "at the child instead of the interface that has the address",
    "rp-filter": "strict reverse-path filtering on the receiver; `traffic --kind rp-filter` comes from 10.99.0.1, "
                 "an address the receiver has no route back to",
    "not-local": "the sender sends 10.200.0.9 to the receiver's MAC; the receiver neither has nor routes it",
    "netfilter": "an nftables rule in the receiver drops UDP to port 7001",
    "rcvbuf": "a process in the receiver (ndlab-sink) holds a UDP socket on port 7002 with a tiny buffer and never "
              "reads it",
    "ipv6": "the wrong-MAC fault for IPv6: the sender's static neighbour entry for fd00:200::3 points at the wrong "
            "MAC (ip6_rcv_core drops the frames as OTHERHOST)",
    "multi": "the wrong MAC plus rp-filter, not-local, netfilter and rcvbuf at once",
    "vlan": "the wrong-MAC fault on an 802.1Q VLAN: the sender's vA.100 has a static entry pointing the receiver's "
            "secondary VLAN address (on vB.100) at a wrong MAC",
    "backlog": "a bridge in the receiver fans each broadcast frame of `traffic --kind backlog` out to 4 veth ports "
               "while the host-wide net.core.netdev_max_backlog is 2 (for the send only, restored at once): one "
               "CPU_BACKLOG drop per frame",
}
SENDER_IP6, PRIMARY_IP6, SECONDARY_IP6 = "fd00:200::1", "fd00:200::2", "fd00:200::3"
SPOOF_SRC = "10.99.0.1"  # rp-filter: configured on the sender, unroutable from the receiver
NOT_LOCAL_IP = "10.200.0.9"
NF_PORT, SINK_PORT = 7001, 7002
SINK_NAME = "ndlab-sink"
VLAN_ID = 100
VLAN_TX_IF, VLAN_RX_IF = f"{TX_IF}.{VLAN_ID}", f"{RX_IF}.{VLAN_ID}"
VLAN_SENDER_IP, VLAN_PRIMARY_IP, VLAN_SECONDARY_IP = "10.201.0.1", "10.201.0.2", "10.201.0.3"
OLD_RX_MAC = "02:25:ad:fa:a8:00"  # changed-mac: what vB had before the change


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise NetdropError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}", "run `netdrop lab down` and retry")
    return r


def namespaces() -> List[str]:
    return [n for n in netns.named() if n.startswith(PREFIX)]


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionDenied("the lab creates network namespaces, which needs root", "run it with sudo")


def down() -> List[str]:
    _require_root()
    from .labbacklog import restore
    restore()  # a netdev_max_backlog a killed `traffic --kind backlog` left lowered
    removed = []
    for name in namespaces():
        for pid in ip("netns", "pids", name, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)  # the lab's own processes (ndlab-sink)
            except (ProcessLookupError, ValueError):
                pass
        ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


def up(scenario: str = "wrong-mac") -> Dict[str, str]:
    _require_root()
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown lab scenario {scenario!r}", "scenarios: " + ", ".join(SCENARIOS))
    down()
    try:
        _build_base(bridge=scenario == "bridge")
        for extra in EXTRAS.get(scenario, ()):
            extra()
    except BaseException:
        down()
        raise
    return status()


def _sysctl(ns: str, key: str, value: str) -> None:
    ip("netns", "exec", ns, "sysctl", "-qw", f"{key}={value}")


def _build_base(bridge: bool = False) -> None:
    for ns in (RX_NS, TX_NS):
        ip("netns", "add", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        # no IPv6 autoconfiguration chatter (router/neighbour solicitations) in the lab's drop counts
        _sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
        _sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")
    ip("-n", TX_NS, "link", "add", "name", TX_IF, "address", TX_MAC, "type", "veth", "peer", "name", RX_IF,
        "address", PORT_MAC if bridge else RX_MAC, "netns", RX_NS)
    owner = RX_IF
    if bridge:
        owner = BRIDGE
        ip("-n", RX_NS, "link", "add", "name", BRIDGE, "address", RX_MAC, "type", "bridge")
        ip("-n", RX_NS, "link", "set", RX_IF, "master", BRIDGE)
        ip("-n", RX_NS, "link", "set", BRIDGE, "up")
    ip("-n", RX_NS, "addr", "add", f"{PRIMARY_IP}/{PREFIXLEN}", "dev", owner)
    ip("-n", RX_NS, "addr", "add", f"{SECONDARY_IP}/{PREFIXLEN}", "dev", owner)
    ip("-n", TX_NS, "addr", "add", f"{SENDER_IP}/{PREFIXLEN}", "dev", TX_IF)
    ip("-n", RX_NS, "link", "set", RX_IF, "up")
    ip("-n", TX_NS, "link", "set", TX_IF, "up")
    # The fault: the sender believes the secondary address lives at a MAC nobody has.
    ip("-n", TX_NS, "neigh", "replace", SECONDARY_IP, "lladdr", WRONG_MAC, "dev", TX_IF, "nud", "permanent")
    # Deterministic counts: no ARP resolution (and its queue) in front of the primary address either.
    ip("-n", TX_NS, "neigh", "replace", PRIMARY_IP, "lladdr", RX_MAC, "dev", TX_IF, "nud", "permanent")
    ip("-n", RX_NS, "neigh", "replace", SENDER_IP, "lladdr", TX_MAC, "dev", owner, "nud", "permanent")


def _build_changed_mac() -> None:
    """The sender learns vB's MAC by ARP; then vB gets a new MAC and tells nobody (arp_notify is 0)."""
    ip("-n", TX_NS, "neigh", "del", SECONDARY_IP, "dev", TX_IF)
    # keep the learned entry REACHABLE for the whole lab's life, so the test does not race ARP's timers
    _sysctl(TX_NS, f"net.ipv4.neigh.{TX_IF}.base_reachable_time_ms", "3600000")
    ip("-n", RX_NS, "link", "set", RX_IF, "address", OLD_RX_MAC)
    send(1, "wrong-mac")  # triggers ARP; wait for the kernel's answer (a state, not a sleep guess)
    deadline = time.monotonic() + 5
    while OLD_RX_MAC not in ip("-n", TX_NS, "neigh", "show", SECONDARY_IP, check=False).stdout:
        if time.monotonic() > deadline:
            raise NetdropError("the changed-mac lab could not resolve the receiver by ARP", "run `netdrop lab down`")
        time.sleep(0.01)
    ip("-n", RX_NS, "link", "set", RX_IF, "address", RX_MAC)


def _build_macvlan() -> None:
    ip("-n", RX_NS, "link", "add", "link", RX_IF, "name", "mv0", "address", WRONG_MAC, "type", "macvlan",
        "mode", "bridge")


def _build_rp_filter() -> None:
    _sysctl(RX_NS, "net.ipv4.conf.all.rp_filter", "1")
    _sysctl(RX_NS, f"net.ipv4.conf.{RX_IF}.rp_filter", "1")
    ip("-n", TX_NS, "addr", "add", f"{SPOOF_SRC}/32", "dev", TX_IF)


def _build_not_local() -> None:
    ip("-n", TX_NS, "neigh", "replace", NOT_LOCAL_IP, "lladdr", RX_MAC, "dev", TX_IF, "nud", "permanent")


def _build_netfilter() -> None:
    table = PREFIX.replace("-", "_") + "filter"  # nft names take no dashes
    rules = (f"add table inet {table}\n"
             f"add chain inet {table} input {{ type filter hook input priority 0; }}\n"
             f"add rule inet {table} input udp dport {NF_PORT} counter drop\n")
    r = subprocess.run(["ip", "netns", "exec", RX_NS, "nft", "-f", "-"], input=rules, capture_output=True, text=True)
    if r.returncode != 0:
        raise NetdropError(f"nft failed: {r.stderr.strip() or 'not installed'}", "apt-get install nftables")


def _build_sink() -> None:
    """A process that holds a UDP socket with the smallest buffer and never reads it."""
    subprocess.Popen(["ip", "netns", "exec", RX_NS, sys.executable, "-m", "netdrop.labsink", PRIMARY_IP,
                      str(SINK_PORT), SINK_NAME], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    port = f":{SINK_PORT:04X} "
    while True:  # wait for the socket itself, not for a guessed delay
        with netns.entered(RX_NS):
            with open("/proc/thread-self/net/udp") as f:
                if port in f.read():
                    return
        if time.monotonic() > deadline:
            raise NetdropError("the lab's receive sink did not start", "run `netdrop lab down` and retry")
        time.sleep(0.01)


def _build_ipv6() -> None:
    """IPv6 on the lab's two ends only: no autoconfiguration, no DAD, static neighbours (deterministic counts)."""
    for ns, dev, addrs in ((RX_NS, RX_IF, (PRIMARY_IP6, SECONDARY_IP6)), (TX_NS, TX_IF, (SENDER_IP6,))):
        ip("-n", ns, "link", "set", "dev", dev, "addrgenmode", "none")
        _sysctl(ns, f"net.ipv6.conf.{dev}.accept_ra", "0")
        _sysctl(ns, f"net.ipv6.conf.{dev}.disable_ipv6", "0")
        for a in addrs:
            ip("-n", ns, "addr", "add", f"{a}/64", "dev", dev, "nodad")
    ip("-n", TX_NS, "neigh", "replace", SECONDARY_IP6, "lladdr", WRONG_MAC, "dev", TX_IF, "nud", "permanent")
    ip("-n", TX_NS, "neigh", "replace", PRIMARY_IP6, "lladdr", RX_MAC, "dev", TX_IF, "nud", "permanent")
    ip("-n", RX_NS, "neigh", "replace", SENDER_IP6, "lladdr", TX_MAC, "dev", RX_IF, "nud", "permanent")


def _build_backlog() -> None:
    from .labbacklog import build
    build()


def _build_vlan() -> None:
    for ns, lower, name in ((TX_NS, TX_IF, VLAN_TX_IF), (RX_NS, RX_IF, VLAN_RX_IF)):
        r = ip("-n", ns, "link", "add", "link", lower, "name", name, "type", "vlan", "id", str(VLAN_ID), check=False)
        if r.returncode != 0:
            raise NetdropError(f"could not create the VLAN interface {name}: {r.stderr.strip()}",
                               "this kernel has no 802.1Q support (CONFIG_VLAN_8021Q, module 8021q)")
        ip("-n", ns, "link", "set", name, "up")
    ip("-n", RX_NS, "addr", "add", f"{VLAN_PRIMARY_IP}/{PREFIXLEN}", "dev", VLAN_RX_IF)
    ip("-n", RX_NS, "addr", "add", f"{VLAN_SECONDARY_IP}/{PREFIXLEN}", "dev", VLAN_RX_IF)
    ip("-n", TX_NS, "addr", "add", f"{VLAN_SENDER_IP}/{PREFIXLEN}", "dev", VLAN_TX_IF)
    ip("-n", TX_NS, "neigh", "replace", VLAN_SECONDARY_IP, "lladdr", WRONG_MAC, "dev", VLAN_TX_IF, "nud", "permanent")
    ip("-n", TX_NS, "neigh", "replace", VLAN_PRIMARY_IP, "lladdr", RX_MAC, "dev", VLAN_TX_IF, "nud", "permanent")


EXTRAS = {
    "vlan": (_build_vlan,),
    "changed-mac": (_build_changed_mac,),
    "macvlan": (_build_macvlan,),
    "rp-filter": (_build_rp_filter,),
    "not-local": (_build_not_local,),
    "netfilter": (_build_netfilter,),
    "rcvbuf": (_build_sink,),
    "ipv6": (_build_ipv6,),
    "multi": (_build_rp_filter, _build_not_local, _build_netfilter, _build_sink),
    "backlog": (_build_backlog,),
}


def status() -> Dict[str, str]:
    spaces = namespaces()
    out = {"namespaces": " ".join(spaces) or "none"}
    if TX_NS in spaces:
        r = ip("-n", TX_NS, "neigh", "show", SECONDARY_IP, check=False)
        out["sender neighbour entry"] = r.stdout.strip() or "none"
    if RX_NS in spaces:
        r = ip("-n", RX_NS, "-br", "addr", "show", "up", check=False)
        out["receiver"] = " | ".join(line.strip() for line in r.stdout.splitlines() if not line.startswith("lo"))
        r = ip("-n", RX_NS, "-br", "link", "show", "up", check=False)
        out["receiver links"] = " | ".join(line.strip() for line in r.stdout.splitlines() if not line.startswith("lo"))
    return out


def require_lab() -> None:
    if TX_NS not in namespaces() or RX_NS not in namespaces():
        raise NotFound("the lab is not up", "run `netdrop lab up` first")


# The lab's traffic lives in labtraffic.py (which imports this module); these keep `lab.send(...)` working.
def send(count: int, kind: str = "wrong-mac", interval: float = 0.0) -> int:
    from .labtraffic import send as _send
    return _send(count, kind, interval)


def flood(seconds: float) -> int:
    from .labtraffic import flood as _flood
    return _flood(seconds)


def wrong_mac_frame() -> bytes:
    from .labtraffic import wrong_mac_frame as _frame
    return _frame()
