"""The lab's topology: names and addresses, its namespaces (always PREFIX*), and the pieces scenarios are built
from (the wrong-MAC pair, sysctls, macvlan, VXLAN). Imports no other part of the lab."""
from __future__ import annotations

import os
import subprocess
from typing import Dict, List

from ..errors import HostError, NotFound, PermissionDenied
from ..net import netns

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

SENDER_IP6, PRIMARY_IP6, SECONDARY_IP6 = "fd00:200::1", "fd00:200::2", "fd00:200::3"
SPOOF_SRC = "10.99.0.1"  # rp-filter: configured on the sender, unroutable from the receiver
NOT_LOCAL_IP = "10.200.0.9"
NO_ROUTE_NET, NO_ROUTE_IP = "10.202.0.0/24", "10.202.0.9"  # forwarding: the sender routes it via the receiver
NF_PORT, SINK_PORT = 7001, 7002
SINK_NAME = "ndlab-sink"
OLD_RX_MAC = "02:25:ad:fa:a8:00"  # changed-mac: what vB had before the change
VLAN_ID = 100  # vlan: the wrong-MAC fault on vA.100 -> vB.100
VLAN_TX_IF, VLAN_RX_IF = f"{TX_IF}.{VLAN_ID}", f"{RX_IF}.{VLAN_ID}"
VLAN_SENDER_IP, VLAN_PRIMARY_IP, VLAN_SECONDARY_IP = "10.203.0.1", "10.203.0.2", "10.203.0.3"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise HostError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}", "run `netdrop lab down` and retry")
    return r


def namespaces() -> List[str]:
    return [n for n in netns.named() if n.startswith(PREFIX)]


def require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionDenied("the lab creates network namespaces, which needs root", "run it with sudo")


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


def sysctl_in(ns, key: str, value: str) -> None:
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


def build_macvlan(rx=None) -> None:
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
