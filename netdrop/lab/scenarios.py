"""The lab's scenarios: one record each, the registry `lab up`, the CLI's choices, the docs' table and the tests all
read. A record says how the scenario is built, which traffic shows its fault, and which causes `netdrop diagnose`
must find for that traffic (with their exact counts). Adding a scenario is one record here (and its builder)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from ..errors import HostError, UsageError
from ..net import netns
from . import backlog
from .topology import (BASELINE_SYSCTLS, MV_IP, MV_NS, NF_PORT, NO_ROUTE_NET, NOT_LOCAL_IP, OLD_RX_MAC, PREFIX,
                       PREFIXLEN, PRIMARY_IP, PRIMARY_IP6, RX_IF, RX_MAC, RX_NS, SECONDARY_IP, SECONDARY_IP6,
                       SENDER_IP6, SINK_NAME, SINK_PORT, SPOOF_SRC, TX_IF, TX_MAC, TX_NS, VLAN_ID, VLAN_PRIMARY_IP,
                       VLAN_RX_IF, VLAN_SECONDARY_IP, VLAN_SENDER_IP, VLAN_TX_IF, WRONG_MAC, build_macvlan,
                       build_pair, ip, namespaces, require_root, set_sysctls, status, sysctl_in)
from .traffic import send


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: Tuple[Callable[[], None], ...] = ()  # after the base pair
    traffic: Tuple[Tuple[str, int], ...] = (("wrong-mac", 3),)  # (kind, count) that shows the fault
    causes: Tuple[Tuple[str, Optional[int]], ...] = ()  # what diagnose finds for it: (cause, count; None: any > 0)
    netns: str = RX_NS  # where its drops happen
    bridge: bool = False  # the base pair's addresses on a bridge
    needs: str = ""  # the hint its build raises (HostError) on a kernel that lacks what it needs


def _build_changed_mac() -> None:
    """The sender learns vB's MAC by ARP; then vB gets a new MAC and tells nobody (arp_notify is 0)."""
    ip("-n", TX_NS, "neigh", "del", SECONDARY_IP, "dev", TX_IF)
    # keep the learned entry REACHABLE for the whole lab's life, so the test does not race ARP's timers
    sysctl_in(TX_NS, f"net.ipv4.neigh.{TX_IF}.base_reachable_time_ms", "3600000")
    ip("-n", RX_NS, "link", "set", RX_IF, "address", OLD_RX_MAC)
    send(1, "wrong-mac")  # triggers ARP; wait for the kernel's answer (a state, not a sleep guess)
    deadline = time.monotonic() + 5
    while OLD_RX_MAC not in ip("-n", TX_NS, "neigh", "show", SECONDARY_IP, check=False).stdout:
        if time.monotonic() > deadline:
            raise HostError("the changed-mac lab could not resolve the receiver by ARP", "run `netdrop lab down`")
        time.sleep(0.01)
    ip("-n", RX_NS, "link", "set", RX_IF, "address", RX_MAC)


def _build_macvlan_netns() -> None:
    ip("netns", "add", MV_NS)
    set_sysctls(MV_NS, BASELINE_SYSCTLS)
    ip("-n", RX_NS, "link", "add", "link", RX_IF, "name", "mv1", "address", WRONG_MAC, "type", "macvlan",
        "mode", "bridge")
    ip("-n", RX_NS, "link", "set", "mv1", "netns", MV_NS)
    ip("-n", MV_NS, "addr", "add", f"{MV_IP}/{PREFIXLEN}", "dev", "mv1")
    ip("-n", MV_NS, "link", "set", "mv1", "up")


def _build_rp_filter() -> None:
    sysctl_in(RX_NS, "net.ipv4.conf.all.rp_filter", "1")
    sysctl_in(RX_NS, f"net.ipv4.conf.{RX_IF}.rp_filter", "1")
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
    subprocess.Popen(["ip", "netns", "exec", RX_NS, sys.executable, "-m", "netdrop.lab.sink", PRIMARY_IP,
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
        sysctl_in(ns, f"net.ipv6.conf.{dev}.accept_ra", "0")
        sysctl_in(ns, f"net.ipv6.conf.{dev}.disable_ipv6", "0")
        for a in addrs:
            ip("-n", ns, "addr", "add", f"{a}/64", "dev", dev, "nodad")
    ip("-n", TX_NS, "neigh", "replace", SECONDARY_IP6, "lladdr", WRONG_MAC, "dev", TX_IF, "nud", "permanent")
    ip("-n", TX_NS, "neigh", "replace", PRIMARY_IP6, "lladdr", RX_MAC, "dev", TX_IF, "nud", "permanent")
    ip("-n", RX_NS, "neigh", "replace", SENDER_IP6, "lladdr", TX_MAC, "dev", RX_IF, "nud", "permanent")


def _build_ipv6_disabled() -> None:
    """The sender speaks IPv6 to the receiver, whose interface has IPv6 disabled."""
    _build_ipv6()
    sysctl_in(RX_NS, f"net.ipv6.conf.{RX_IF}.disable_ipv6", "1")


VLAN_HINT = "this kernel has no 802.1Q support (CONFIG_VLAN_8021Q, module 8021q)"


def _build_vlan() -> None:
    for ns, lower, name in ((TX_NS, TX_IF, VLAN_TX_IF), (RX_NS, RX_IF, VLAN_RX_IF)):
        r = ip("-n", ns, "link", "add", "link", lower, "name", name, "type", "vlan", "id", str(VLAN_ID), check=False)
        if r.returncode != 0:
            raise HostError(f"could not create the VLAN interface {name}: {r.stderr.strip()}", VLAN_HINT)
        ip("-n", ns, "link", "set", name, "up")
    ip("-n", RX_NS, "addr", "add", f"{VLAN_PRIMARY_IP}/{PREFIXLEN}", "dev", VLAN_RX_IF)
    ip("-n", RX_NS, "addr", "add", f"{VLAN_SECONDARY_IP}/{PREFIXLEN}", "dev", VLAN_RX_IF)
    ip("-n", TX_NS, "addr", "add", f"{VLAN_SENDER_IP}/{PREFIXLEN}", "dev", VLAN_TX_IF)
    ip("-n", TX_NS, "neigh", "replace", VLAN_SECONDARY_IP, "lladdr", WRONG_MAC, "dev", VLAN_TX_IF, "nud", "permanent")
    ip("-n", TX_NS, "neigh", "replace", VLAN_PRIMARY_IP, "lladdr", RX_MAC, "dev", VLAN_TX_IF, "nud", "permanent")


def _scenarios() -> Tuple[Scenario, ...]:
    wrong = (("mac-mismatch", 3),)
    return (
        Scenario("wrong-mac", "the sender's neighbour entry for the receiver's secondary address points at a wrong "
                 "MAC (veth: no MAC filter, every frame reaches the IP layer)", causes=wrong),
        Scenario("bridge", "the same fault, but the receiver's addresses sit on a Linux bridge, which passes "
                 "foreign-MAC frames up to its own IP stack only while it is promiscuous: the NIC filter of the "
                 "original report (nothing reaches IP unless promiscuous)", bridge=True),
        Scenario("changed-mac", "the sender learned the secondary address's MAC by ARP, then the receiver's MAC "
                 "changed: the sender's (dynamic) cache still holds the old one", (_build_changed_mac,),
                 causes=wrong),
        Scenario("macvlan", "the wrong MAC belongs to a macvlan child (down) on the receiver: the sender's static "
                 "entry points at the child instead of the interface that has the address", (build_macvlan,),
                 causes=wrong),
        Scenario("macvlan-netns", "the wrong MAC belongs to a macvlan child of vB that lives in another namespace "
                 "(as a container's would): the macvlan delivers the frames there, where the address is not local",
                 (_build_macvlan_netns,), causes=(("not-local", 3),), netns=MV_NS),
        Scenario("rp-filter", "strict reverse-path filtering on the receiver; `traffic --kind rp-filter` comes "
                 "from 10.99.0.1, an address the receiver has no route back to", (_build_rp_filter,),
                 (("rp-filter", 2),), (("rp-filter", 2),)),
        Scenario("not-local", "the sender sends 10.200.0.9 to the receiver's MAC; the receiver neither has nor "
                 "routes it", (_build_not_local,), (("not-local", 4),), (("not-local", 4),)),
        Scenario("forwarding", "the not-local scenario on a receiver that forwards (net.ipv4.ip_forward=1, as on "
                 "any host running containers): `traffic --kind not-local` to 10.200.0.9 is routed back out of vB "
                 "and dropped when nobody answers ARP (NEIGH_FAILED); `--kind no-route` to 10.202.0.9 finds no route "
                 "(IP_INNOROUTES)", (_build_not_local, _build_forwarding), (("not-local", 4), ("no-route", 3)),
                 (("unresolved-neighbour", 4), ("not-local", 3))),
        Scenario("netfilter", "an nftables rule in the receiver drops UDP to port 7001", (_build_netfilter,),
                 (("netfilter", 5),), (("netfilter-drop", 5),)),
        Scenario("rcvbuf", f"a process in the receiver ({SINK_NAME}) holds a UDP socket on port 7002 with a tiny "
                 "buffer and never reads it", (_build_sink,), (("rcvbuf", 40),), (("rcvbuf-full", None),)),
        Scenario("ipv6", "the wrong-MAC fault for IPv6: the sender's static neighbour entry for fd00:200::3 points "
                 "at the wrong MAC (ip6_rcv_core drops the frames as OTHERHOST)", (_build_ipv6,),
                 (("wrong-mac6", 4), ("closed-port6", 2)), (("mac-mismatch", 4), ("no-socket", 2))),
        Scenario("ipv6-disabled", "the sender sends IPv6 to the receiver, whose vB has IPv6 disabled "
                 "(net.ipv6.conf.vB.disable_ipv6=1): ipv6_rcv drops every packet (IPV6DISABLED)",
                 (_build_ipv6_disabled,), (("closed-port6", 4),), (("ipv6-disabled", 4),)),
        Scenario("vlan", "the wrong-MAC fault on an 802.1Q VLAN: the sender's vA.100 has a static entry pointing "
                 "the receiver's secondary VLAN address (on vB.100) at a wrong MAC", (_build_vlan,), (("vlan", 3),),
                 wrong, needs=VLAN_HINT),
        Scenario("multi", "the wrong MAC plus rp-filter, not-local, netfilter and rcvbuf at once",
                 (_build_rp_filter, _build_not_local, _build_netfilter, _build_sink),
                 (("wrong-mac", 3), ("rp-filter", 2)), (("mac-mismatch", 3), ("rp-filter", 2))),
        Scenario("backlog", "a bridge in the receiver fans each broadcast frame of `traffic --kind backlog` out to 4 "
                 "veth ports while the host-wide net.core.netdev_max_backlog is 2 (for the send only, restored at "
                 "once): one CPU_BACKLOG drop per frame", (backlog.build,), (("backlog", 5),),
                 (("backlog-full", 5),)),
    )


REGISTRY: Dict[str, Scenario] = {s.name: s for s in _scenarios()}
SCENARIOS: Dict[str, str] = {s.name: s.description for s in REGISTRY.values()}  # name -> description


def down() -> List[str]:
    """Remove every lab namespace (and the lab's processes in them), whatever state a crash left."""
    require_root()
    backlog.restore()  # a netdev_max_backlog a killed `traffic --kind backlog` left lowered
    removed = []
    for name in namespaces():
        for pid in ip("netns", "pids", name, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)  # the lab's own processes (the sink)
            except (ProcessLookupError, ValueError):
                pass
        ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


def up(scenario: str = "wrong-mac") -> Dict[str, str]:
    require_root()
    record = REGISTRY.get(scenario)
    if record is None:
        raise UsageError(f"unknown lab scenario {scenario!r}", "scenarios: " + ", ".join(REGISTRY))
    down()
    try:
        for ns in (RX_NS, TX_NS):
            ip("netns", "add", ns)
        build_pair(RX_NS, TX_NS, record.bridge)
        for step in record.build:
            step()
    except BaseException:
        down()
        raise
    return status()
