"""Small text helpers the explainers share."""
from __future__ import annotations

from typing import Optional

from ..model import InterfaceFacts
from ..net.netns import HOST


def ns_prefix(netns: str) -> str:
    return "" if netns == HOST else f"-n {netns} "


def exec_prefix(netns: str) -> str:
    return "" if netns == HOST else f"ip netns exec {netns} "


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


def counter_text(delta: Optional[int], traced: int) -> str:
    if delta is None:
        return "this kernel has no rx_otherhost_dropped counter (before 5.19): the trace is the only evidence"
    if delta == traced:
        return f"rx_otherhost_dropped: +{delta}, matches"
    return f"rx_otherhost_dropped: +{delta} on the interface (all foreign-MAC frames, traced here: {traced})"
