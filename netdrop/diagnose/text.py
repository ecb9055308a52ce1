"""Small text helpers the explainers share."""
from __future__ import annotations

import ipaddress
from typing import Optional

from ..model import InterfaceFacts
from ..net.netns import HOST


def ip_cmd(netns: str) -> str:
    """`ip` as it runs in `netns`: `ip -n NAME` for an `ip netns` name, `nsenter -t PID -n ip` for a namespace
    only a process (a container) holds, `nsenter --net=PATH ip` for one only a bind mount holds."""
    if netns == HOST:
        return "ip"
    if getattr(netns, "ip_name", "") or not (getattr(netns, "handle", "") or getattr(netns, "inode", 0)):
        return f"ip -n {getattr(netns, 'ip_name', '') or netns}"
    return f"{exec_prefix(netns)}ip"


def exec_prefix(netns: str) -> str:
    """What runs a command inside `netns` ("" for the host), ending in a space."""
    if netns == HOST:
        return ""
    inode = getattr(netns, "inode", 0)
    if not getattr(netns, "ip_name", "") and not getattr(netns, "handle", "") and inode:
        # netdrop saw no process or mount holding it (it may lack CAP_SYS_PTRACE): the shell looks one up when the
        # fix runs, so that the command still runs as printed
        return f"nsenter -t \"$(lsns -n -t net -o NS,PID | awk '$1 == {inode} {{print $2; exit}}')\" -n "
    if getattr(netns, "ip_name", "") or not getattr(netns, "handle", ""):
        return f"ip netns exec {getattr(netns, 'ip_name', '') or netns} "
    if getattr(netns, "pid", 0):
        return f"nsenter -t {getattr(netns, 'pid')} -n "
    return f"nsenter --net={getattr(netns, 'handle')} "


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def role_of(iface: Optional[InterfaceFacts], ip: Optional[str]) -> str:
    if not iface or not ip:
        return ""
    a = iface.owns(ip)
    if a is None:
        return ""
    if a.family == 6:
        return f"an address of {iface.name}"  # IPv6 has no primary/secondary distinction
    return f"{'secondary' if a.secondary else 'primary'} address of {iface.name}"


def address_kind(iface: Optional[InterfaceFacts], ip: Optional[str]) -> Optional[str]:
    """"primary", "secondary" (IPv4) or "ipv6" for an address of `iface`; None when it has no such address."""
    a = iface.owns(ip) if iface and ip else None
    if a is None:
        return None
    return "ipv6" if a.family == 6 else ("secondary" if a.secondary else "primary")


def hostport(ip: Optional[str], port: Optional[int]) -> str:
    host = ip or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


def counter_text(delta: Optional[int], traced: int, missing: str = "") -> str:
    if delta is None:
        return f"{missing or 'no rx_otherhost_dropped counter'}: the trace is the only evidence"
    if delta == traced:
        return f"rx_otherhost_dropped: +{delta}, matches"
    return f"rx_otherhost_dropped: +{delta} on the interface (all foreign-MAC frames, traced here: {traced})"


def shown(value, why: str = "could not be read here") -> str:
    """A fact for a sentence: its value, or that it could not be read (never Python's "None")."""
    return why if value is None or value == "" else str(value)


def onlink_prefixlen(iface: Optional[InterfaceFacts], ip: str) -> int:
    """The prefix length of `iface`'s subnet that holds `ip` (what `ip addr add` needs), else a host route's."""
    addr = ipaddress.ip_address(ip)
    for a in iface.addresses if iface else ():
        if a.family == addr.version and addr in ipaddress.ip_network(f"{a.ip}/{a.prefixlen}", strict=False):
            return a.prefixlen
    return addr.max_prefixlen


def addr_add_command(netns: str, iface: Optional[InterfaceFacts], ifname: str, ip: str) -> str:
    """`ip addr add` for `ip` on the interface, with the prefix of the subnet it sits in: runs as printed."""
    return f"{ip_cmd(netns)} addr add {ip}/{onlink_prefixlen(iface, ip)} dev {ifname}"


def forwarding_key(ip: Optional[str]) -> str:
    """The sysctl that says whether a namespace forwards this address family."""
    return "net/ipv6/conf/all/forwarding" if ip and ":" in ip else "net/ipv4/ip_forward"
