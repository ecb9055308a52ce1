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

from .errors import HostError, NotFound, PermissionDenied, UsageError
from .net import netns

# NETDROP_LAB_PREFIX lets parallel test runs keep separate labs; everything netdrop creates starts with it.
PREFIX = os.environ.get("NETDROP_LAB_PREFIX", "ndlab-")
RX_NS, TX_NS = PREFIX + "rx", PREFIX + "tx"
MV_NS, MV_IP = PREFIX + "mv", "10.200.0.5"  # macvlan-netns: the child's own namespace and address
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
    "macvlan-netns": "the wrong MAC belongs to a macvlan child of vB that lives in another namespace (as a "
                     "container's would): the macvlan delivers the frames there, where the address is not local",
    "rp-filter": "strict reverse-path filtering on the receiver; `traffic --kind rp-filter` comes from 10.99.0.1, "
                 "an address the receiver has no route back to",
    "not-local": "the sender sends 10.200.0.9 to the receiver's MAC; the receiver neither has nor routes it",
    "forwarding": "the not-local scenario on a receiver that forwards (net.ipv4.ip_forward=1, as on any host "
                  "running containers): `traffic --kind not-local` to 10.200.0.9 is routed back out of vB and dropped "
                  "when nobody answers ARP (NEIGH_FAILED); `--kind no-route` to 10.201.0.9 finds no route "
                  "(IP_INNOROUTES)",
    "netfilter": "an nftables rule in the receiver drops UDP to port 7001",
    "rcvbuf": "a process in the receiver (ndlab-sink) holds a UDP socket on port 7002 with a tiny buffer and never "
              "reads it",
    "ipv6": "the wrong-MAC fault for IPv6: the sender's static neighbour entry for fd00:200::3 points at the wrong "
            "MAC (ip6_rcv_core drops the frames as OTHERHOST)",
    "multi": "the wrong MAC plus rp-filter, not-local, netfilter and rcvbuf at once",
    "backlog": "a bridge in the receiver fans each broadcast frame of `traffic --kind backlog` out to 4 veth ports "
               "while the host-wide net.core.netdev_max_backlog is 2 (for the send only, restored at once): one "
               "CPU_BACKLOG drop per frame",
}
SENDER_IP6, PRIMARY_IP6, SECONDARY_IP6 = "fd00:200::1", "fd00:200::2", "fd00:200::3"
SPOOF_SRC = "10.99.0.1"  # rp-filter: configured on the sender, unroutable from the receiver
NOT_LOCAL_IP = "10.200.0.9"
NO_ROUTE_NET, NO_ROUTE_IP = "10.201.0.0/24", "10.201.0.9"  # forwarding: the sender routes it via the receiver
NF_PORT, SINK_PORT = 7001, 7002
SINK_NAME = "ndlab-sink"
OLD_RX_MAC = "02:25:ad:fa:a8:00"  # changed-mac: what vB had before the change


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise HostError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}", "run `netdrop lab down` and retry")
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


def in_ns(where, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `cmd` in a namespace given as an `ip netns` name, a pid (int) or a namespace path (a bind mount)."""
    if isinstance(where, int):
        full = ["nsenter", "-t", str(where), "-n", *cmd]
    elif where.startswith("/"):
        full = ["nsenter", f"--net={where}", *cmd]
    else:
        full = ["ip", "netns", "exec", where, *cmd]
    r = subprocess.run(full, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise HostError(f"`{' '.join(full)}` failed: {r.stderr.strip()}", "run `netdrop lab down` and retry")
    return r


def ns_ip(where, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`ip` in `where` (see in_ns): `ip -n NAME` for a name."""
    if isinstance(where, str) and not where.startswith("/"):
        return ip("-n", where, *args, check=check)
    return in_ns(where, "ip", *args, check=check)


def _sysctl(ns, key: str, value: str) -> None:
    in_ns(ns, "sysctl", "-qw", f"{key}={value}")


# Every sysctl a scenario relies on, set in each lab namespace before any link exists (links copy conf/default).
# A new namespace inherits IPv4's conf/all and conf/default from the host (net.core.devconf_inherit_init_net=0, the
# default; =1 inherits IPv6's too), so a host running containers (ip_forward=1, rp_filter=1) would otherwise change
# what the lab shows. OPTIONAL keys may be missing (a module not loaded); the others must exist.
BASELINE_SYSCTLS = {
    "net/ipv4/ip_forward": "0",
    **{f"net/ipv4/conf/{scope}/{key}": "0" for scope in ("all", "default")
       for key in ("forwarding", "rp_filter", "arp_ignore", "arp_announce", "arp_filter", "arp_notify",
                   "accept_local", "route_localnet")},
    # no IPv6 autoconfiguration chatter (router/neighbour solicitations) in the lab's drop counts; the ipv6
    # scenario turns it on for its two interfaces only
    **{f"net/ipv6/conf/{scope}/{key}": value for scope in ("all", "default")
       for key, value in (("forwarding", "0"), ("disable_ipv6", "1"), ("accept_ra", "0"))},
}
OPTIONAL_SYSCTLS = {  # br_netfilter, when a container engine loaded it: bridged frames through iptables
    "net/bridge/bridge-nf-call-iptables": "0", "net/bridge/bridge-nf-call-ip6tables": "0",
    "net/bridge/bridge-nf-call-arptables": "0",
}


def set_sysctls(ns, values: Dict[str, str], optional: bool = False) -> None:
    """Write /proc/sys/<key> as seen inside `ns` (see in_ns; net sysctls resolve in the opener's namespace)."""
    with netns.entered(f"/proc/{ns}/ns/net" if isinstance(ns, int) else ns):
        for key, value in values.items():
            try:
                with open("/proc/sys/" + key, "w") as f:
                    f.write(value)
            except FileNotFoundError:
                if not optional:
                    raise HostError(f"this kernel has no sysctl {key.replace('/', '.')}",
                                       "the lab needs it; run `netdrop check`") from None


def _build_base(bridge: bool = False) -> None:
    for ns in (RX_NS, TX_NS):
        ip("netns", "add", ns)
    build_pair(RX_NS, TX_NS, bridge)


def build_pair(rx, tx, bridge: bool = False, rx_if: str = RX_IF, tx_if: str = TX_IF, tx_mac: str = TX_MAC,
               wrong_mac: str = WRONG_MAC) -> None:
    """The wrong-MAC situation between two existing namespaces (names, pids or paths: see in_ns): a veth pair, the
    receiver's two addresses, and the sender's static neighbour entry pointing the secondary address at WRONG_MAC.
    A second pair on the same host should use its own `tx_mac`: the sender is recognised by its MAC."""
    for ns in (rx, tx):
        ns_ip(ns, "link", "set", "lo", "up")
        set_sysctls(ns, BASELINE_SYSCTLS)
        set_sysctls(ns, OPTIONAL_SYSCTLS, optional=True)
    ns_ip(tx, "link", "add", "name", tx_if, "address", tx_mac, "type", "veth", "peer", "name", rx_if,
          "address", PORT_MAC if bridge else RX_MAC, "netns", str(rx))
    owner = rx_if
    if bridge:
        owner = BRIDGE
        ns_ip(rx, "link", "add", "name", BRIDGE, "address", RX_MAC, "type", "bridge")
        ns_ip(rx, "link", "set", rx_if, "master", BRIDGE)
        ns_ip(rx, "link", "set", BRIDGE, "up")
    ns_ip(rx, "addr", "add", f"{PRIMARY_IP}/{PREFIXLEN}", "dev", owner)
    ns_ip(rx, "addr", "add", f"{SECONDARY_IP}/{PREFIXLEN}", "dev", owner)
    ns_ip(tx, "addr", "add", f"{SENDER_IP}/{PREFIXLEN}", "dev", tx_if)
    ns_ip(rx, "link", "set", rx_if, "up")
    ns_ip(tx, "link", "set", tx_if, "up")
    # The fault: the sender believes the secondary address lives at a MAC nobody has.
    ns_ip(tx, "neigh", "replace", SECONDARY_IP, "lladdr", wrong_mac, "dev", tx_if, "nud", "permanent")
    # Deterministic counts: no ARP resolution (and its queue) in front of the primary address either.
    ns_ip(tx, "neigh", "replace", PRIMARY_IP, "lladdr", RX_MAC, "dev", tx_if, "nud", "permanent")
    ns_ip(rx, "neigh", "replace", SENDER_IP, "lladdr", tx_mac, "dev", owner, "nud", "permanent")


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
            raise HostError("the changed-mac lab could not resolve the receiver by ARP", "run `netdrop lab down`")
        time.sleep(0.01)
    ip("-n", RX_NS, "link", "set", RX_IF, "address", RX_MAC)


def _build_macvlan(rx=None) -> None:
    """A macvlan child (down) of the receiver's interface that has the wrong MAC; `rx`: see in_ns."""
    ns_ip(rx or RX_NS, "link", "add", "link", RX_IF, "name", "mv0", "address", WRONG_MAC, "type", "macvlan",
          "mode", "bridge")


VXLAN_IF, VXLAN_ID, VXLAN_NET = "vx0", 42, "10.201.0"


def build_vxlan(rx, tx) -> None:
    """Over a pair build_pair() made: a VXLAN tunnel (id 42) between the two ends' primary addresses, with
    10.201.0.2 on the receiver's vx0 and the sender's static neighbour entry for it pointing at WRONG_MAC."""
    for ns, local, remote, addr in ((rx, PRIMARY_IP, SENDER_IP, 2), (tx, SENDER_IP, PRIMARY_IP, 1)):
        dev = RX_IF if ns == rx else TX_IF
        ns_ip(ns, "link", "add", VXLAN_IF, "type", "vxlan", "id", str(VXLAN_ID), "local", local, "remote", remote,
              "dstport", "4789", "dev", dev)
        ns_ip(ns, "addr", "add", f"{VXLAN_NET}.{addr}/24", "dev", VXLAN_IF)
        ns_ip(ns, "link", "set", VXLAN_IF, "up")
    ns_ip(tx, "neigh", "replace", f"{VXLAN_NET}.2", "lladdr", WRONG_MAC, "dev", VXLAN_IF, "nud", "permanent")


def _build_macvlan_netns() -> None:
    ip("netns", "add", MV_NS)
    set_sysctls(MV_NS, BASELINE_SYSCTLS)
    ip("-n", RX_NS, "link", "add", "link", RX_IF, "name", "mv1", "address", WRONG_MAC, "type", "macvlan",
        "mode", "bridge")
    ip("-n", RX_NS, "link", "set", "mv1", "netns", MV_NS)
    ip("-n", MV_NS, "addr", "add", f"{MV_IP}/{PREFIXLEN}", "dev", "mv1")
    ip("-n", MV_NS, "link", "set", "mv1", "up")


def _build_rp_filter() -> None:
    _sysctl(RX_NS, "net.ipv4.conf.all.rp_filter", "1")
    _sysctl(RX_NS, f"net.ipv4.conf.{RX_IF}.rp_filter", "1")
    ip("-n", TX_NS, "addr", "add", f"{SPOOF_SRC}/32", "dev", TX_IF)


def _build_not_local() -> None:
    ip("-n", TX_NS, "neigh", "replace", NOT_LOCAL_IP, "lladdr", RX_MAC, "dev", TX_IF, "nud", "permanent")


def _build_forwarding() -> None:
    """The receiver forwards; an on-link address nobody has fails ARP quickly (one probe, 100 ms) so the drop
    falls inside a short diagnose window."""
    set_sysctls(RX_NS, {"net/ipv4/ip_forward": "1", f"net/ipv4/neigh/{RX_IF}/mcast_solicit": "1",
                        f"net/ipv4/neigh/{RX_IF}/app_solicit": "0", f"net/ipv4/neigh/{RX_IF}/retrans_time_ms": "100"})
    ip("-n", TX_NS, "route", "add", NO_ROUTE_NET, "via", PRIMARY_IP)


def _build_netfilter() -> None:
    table = PREFIX.replace("-", "_") + "filter"  # nft names take no dashes
    rules = (f"add table inet {table}\n"
             f"add chain inet {table} input {{ type filter hook input priority 0; }}\n"
             f"add rule inet {table} input udp dport {NF_PORT} counter drop\n")
    r = subprocess.run(["ip", "netns", "exec", RX_NS, "nft", "-f", "-"], input=rules, capture_output=True, text=True)
    if r.returncode != 0:
        raise HostError(f"nft failed: {r.stderr.strip() or 'not installed'}", "apt-get install nftables")


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
            raise HostError("the lab's receive sink did not start", "run `netdrop lab down` and retry")
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


EXTRAS = {
    "changed-mac": (_build_changed_mac,),
    "macvlan": (_build_macvlan,),
    "macvlan-netns": (_build_macvlan_netns,),
    "rp-filter": (_build_rp_filter,),
    "not-local": (_build_not_local,),
    "forwarding": (_build_not_local, _build_forwarding),
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
def send(count: int, kind: str = "wrong-mac", interval: float = 0.0, sender=None) -> int:
    from .labtraffic import send as _send
    return _send(count, kind, interval, sender)


def flood(seconds: float) -> int:
    from .labtraffic import flood as _flood
    return _flood(seconds)


def wrong_mac_frame() -> bytes:
    from .labtraffic import wrong_mac_frame as _frame
    return _frame()
